// What one chat-bench run is asked to do (flags -> this struct) and what one measured cell
// yields. A cell is one transport under one load; `--transport=both` measures two cells on
// identical settings, side by side.
// Thread use: plain values and pure functions.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace chat::bench {

struct Endpoint {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
};

// With several nodes, pair i's sender talks to node i % N and its receiver to node (i + 1) % N,
// so that for N > 1 every message is stored by one node and pushed by another.
inline unsigned sender_node(unsigned pair, unsigned nodes) noexcept {
    return nodes == 0 ? 0 : pair % nodes;
}
inline unsigned receiver_node(unsigned pair, unsigned nodes) noexcept {
    return nodes == 0 ? 0 : (pair + 1) % nodes;
}

struct BenchOptions {
    std::vector<std::string> transports;       // in the order measured
    bool spawn = false;                        // start chatd ourselves
    std::map<std::string, Endpoint> servers;   // transport -> running server (without spawn)
    pid_t server_pid = 0;                      // a running server's pid, for its CPU and RSS
    std::string chatd_path;                    // --spawn: the binary (found if empty)
    std::string redis_path = "redis-server";   // --spawn: the reference's binary (or PATH name)
    std::string store = "memory";              // --spawn: memory | sqlite | postgres
    std::string pg_url;                        // postgres: a running server (empty: a private one)
    pid_t pg_pid = 0;                          // postgres: that server's postmaster, for its CPU
    std::string pg_bin_dir;                    // postgres: initdb, pg_ctl (empty: Debian's 15)
    unsigned nodes = 1;                        // --spawn: chatd nodes sharing the store
    unsigned server_threads = 0;               // --spawn: chatd --threads (0: its default)
    std::string client = "lib";                // lib: chat::Client; lean: raw JSON Lines
    unsigned pairs = 16;                       // senders, and as many receivers
    unsigned window = 64;                      // sends in flight per sender
    std::size_t size = 64;                     // body bytes (the send timestamp included)
    double duration = 5;                       // measured seconds
    double warmup = 1;                         // seconds before measuring
    double rate = 0;                           // total offered msgs/s (0: closed loop)
    std::size_t idle = 0;                      // idle logged-in clients to add
    std::uint64_t max_messages = 100'000'000;  // the measured window ends at this many
    std::vector<int> server_cpus;              // --pin: chatd's CPUs (empty: not pinned)
    std::vector<int> bench_cpus;               // --pin: our CPUs
    std::vector<int> pg_cpus;                  // --pin: PostgreSQL's (empty: server_cpus)
    bool progress = true;                      // the progress line on stderr
};

// Counts over one measured window.
struct WindowResult {
    double seconds = 0;
    std::uint64_t delivered = 0;    // pushes received in the window
    std::uint64_t sends_ok = 0;     // send replies received in the window
    std::uint64_t send_errors = 0;  // failed sends, whole run
    std::uint64_t skipped = 0;      // open loop: sends not issued (window full)
    double msgs_per_s = 0;
    double offered_per_s = 0;  // open loop only
    // One-way latency (send call -> on_message), microseconds.
    double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
    // Payload bytes per delivered message, at the client's sockets (kernel TCP_INFO counters):
    // send requests, their replies, pushes (and ack replies), acks.
    double up_bytes = 0, reply_bytes = 0, push_bytes = 0, ack_bytes = 0;
    std::optional<double> server_cpu_us;    // server CPU per delivered message, all nodes
    std::optional<double> server_cpu_load;  // server CPU time / wall time, all nodes
    std::vector<double> node_cpu_us;        // per node (several nodes only), in node order
    std::optional<double> pg_cpu_us;        // PostgreSQL's CPU per delivered message
    std::optional<double> pg_cpu_load;      // PostgreSQL's CPU time / wall time
    double client_cpu_us = 0;               // this process's CPU per delivered message
    double client_cpu_load = 0;
};

struct CellResult {
    std::string transport;
    std::string store;
    unsigned nodes = 1;
    std::string client;
    unsigned pairs = 0;
    unsigned window = 0;
    std::size_t size = 0;
    double rate = 0;
    std::size_t idle = 0;
    WindowResult load;  // with the idle clients connected when idle > 0
    std::optional<WindowResult> before_idle;
    std::optional<double> idle_bytes_per_client;  // server RSS growth per idle client
    std::optional<std::uint64_t> server_rss;      // at the end of the load, all nodes
    std::string server_threads;  // chatd's own account of its thread counts (spawned, node 0)
};

// "--transport" into the names measured, in order: a comma-separated list of json, grpc, ws,
// redis, both (json,grpc) and all (every built-in transport: json,grpc,ws), each name once.
// `built_in` says whether chatd has a transport. Returns what is wrong (empty: nothing).
std::string parse_transports(const std::string& text,
                             const std::function<bool(const std::string&)>& built_in,
                             std::vector<std::string>& out);

// "--pin SERVER_CPUS:BENCH_CPUS[:POSTGRES_CPUS]" into `options`; false with `error` set when
// malformed.
bool parse_pin(const std::string& text, BenchOptions& options, std::string& error);

// What is wrong with the store and node settings of `options` (empty: nothing): several nodes
// need --spawn and the postgres store, which they share.
std::string check_store_options(const BenchOptions& options);

}  // namespace chat::bench
