// Short real runs: chat-bench's runner against a chatd it spawns, for each client and transport.
// The numbers are not judged, only that every figure was measured.
#include <catch2/catch.hpp>
#include <string>

#include "bench_runner.hpp"
#include "chat/builtin_transports.hpp"

namespace {

chat::bench::BenchOptions short_run(const std::string& transport, const std::string& client) {
    chat::bench::BenchOptions o;
    o.transports = {transport};
    o.spawn = true;
    o.chatd_path = CHAT_CHATD_PATH;
    o.client = client;
    o.pairs = 2;
    o.window = 4;
    o.size = 48;
    o.duration = 0.5;
    o.warmup = 0.1;
    o.progress = false;
    return o;
}

void check_measured(const chat::bench::CellResult& cell) {
    const auto& w = cell.load;
    REQUIRE(w.delivered > 0);
    REQUIRE(w.send_errors == 0);
    REQUIRE(w.msgs_per_s > 0);
    REQUIRE(w.p50_us > 0);
    REQUIRE(w.p99_us >= w.p50_us);
    REQUIRE(w.max_us >= w.p999_us);
    // Every message crosses the wire at least as its body, going up and coming down.
    REQUIRE(w.up_bytes >= 48);
    REQUIRE(w.push_bytes >= 48);
    REQUIRE(w.reply_bytes > 0);
    REQUIRE(w.server_cpu_us.has_value());
    REQUIRE(cell.server_rss.has_value());
}

}  // namespace

TEST_CASE("chat-bench measures the json transport through chat::Client") {
    auto cells = chat::bench::run_bench(short_run("json", "lib"), CHAT_CHATD_PATH);
    REQUIRE(cells.size() == 1);
    check_measured(cells[0]);
    REQUIRE(cells[0].load.ack_bytes > 0);
}

TEST_CASE("chat-bench measures the json transport through the lean client") {
    auto cells = chat::bench::run_bench(short_run("json", "lean"), CHAT_CHATD_PATH);
    REQUIRE(cells.size() == 1);
    check_measured(cells[0]);
}

TEST_CASE("chat-bench paces an open loop at the offered rate") {
    auto options = short_run("json", "lean");
    options.rate = 2000;
    options.duration = 1.0;
    auto cells = chat::bench::run_bench(options, CHAT_CHATD_PATH);
    REQUIRE(cells.size() == 1);
    check_measured(cells[0]);
    REQUIRE(cells[0].load.msgs_per_s == Approx(2000).epsilon(0.2));
}

TEST_CASE("chat-bench reports memory per idle client") {
    auto options = short_run("json", "lean");
    options.idle = 20;
    auto cells = chat::bench::run_bench(options, CHAT_CHATD_PATH);
    REQUIRE(cells.size() == 1);
    REQUIRE(cells[0].before_idle.has_value());
    REQUIRE(cells[0].idle_bytes_per_client.has_value());
    check_measured(cells[0]);
}

TEST_CASE("chat-bench measures the grpc transport through chat::Client") {
    if (chat::builtin_transports().find("grpc") == nullptr) {
        WARN("gRPC is not built: skipped");
        return;
    }
    auto cells = chat::bench::run_bench(short_run("grpc", "lib"), CHAT_CHATD_PATH);
    REQUIRE(cells.size() == 1);
    check_measured(cells[0]);
}

TEST_CASE("chat-bench reports memory per idle grpc client") {
    if (chat::builtin_transports().find("grpc") == nullptr) {
        WARN("gRPC is not built: skipped");
        return;
    }
    auto options = short_run("grpc", "lib");
    options.idle = 20;
    auto cells = chat::bench::run_bench(options, CHAT_CHATD_PATH);
    REQUIRE(cells.size() == 1);
    REQUIRE(cells[0].before_idle.has_value());
    REQUIRE(cells[0].idle_bytes_per_client.has_value());
    check_measured(cells[0]);
}
