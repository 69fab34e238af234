// Short real runs: chat-bench's runner against a chatd it spawns, for each client and transport,
// and two chatd nodes on a real PostgreSQL server (skipped when chatd has no PostgreSQL store or
// PostgreSQL is not installed). The numbers are not judged, only that every figure was measured.
#include <catch2/catch.hpp>
#include <string>

#include "bench_runner.hpp"
#include "chat/builtin_transports.hpp"
#include "postgres_setup.hpp"
#include "process_stats.hpp"

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

namespace {

// Debian's redis-server in PATH (scripts/setup installs it); empty when absent.
bool have_redis() {
    std::string output;
    return chat::bench::run_program({"redis-server", "--version"}, output) == 0;
}

}  // namespace

TEST_CASE("chat-bench measures Redis pub/sub beside chatd under the same load") {
    if (!have_redis()) {
        WARN("redis-server is not installed (scripts/setup installs it): skipped");
        return;
    }
    auto options = short_run("json", "lean");
    options.transports = {"json", "redis"};
    auto cells = chat::bench::run_bench(options, CHAT_CHATD_PATH);
    REQUIRE(cells.size() == 2);
    check_measured(cells[0]);
    const auto& redis = cells[1];
    REQUIRE(redis.transport == "redis");
    REQUIRE(redis.client == "raw");
    check_measured(redis);
    // Redis relays only: a PUBLISH is answered by a small integer and nothing is acknowledged.
    REQUIRE(redis.load.reply_bytes < 8);
    REQUIRE(redis.load.ack_bytes == 0);
    REQUIRE(redis.load.push_bytes > 48);
}

TEST_CASE("a missing redis-server is a clear error") {
    auto options = short_run("redis", "lean");
    options.redis_path = "/nonexistent/redis-server";
    REQUIRE_THROWS_WITH(chat::bench::run_bench(options, CHAT_CHATD_PATH),
                        Catch::Contains("redis-server did not start") ||
                            Catch::Contains("cannot start /nonexistent/redis-server"));
}

TEST_CASE("chatd is spawned on the server CPUs, so its default thread counts follow them") {
    auto options = short_run("json", "lean");
    options.server_cpus = {0};
    options.bench_cpus = {0};
    auto cells = chat::bench::run_bench(options, CHAT_CHATD_PATH);
    REQUIRE(cells.size() == 1);
    check_measured(cells[0]);
    REQUIRE(cells[0].server_threads.find("cpus=1 ") != std::string::npos);
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

namespace {

// Why a PostgreSQL cell cannot run here; empty when it can.
std::string postgres_missing() {
#ifndef CHAT_BENCH_CHATD_HAS_POSTGRES
    return "chatd is built without the PostgreSQL store";
#else
    if (!chat::bench::pg_server_programs_found()) return "PostgreSQL 15 is not installed";
    return {};
#endif
}

chat::bench::BenchOptions two_nodes(const std::string& client) {
    auto o = short_run("json", client);
    o.store = "postgres";
    o.nodes = 2;
    o.duration = 0.6;
    o.warmup = 0.2;
    return o;
}

void check_two_nodes(const chat::bench::CellResult& cell) {
    check_measured(cell);
    REQUIRE(cell.store == "postgres");
    REQUIRE(cell.nodes == 2);
    // Both nodes worked: one stored each message and the other pushed it.
    REQUIRE(cell.load.node_cpu_us.size() == 2);
    REQUIRE(cell.load.node_cpu_us[0] > 0);
    REQUIRE(cell.load.node_cpu_us[1] > 0);
    REQUIRE(cell.load.node_cpu_us[0] + cell.load.node_cpu_us[1] ==
            Approx(*cell.load.server_cpu_us));
}

// The names of the databases in the server at `url`.
std::string database_names(const std::string& url) {
    std::string output;
    REQUIRE(chat::bench::run_program(
                {"psql", "-X", "-At", "-d", url, "-c", "SELECT datname FROM pg_database"},
                output) == 0);
    return output;
}

}  // namespace

TEST_CASE("chat-bench measures two nodes on a private PostgreSQL server") {
    if (const auto missing = postgres_missing(); !missing.empty()) {
        WARN(missing + ": skipped");
        return;
    }
    auto cells = chat::bench::run_bench(two_nodes("lean"), CHAT_CHATD_PATH);
    REQUIRE(cells.size() == 1);
    check_two_nodes(cells[0]);
    // The private server's postmaster and backends worked too.
    REQUIRE(cells[0].load.pg_cpu_us.has_value());
    REQUIRE(*cells[0].load.pg_cpu_us > 0);
    REQUIRE(cells[0].load.pg_cpu_load.has_value());
}

TEST_CASE("chat-bench measures two nodes on a given PostgreSQL server and drops its database") {
    if (const auto missing = postgres_missing(); !missing.empty()) {
        WARN(missing + ": skipped");
        return;
    }
    chat::bench::PrivatePgServer server;
    auto options = two_nodes("lib");
    options.pg_url = server.url();
    options.pg_pid = server.pid();
    auto cells = chat::bench::run_bench(options, CHAT_CHATD_PATH);
    REQUIRE(cells.size() == 1);
    check_two_nodes(cells[0]);
    REQUIRE(cells[0].load.pg_cpu_us.has_value());
    REQUIRE(database_names(server.url()).find("chatbench_") == std::string::npos);
}
