// chat-bench: the protocol comparison. Measures the transports side by side under the same load
// (throughput, one-way latency, bytes on the wire, CPU per message, memory per idle client) and
// prints a table, optionally JSON or CSV for plots. See docs/benchmarks.md.
// CLI11 is included here and nowhere else (it is slow to compile).
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "bench_options.hpp"
#include "bench_runner.hpp"
#include "chat/builtin_transports.hpp"
#include "load.hpp"
#include "process_stats.hpp"
#include "report.hpp"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

bool is_loopback(const std::string& host) {
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// "[NAME=]HOST:PORT" (HOST may be [v6]).
bool parse_server(const std::string& text, const std::vector<std::string>& transports,
                  std::map<std::string, chat::bench::Endpoint>& out, std::string& error) {
    std::string name;
    std::string address = text;
    if (auto eq = text.find('='); eq != std::string::npos) {
        name = text.substr(0, eq);
        address = text.substr(eq + 1);
    } else if (transports.size() == 1) {
        name = transports.front();
    } else {
        error = "--server " + text + ": say which transport (json=, grpc=, ws= or redis=HOST:PORT)";
        return false;
    }
    const auto colon = address.rfind(':');
    if (colon == std::string::npos) {
        error = "--server " + text + ": expected HOST:PORT";
        return false;
    }
    chat::bench::Endpoint endpoint;
    endpoint.host = address.substr(0, colon);
    if (endpoint.host.size() > 2 && endpoint.host.front() == '[' && endpoint.host.back() == ']') {
        endpoint.host = endpoint.host.substr(1, endpoint.host.size() - 2);
    }
    try {
        const unsigned long port = std::stoul(address.substr(colon + 1));
        if (port == 0 || port > 65535) throw std::out_of_range("port");
        endpoint.port = static_cast<std::uint16_t>(port);
    } catch (const std::exception&) {
        error = "--server " + text + ": bad port";
        return false;
    }
    if (!is_loopback(endpoint.host)) {
        error = "--server " + text + ": chat-bench measures on loopback only (127.0.0.1, ::1)";
        return false;
    }
    out[name] = endpoint;
    return true;
}

// Room for many idle connections: as many descriptors as the hard limit allows (a spawned chatd
// inherits it).
void raise_fd_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

// Ctrl-C or SIGTERM: stop the run cleanly (a private PostgreSQL server would otherwise be left
// running). A second one ends chat-bench at once (SA_RESETHAND).
void on_stop_signal(int) { chat::bench::request_stop(); }

void install_stop_handlers() {
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    install_stop_handlers();
    CLI::App app{
        "chat-bench: compares chatd's transports under the same load. P senders each keep W "
        "sends in flight (or send at an offered --rate) to P receivers; it reports delivered "
        "messages/s, one-way latency percentiles, bytes on the wire per message, server and "
        "client CPU per message, and server memory per idle client. Loopback only.",
        "chat-bench"};
    chat::bench::BenchOptions o;
    std::string transport = "both";
    std::vector<std::string> servers;
    std::string pin;
    std::string json_path;
    std::string csv_path;
    bool quiet = false;
    app.option_defaults()->always_capture_default();
    app.add_option(
        "--transport", transport,
        "json, grpc, ws, both (json and grpc), all (every one built in), redis (the "
        "reference: Redis pub/sub under the same load; with --spawn it starts redis-server), "
        "or a comma-separated list of these, measured in that order (e.g. json,redis)");
    app.add_flag("--spawn", o.spawn,
                 "Start chatd (next to chat-bench, or --chatd) on ephemeral loopback ports, rate "
                 "limit off; stop it at the end");
    app.add_option(
        "--server", servers,
        "A running server: [json=|grpc=|ws=|redis=]HOST:PORT (repeat for each transport)");
    app.add_option("--server-pid", o.server_pid,
                   "Pid of the running server, to report its CPU and memory");
    app.add_option("--chatd", o.chatd_path, "The chatd binary for --spawn");
    app.add_option("--redis-server", o.redis_path,
                   "The redis-server binary of the redis cells (a path, or a name in PATH). It "
                   "runs on an ephemeral loopback port, in memory only (no snapshots, no AOF), "
                   "one I/O thread, pinned like chatd; --idle does not apply to it");
    app.add_option("--store", o.store, "--spawn: the store of chatd")
        ->check(CLI::IsMember({"memory", "sqlite", "postgres"}));
    app.add_option("--nodes", o.nodes,
                   "--spawn: chatd nodes sharing the store (postgres only). Pair i's sender "
                   "talks to node i % N and its receiver to node (i + 1) % N, so with N > 1 "
                   "every message crosses nodes")
        ->check(CLI::Range(1u, 16u));
    app.add_option("--pg-url", o.pg_url,
                   "--store postgres: a running PostgreSQL server (libpq URI or connection "
                   "string of a database to connect to; the role must be allowed to CREATE "
                   "DATABASE). Each cell gets a fresh database in it, dropped at the end. "
                   "Without it chat-bench starts a private server (initdb, pg_ctl; fsync and "
                   "synchronous_commit on) in a temporary directory and stops it at the end")
        ->envname("CHAT_BENCH_PG_URL");
    app.add_option("--pg-pid", o.pg_pid,
                   "--pg-url: the pid of that server's postmaster, to report PostgreSQL's CPU "
                   "(known by itself for the private server)");
    app.add_option("--pg-bin", o.pg_bin_dir,
                   "The directory of initdb and pg_ctl for the private server (default: "
                   "/usr/lib/postgresql/15/bin)");
    app.add_option("--server-threads", o.server_threads,
                   "--spawn: chatd's I/O threads per transport (0: its default)")
        ->check(CLI::Range(0u, 64u));
    app.add_option("--client", o.client,
                   "lib: chat::Client (same code for every transport); lean: raw JSON Lines on one "
                   "thread (json only), when the library would be the bottleneck")
        ->check(CLI::IsMember({"lib", "lean"}));
    app.add_option("--pairs", o.pairs, "Sender/receiver pairs")->check(CLI::Range(1u, 1024u));
    app.add_option("--window", o.window, "Sends in flight per sender")
        ->check(CLI::Range(1u, 4096u));
    app.add_option("--size", o.size, "Message body bytes (it carries the send timestamp)")
        ->check(CLI::Range(chat::bench::kMinBodySize, std::size_t{16384}));
    app.add_option("--duration", o.duration, "Measured seconds")->check(CLI::Range(0.1, 600.0));
    app.add_option("--warmup", o.warmup, "Seconds of load before measuring")
        ->check(CLI::Range(0.0, 60.0));
    app.add_option("--rate", o.rate,
                   "Open loop: total offered messages/s, spread over the senders (0: closed loop)")
        ->check(CLI::Range(0.0, 10'000'000.0));
    app.add_option("--idle", o.idle,
                   "Idle logged-in clients to open; reports server RSS per idle client and runs "
                   "the load before and with them")
        ->check(CLI::Range(std::size_t{0}, std::size_t{100000}));
    app.add_option("--max-messages", o.max_messages, "The measured window ends at this many")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000'000}));
    app.add_option("--pin", pin,
                   "SERVER_CPUS:BENCH_CPUS[:POSTGRES_CPUS], e.g. 0:1 — pins every thread of the "
                   "server (every node; when its pid is known), of chat-bench and of PostgreSQL "
                   "(its postmaster and backends, when its pid is known; default: the server "
                   "CPUs) for the measured windows");
    app.add_option("--json", json_path, "Also write the results as JSON to this file");
    app.add_option("--csv", csv_path, "Also write the results as CSV to this file");
    app.add_flag("--quiet", quiet, "No progress line on stderr");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return kExitUsage;
    }

    auto usage = [](const std::string& message) {
        std::fprintf(stderr, "chat-bench: %s\n", message.c_str());
        return kExitUsage;
    };
    if (const std::string error = chat::bench::parse_transports(
            transport,
            [](const std::string& name) {
                return chat::builtin_transports().find(name) != nullptr;
            },
            o.transports);
        !error.empty()) {
        return usage(error);
    }
    if (o.spawn == !servers.empty()) return usage("give either --spawn or --server HOST:PORT");
    for (const auto& text : servers) {
        std::string error;
        if (!parse_server(text, o.transports, o.servers, error)) return usage(error);
    }
    for (const auto& name : o.transports) {
        if (!o.spawn && !o.servers.contains(name)) return usage("no --server for " + name);
    }
    if (o.client == "lean") {
        for (const auto& name : o.transports) {
            if (name != "json" && name != "redis") {
                return usage(
                    "--client=lean speaks only JSON: use --transport=json (or json,redis)");
            }
        }
    }
    if (const std::string error = chat::bench::check_store_options(o); !error.empty()) {
        return usage(error);
    }
    if (!pin.empty()) {
        std::string error;
        if (!chat::bench::parse_pin(pin, o, error)) return usage(error);
    }
    o.progress = !quiet;
    raise_fd_limit();

    try {
        const auto cells = chat::bench::run_bench(o, argv[0]);
        chat::bench::print_table(std::cout, o, cells);
        auto write_file = [](const std::string& path, const auto& write) {
            std::ofstream file(path);
            write(file);
            if (file) return true;
            std::fprintf(stderr, "chat-bench: cannot write %s\n", path.c_str());
            return false;
        };
        if (!json_path.empty() && !write_file(json_path, [&](std::ostream& out) {
                chat::bench::write_json(out, o, cells);
            })) {
            return kExitFailure;
        }
        if (!csv_path.empty() &&
            !write_file(csv_path, [&](std::ostream& out) { chat::bench::write_csv(out, cells); })) {
            return kExitFailure;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "\nchat-bench: %s\n", e.what());
        return kExitFailure;
    }
    return 0;
}
