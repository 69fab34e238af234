// The report forms: the table lists every cell side by side; CSV and JSON carry every window.
#include "report.hpp"

#include <catch2/catch.hpp>
#include <sstream>
#include <string>

namespace {

chat::bench::CellResult cell(const std::string& transport, double rate) {
    chat::bench::CellResult c;
    c.transport = transport;
    c.store = "memory";
    c.client = "lib";
    c.pairs = 2;
    c.window = 4;
    c.size = 64;
    c.load.msgs_per_s = rate;
    c.load.delivered = 1000;
    c.load.server_cpu_us = 3.25;
    c.load.p50_us = 41.5;
    return c;
}

std::size_t count_lines(const std::string& text) {
    std::size_t n = 0;
    for (char c : text) n += c == '\n' ? 1 : 0;
    return n;
}

}  // namespace

TEST_CASE("the table shows the transports side by side") {
    chat::bench::BenchOptions options;
    std::ostringstream out;
    chat::bench::print_table(out, options, {cell("json", 512345), cell("grpc", 45678)});
    const std::string text = out.str();
    REQUIRE(text.find("json") != std::string::npos);
    REQUIRE(text.find("grpc") != std::string::npos);
    REQUIRE(text.find("512 345") != std::string::npos);
    REQUIRE(text.find("45 678") != std::string::npos);
    REQUIRE(text.find("3.25") != std::string::npos);
    REQUIRE(text.find("41.5") != std::string::npos);
}

TEST_CASE("csv has a header and one line per window") {
    auto with_idle = cell("json", 1000);
    with_idle.idle = 10;
    with_idle.before_idle = with_idle.load;
    std::ostringstream out;
    chat::bench::write_csv(out, {with_idle, cell("grpc", 10)});
    REQUIRE(count_lines(out.str()) == 4);
    REQUIRE(out.str().rfind("transport,", 0) == 0);
    REQUIRE(out.str().find("before_idle") != std::string::npos);
}

TEST_CASE("json holds every cell") {
    chat::bench::BenchOptions options;
    std::ostringstream out;
    chat::bench::write_json(out, options, {cell("json", 1000), cell("grpc", 10)});
    const std::string text = out.str();
    REQUIRE(text.find("\"transport\":\"json\"") != std::string::npos);
    REQUIRE(text.find("\"transport\":\"grpc\"") != std::string::npos);
    REQUIRE(text.find("\"server_cpu_us_per_msg\":3.250") != std::string::npos);
    REQUIRE(text.find("\"before_idle\":null") != std::string::npos);
}
