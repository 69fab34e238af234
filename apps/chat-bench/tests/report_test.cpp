// The report forms: the table lists every cell side by side; CSV and JSON carry every window.
#include "report.hpp"

#include <algorithm>
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

namespace {

// A run of three nodes on PostgreSQL, as the runner reports it.
chat::bench::BenchOptions postgres_options() {
    chat::bench::BenchOptions options;
    options.spawn = true;
    options.store = "postgres";
    options.nodes = 3;
    return options;
}

chat::bench::CellResult postgres_cell() {
    auto c = cell("json", 31234);
    c.store = "postgres";
    c.nodes = 3;
    c.load.server_cpu_us = 30.75;
    c.load.node_cpu_us = {10.25, 10.5, 10.0};
    c.load.pg_cpu_us = 21.5;
    c.load.pg_cpu_load = 0.62;
    return c;
}

}  // namespace

TEST_CASE("the table shows the nodes and PostgreSQL's CPU of a PostgreSQL run") {
    std::ostringstream out;
    chat::bench::print_table(out, postgres_options(), {postgres_cell()});
    const std::string text = out.str();
    INFO(text);
    REQUIRE(text.find("store=postgres nodes=3 postgres=private") != std::string::npos);
    REQUIRE(text.find("30.75") != std::string::npos);
    REQUIRE(text.find("server CPU us/msg per node") != std::string::npos);
    REQUIRE(text.find("10.25/10.50/10.00") != std::string::npos);
    REQUIRE(text.find("PostgreSQL CPU us/msg") != std::string::npos);
    REQUIRE(text.find("21.50") != std::string::npos);
    REQUIRE(text.find("62 %") != std::string::npos);
    REQUIRE(text.find("52.25") != std::string::npos);  // server and PostgreSQL together
}

TEST_CASE("the table of a memory run has no node or PostgreSQL rows") {
    chat::bench::BenchOptions options;
    options.spawn = true;
    std::ostringstream out;
    chat::bench::print_table(out, options, {cell("json", 1000)});
    REQUIRE(out.str().find("nodes=1") != std::string::npos);
    REQUIRE(out.str().find("per node") == std::string::npos);
    REQUIRE(out.str().find("PostgreSQL") == std::string::npos);
}

TEST_CASE("the table never shows the PostgreSQL URL") {
    auto options = postgres_options();
    options.pg_url = "postgresql://bench:secret@127.0.0.1/postgres";
    std::ostringstream table;
    chat::bench::print_table(table, options, {postgres_cell()});
    std::ostringstream json;
    chat::bench::write_json(json, options, {postgres_cell()});
    REQUIRE(table.str().find("postgres=external") != std::string::npos);
    REQUIRE(table.str().find("secret") == std::string::npos);
    REQUIRE(json.str().find("secret") == std::string::npos);
}

TEST_CASE("csv carries the nodes and PostgreSQL's CPU") {
    std::ostringstream out;
    chat::bench::write_csv(out, {postgres_cell(), cell("json", 10)});
    std::istringstream lines(out.str());
    std::string header, postgres, memory;
    std::getline(lines, header);
    std::getline(lines, postgres);
    std::getline(lines, memory);
    REQUIRE(header.rfind("transport,store,nodes,", 0) == 0);
    REQUIRE(header.find(",pg_cpu_us,pg_cpu_load,node_cpu_us") != std::string::npos);
    REQUIRE(postgres.rfind("json,postgres,3,", 0) == 0);
    REQUIRE(postgres.find(",21.500,0.620,10.250;10.500;10.000") != std::string::npos);
    REQUIRE(memory.rfind("json,memory,1,", 0) == 0);
    // As many fields on every line as in the header.
    auto fields = [](const std::string& line) { return std::count(line.begin(), line.end(), ','); };
    REQUIRE(fields(postgres) == fields(header));
    REQUIRE(fields(memory) == fields(header));
}

TEST_CASE("json carries the nodes and PostgreSQL's CPU") {
    std::ostringstream out;
    chat::bench::write_json(out, postgres_options(), {postgres_cell()});
    const std::string text = out.str();
    REQUIRE(text.find("\"nodes\":3") != std::string::npos);
    REQUIRE(text.find("\"postgres\":\"private\"") != std::string::npos);
    REQUIRE(text.find("\"node_cpu_us_per_msg\":[10.250,10.500,10.000]") != std::string::npos);
    REQUIRE(text.find("\"pg_cpu_us_per_msg\":21.500") != std::string::npos);
    REQUIRE(text.find("\"pg_cpu_load\":0.620") != std::string::npos);
}
