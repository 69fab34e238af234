// chat-bench's settings: the pair-to-node assignment, --pin, the store and node checks (also as
// the real binary parses its command line), the database URLs and the CPU of a process tree.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "bench_options.hpp"
#include "load.hpp"
#include "postgres_setup.hpp"
#include "process_stats.hpp"

using namespace chat::bench;

TEST_CASE("with several nodes every pair's message crosses from one node to another") {
    for (unsigned nodes = 2; nodes <= 5; ++nodes) {
        std::vector<unsigned> senders(nodes, 0);
        std::vector<unsigned> receivers(nodes, 0);
        for (unsigned pair = 0; pair < 4 * nodes; ++pair) {
            const unsigned from = sender_node(pair, nodes);
            const unsigned to = receiver_node(pair, nodes);
            REQUIRE(from < nodes);
            REQUIRE(to < nodes);
            REQUIRE(from != to);
            ++senders[from];
            ++receivers[to];
        }
        // Spread evenly: each node serves as many senders and receivers as any other.
        for (unsigned node = 0; node < nodes; ++node) {
            REQUIRE(senders[node] == 4);
            REQUIRE(receivers[node] == 4);
        }
    }
}

TEST_CASE("with one node every pair talks to it") {
    for (unsigned pair = 0; pair < 8; ++pair) {
        REQUIRE(sender_node(pair, 1) == 0);
        REQUIRE(receiver_node(pair, 1) == 0);
    }
}

TEST_CASE("a load target hands out the nodes' endpoints by pair") {
    LoadTarget target;
    for (std::uint16_t port : {1001, 1002, 1003}) {
        Endpoint endpoint;
        endpoint.port = port;
        target.nodes.push_back(endpoint);
    }
    REQUIRE(target.sender_endpoint(0).port == 1001);
    REQUIRE(target.receiver_endpoint(0).port == 1002);
    REQUIRE(target.sender_endpoint(2).port == 1003);
    REQUIRE(target.receiver_endpoint(2).port == 1001);
    REQUIRE(target.sender_endpoint(4).port == 1002);
}

TEST_CASE("the pin option takes the CPUs of the server and chat-bench and optionally PostgreSQL") {
    BenchOptions o;
    std::string error;
    REQUIRE(parse_pin("0:1", o, error));
    REQUIRE(o.server_cpus == std::vector<int>{0});
    REQUIRE(o.bench_cpus == std::vector<int>{1});
    REQUIRE(o.pg_cpus.empty());
    REQUIRE(parse_pin("0-1:2:3,5", o, error));
    REQUIRE(o.server_cpus == std::vector<int>{0, 1});
    REQUIRE(o.pg_cpus == std::vector<int>{3, 5});
    for (const char* bad : {"0", "0:1:2:3", "0::1", "a:1", "0:1:"}) {
        INFO(bad);
        REQUIRE_FALSE(parse_pin(bad, o, error));
        REQUIRE_FALSE(error.empty());
    }
}

TEST_CASE("several nodes need the postgres store and --spawn") {
    BenchOptions o;
    o.spawn = true;
    REQUIRE(check_store_options(o).empty());
    o.nodes = 3;
    REQUIRE(check_store_options(o).find("postgres") != std::string::npos);
    o.store = "sqlite";
    REQUIRE_FALSE(check_store_options(o).empty());
    o.store = "postgres";
    REQUIRE(check_store_options(o).empty());
    o.spawn = false;
    REQUIRE(check_store_options(o).find("--spawn") != std::string::npos);
    o.spawn = true;
    o.pg_pid = 42;
    REQUIRE(check_store_options(o).find("--pg-url") != std::string::npos);
    o.pg_url = "host=/tmp";
    REQUIRE(check_store_options(o).empty());
}

TEST_CASE("chat-bench's command line refuses bad node settings before starting anything") {
    const std::string bench = CHAT_BENCH_PATH;
    struct Case {
        std::vector<std::string> args;
        std::string says;
    };
    const std::vector<Case> cases = {
        {{"--spawn", "--store", "sqlite", "--nodes", "2"}, "needs --store postgres"},
        {{"--spawn", "--store", "postgres", "--nodes", "0"}, "--nodes"},
        {{"--spawn", "--store", "postgres", "--nodes", "17"}, "--nodes"},
        {{"--spawn", "--store", "oracle"}, "--store"},
        {{"--spawn", "--pin", "0:1:x"}, "--pin"},
    };
    for (const auto& c : cases) {
        std::vector<std::string> argv = {bench, "--transport", "json"};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        std::string output;
        const int status = run_program(argv, output);
        INFO(output);
        REQUIRE(status == 2);
        REQUIRE(output.find(c.says) != std::string::npos);
    }
    std::string help;
    REQUIRE(run_program({bench, "--help"}, help) == 0);
    REQUIRE(help.find("--nodes") != std::string::npos);
    REQUIRE(help.find("--pg-url") != std::string::npos);
}

TEST_CASE("a database URL names the cell's database in either form") {
    REQUIRE(pg_url_with_database("postgresql://u:p@h:5432/postgres", "cell") ==
            "postgresql://u:p@h:5432/cell");
    REQUIRE(pg_url_with_database("postgres://h/db?sslmode=disable", "cell") ==
            "postgres://h/cell?sslmode=disable");
    REQUIRE(pg_url_with_database("postgresql://h?host=/tmp", "cell") ==
            "postgresql://h/cell?host=/tmp");
    REQUIRE(pg_url_with_database("postgresql:///?host=/tmp", "cell") ==
            "postgresql:///cell?host=/tmp");
    REQUIRE(pg_url_with_database("postgresql://h", "cell") == "postgresql://h/cell");
    REQUIRE(pg_url_with_database("host=/tmp dbname=postgres", "cell") ==
            "host=/tmp dbname=postgres dbname=cell");
    REQUIRE(pg_url_with_database("", "cell") == "dbname=cell");
}

TEST_CASE("a process tree's CPU counts the children it has reaped") {
    const pid_t self = getpid();
    const auto tree = process_tree(self);
    REQUIRE(!tree.empty());
    REQUIRE(tree.front() == self);
    const auto before = process_tree_cpu_micros(self);
    REQUIRE(before.has_value());

    // A child that spins for 200 ms of wall time (bounded), then is reaped.
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        volatile unsigned long spin = 0;
        while (std::chrono::steady_clock::now() < end) spin = spin + 1;
        _exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(process_cpu_micros(child) == std::nullopt);  // gone

    const auto after = process_tree_cpu_micros(self);
    REQUIRE(after.has_value());
    // Most of those 200 ms were CPU time (clock ticks are 10 ms; the box may be busy).
    REQUIRE(*after >= *before + 50'000);
    REQUIRE(process_tree_cpu_micros(child) == std::nullopt);
}

TEST_CASE("chat-bench's transport list takes names, the two group names and comma lists") {
    const auto everything = [](const std::string&) { return true; };
    const auto no_grpc = [](const std::string& name) { return name != "grpc"; };
    std::vector<std::string> out;
    REQUIRE(parse_transports("json", everything, out).empty());
    REQUIRE(out == std::vector<std::string>{"json"});
    REQUIRE(parse_transports("both", everything, out).empty());
    REQUIRE(out == std::vector<std::string>{"json", "grpc"});
    REQUIRE(parse_transports("all,redis", everything, out).empty());
    REQUIRE(out == std::vector<std::string>{"json", "grpc", "ws", "redis"});
    REQUIRE(parse_transports("all", no_grpc, out).empty());
    REQUIRE(out == std::vector<std::string>{"json", "ws"});
    REQUIRE(parse_transports("redis,json", no_grpc, out).empty());
    REQUIRE(out == std::vector<std::string>{"redis", "json"});
    // Redis is the reference, not a chatd transport: it needs nothing built in.
    REQUIRE(parse_transports(
                "redis", [](const std::string&) { return false; }, out)
                .empty());

    REQUIRE(parse_transports("grpc", no_grpc, out).find("not built") != std::string::npos);
    REQUIRE(parse_transports("json,both", everything, out).find("twice") != std::string::npos);
    REQUIRE(parse_transports("jsn", everything, out).find("unknown 'jsn'") != std::string::npos);
    REQUIRE(parse_transports("json,", everything, out).find("unknown ''") != std::string::npos);
}
