// The runner (see bench_runner.hpp).
#include "bench_runner.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "chat/builtin_transports.hpp"
#include "idle_clients.hpp"
#include "load.hpp"
#include "postgres_setup.hpp"
#include "process_stats.hpp"
#include "redis_server.hpp"
#include "server_process.hpp"

namespace chat::bench {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kTick{200};

std::atomic<bool> g_stop_requested{false};

// Prints the progress line: rewritten in place on a terminal, one line a second otherwise.
class Progress final {
   public:
    explicit Progress(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO) != 0) {}

    void show(const std::string& text) {
        if (!enabled_) return;
        const auto now = Clock::now();
        if (tty_) {
            std::fprintf(stderr, "\r%-100s", text.c_str());
        } else if (now - last_ >= std::chrono::seconds(1)) {
            std::fprintf(stderr, "%s\n", text.c_str());
            last_ = now;
        }
        std::fflush(stderr);
    }
    void done() {
        if (enabled_ && tty_) std::fprintf(stderr, "\n");
    }
    void note(const std::string& text) {
        if (!enabled_) return;
        std::fprintf(stderr, "%s%s\n", tty_ ? "\r" : "", text.c_str());
    }

   private:
    bool enabled_;
    bool tty_;
    Clock::time_point last_{};
};

std::string fixed(double value, int decimals) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string run_prefix(const std::string& transport) {
    std::random_device device;
    const unsigned tag = device() & 0xffffffu;
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "b%06x%c", tag, transport.empty() ? 'x' : transport[0]);
    return buffer;
}

// Where the processes run during the measured windows (and where they may run otherwise): every
// chatd node on the server CPUs, PostgreSQL (the postmaster and its backends, which all exist
// by then: chatd opens its connections at start-up) on its own list or the server's. A
// PostgreSQL server that chat-bench did not start is pinned only when --pin names its CPUs: it
// may serve others.
class Pinning final {
   public:
    Pinning(const BenchOptions& options, std::vector<pid_t> servers, pid_t pg, bool own_pg)
        : options_(options),
          servers_(std::move(servers)),
          pg_(own_pg || !options.pg_cpus.empty() ? pg : 0) {}

    void apply() {
        std::string error;
        if (!options_.server_cpus.empty()) {
            for (pid_t server : servers_) {
                if (!pin_process(server, options_.server_cpus, error)) {
                    throw std::runtime_error("cannot pin the server: " + error);
                }
            }
            const auto& pg_cpus =
                options_.pg_cpus.empty() ? options_.server_cpus : options_.pg_cpus;
            for (pid_t pid : pg_ > 0 ? process_tree(pg_) : std::vector<pid_t>{}) {
                // A backend that ended meanwhile is no error.
                if (!pin_process(pid, pg_cpus, error) && pid == pg_) {
                    throw std::runtime_error("cannot pin PostgreSQL: " + error);
                }
            }
        }
        if (!options_.bench_cpus.empty() && !pin_process(0, options_.bench_cpus, error)) {
            throw std::runtime_error("cannot pin chat-bench: " + error);
        }
    }
    // Password hashing for many idle logins would crawl on one core: let both spread out.
    void release() {
        std::vector<int> all;
        for (unsigned cpu = 0; cpu < std::thread::hardware_concurrency(); ++cpu) {
            all.push_back(static_cast<int>(cpu));
        }
        std::string error;
        if (!options_.server_cpus.empty()) {
            for (pid_t server : servers_) (void)pin_process(server, all, error);
            for (pid_t pid : pg_ > 0 ? process_tree(pg_) : std::vector<pid_t>{}) {
                (void)pin_process(pid, all, error);
            }
        }
        if (!options_.bench_cpus.empty()) (void)pin_process(0, all, error);
    }

   private:
    const BenchOptions& options_;
    std::vector<pid_t> servers_;
    pid_t pg_;
};

// CPU time of a set of processes, sampled at both ends of a window. Plain numbers rather than
// optionals: GCC 12 misreads optionals here (maybe-uninitialized).
struct CpuSample {
    std::vector<std::uint64_t> servers;  // per node
    bool servers_known = false;          // every node answered (and there is one)
    std::uint64_t pg = 0;
    bool pg_known = false;
};

CpuSample sample_cpu(const std::vector<pid_t>& servers, pid_t pg) {
    CpuSample sample;
    sample.servers_known = !servers.empty();
    for (pid_t server : servers) {
        const auto cpu = process_cpu_micros(server);
        sample.servers_known = sample.servers_known && cpu.has_value();
        sample.servers.push_back(cpu.value_or(0));
    }
    if (pg > 0) {
        const auto cpu = process_tree_cpu_micros(pg);
        sample.pg_known = cpu.has_value();
        sample.pg = cpu.value_or(0);
    }
    return sample;
}

WindowResult measure_window(LoadGenerator& load, const BenchOptions& options,
                            const std::vector<pid_t>& servers, pid_t pg, const std::string& label,
                            Progress& progress) {
    load.set_phase(Phase::warmup);
    load.start();
    const auto started = Clock::now();
    auto delivered_since = [&load](std::uint64_t base) {
        return load.counters().delivered_total - base;
    };
    const std::uint64_t base = load.counters().delivered_total;
    while (seconds_since(started) < options.warmup) {
        std::this_thread::sleep_for(kTick);
        if (stop_requested()) throw std::runtime_error("interrupted");
        progress.show("[" + label + "] warm-up " + fixed(seconds_since(started), 1) + "/" +
                      fixed(options.warmup, 1) + " s, delivered " +
                      std::to_string(delivered_since(base)));
    }

    load.begin_window();
    const LoadCounters before = load.counters();
    const CpuSample cpu_before = sample_cpu(servers, pg);
    const std::uint64_t self_before = self_cpu_micros();
    const auto window_start = Clock::now();
    load.set_phase(Phase::measuring);
    std::uint64_t last_count = 0;
    auto last_time = window_start;
    for (;;) {
        std::this_thread::sleep_for(kTick);
        const double elapsed = seconds_since(window_start);
        const std::uint64_t count = delivered_since(before.delivered_total);
        const double rate = static_cast<double>(count - last_count) /
                            std::chrono::duration<double>(Clock::now() - last_time).count();
        last_count = count;
        last_time = Clock::now();
        const LoadCounters now = load.counters();
        progress.show("[" + label + "] measuring " + fixed(elapsed, 1) + "/" +
                      fixed(options.duration, 1) + " s, delivered " + std::to_string(count) + " (" +
                      fixed(rate / 1000.0, 1) + " k/s), errors " + std::to_string(now.send_errors));
        if (stop_requested()) throw std::runtime_error("interrupted");
        if (elapsed >= options.duration || count >= options.max_messages) break;
        if (now.send_errors > before.send_errors + 1000 ||
            (now.send_errors > 0 && count == 0 && elapsed > 1.0)) {
            break;  // the server is refusing: report what we have
        }
    }
    load.set_phase(Phase::after);
    const double seconds = seconds_since(window_start);
    const LoadCounters after = load.counters();
    const CpuSample cpu_after = sample_cpu(servers, pg);
    const std::uint64_t self_after = self_cpu_micros();
    load.stop();
    progress.done();

    WindowResult r;
    LatencyHistogram latencies;
    r.seconds = seconds;
    r.delivered = load.end_window(latencies);
    r.sends_ok = after.sends_ok_window;
    r.send_errors = after.send_errors;
    r.skipped = after.skipped - before.skipped;
    r.msgs_per_s = static_cast<double>(r.delivered) / seconds;
    if (options.rate > 0) r.offered_per_s = options.rate;
    auto micros = [](std::uint64_t nanos) { return static_cast<double>(nanos) / 1000.0; };
    r.p50_us = micros(latencies.percentile(0.50));
    r.p90_us = micros(latencies.percentile(0.90));
    r.p99_us = micros(latencies.percentile(0.99));
    r.p999_us = micros(latencies.percentile(0.999));
    r.max_us = micros(latencies.max());
    r.mean_us = latencies.mean() / 1000.0;
    if (r.delivered > 0) {
        const auto per = [&r](std::uint64_t bytes) {
            return static_cast<double>(bytes) / static_cast<double>(r.delivered);
        };
        const WireBytes senders = after.senders - before.senders;
        const WireBytes receivers = after.receivers - before.receivers;
        r.up_bytes = per(senders.sent);
        r.reply_bytes = per(senders.received);
        r.push_bytes = per(receivers.received);
        r.ack_bytes = per(receivers.sent);
        if (cpu_before.servers_known && cpu_after.servers_known) {
            std::uint64_t total = 0;
            for (std::size_t node = 0; node < servers.size(); ++node) {
                const std::uint64_t used = cpu_after.servers[node] - cpu_before.servers[node];
                total += used;
                if (servers.size() > 1) r.node_cpu_us.push_back(per(used));
            }
            r.server_cpu_us = per(total);
            r.server_cpu_load = static_cast<double>(total) / (seconds * 1e6);
        }
        if (cpu_before.pg_known && cpu_after.pg_known && cpu_after.pg >= cpu_before.pg) {
            r.pg_cpu_us = per(cpu_after.pg - cpu_before.pg);
            r.pg_cpu_load = static_cast<double>(cpu_after.pg - cpu_before.pg) / (seconds * 1e6);
        }
        r.client_cpu_us = per(self_after - self_before);
    }
    r.client_cpu_load = static_cast<double>(self_after - self_before) / (seconds * 1e6);
    return r;
}

std::vector<std::string> served_transports() {
    std::vector<std::string> names;
    for (const char* name : {"json", "grpc", "ws"}) {
        if (builtin_transports().find(name) != nullptr) names.emplace_back(name);
    }
    return names;
}

// The PostgreSQL server of a run with --store postgres: where to make each cell's database, and
// whose CPU to count.
struct PgTarget {
    std::string server_url;
    pid_t pid = 0;     // the postmaster; 0: unknown (its CPU is not reported)
    bool own = false;  // chat-bench's private server
};

std::optional<std::uint64_t> total_rss(const std::vector<pid_t>& pids) {
    if (pids.empty()) return std::nullopt;
    std::uint64_t total = 0;
    for (pid_t pid : pids) {
        const auto rss = process_rss_bytes(pid);
        if (!rss) return std::nullopt;
        total += *rss;
    }
    return total;
}

CellResult run_cell(const BenchOptions& options, const std::string& transport,
                    const std::string& chatd, const PgTarget* pg, Progress& progress) {
    const bool redis = transport == "redis";
    CellResult cell;
    cell.transport = transport;
    cell.store = redis           ? std::string("none (pub/sub)")
                 : options.spawn ? options.store
                                 : std::string("(running server)");
    cell.nodes = options.spawn && !redis ? options.nodes : 1;
    cell.client = redis ? std::string("raw") : options.client;
    cell.pairs = options.pairs;
    cell.window = options.window;
    cell.size = options.size;
    cell.rate = options.rate;
    cell.idle = options.idle;

    const std::string prefix = run_prefix(transport);
    // Declared before the nodes, so that it is dropped after they stopped.
    std::unique_ptr<PgDatabase> database;
    std::vector<std::unique_ptr<ServerProcess>> nodes;
    LoadTarget target{transport, {}, prefix};
    std::vector<pid_t> pids;
    std::unique_ptr<RedisServer> redis_server;
    if (redis && options.spawn) {
        progress.note("[redis] starting " + options.redis_path);
        redis_server = std::make_unique<RedisServer>(options.redis_path, options.server_cpus);
        Endpoint endpoint;
        endpoint.port = redis_server->port();
        target.nodes.push_back(endpoint);
        pids.push_back(redis_server->pid());
    } else if (options.spawn) {
        SpawnOptions spawn;
        spawn.chatd_path = chatd;
        spawn.transports = served_transports();
        spawn.store = options.store;
        if (options.store == "sqlite") {
            spawn.db_path = (std::filesystem::temp_directory_path() /
                             ("chat-bench-" + std::to_string(getpid()) + "-" + transport + ".db"))
                                .string();
        }
        if (options.store == "postgres") {
            if (pg == nullptr) throw std::runtime_error("no PostgreSQL server for the cell");
            database = std::make_unique<PgDatabase>(pg->server_url, "chatbench_" + prefix);
            spawn.pg_url = database->url();
        }
        spawn.io_threads = options.server_threads;
        spawn.cpus = options.server_cpus;
        spawn.max_connections =
            std::max<std::size_t>(10000, options.idle + 2 * options.pairs + 256);
        // One after the other: the first creates the schema, the others find it.
        for (unsigned node = 0; node < options.nodes; ++node) {
            if (options.nodes > 1) spawn.node_name = "bench-n" + std::to_string(node);
            nodes.push_back(std::make_unique<ServerProcess>(spawn));
            const auto port = nodes.back()->port(transport);
            if (!port) throw std::runtime_error("the spawned chatd does not serve " + transport);
            Endpoint endpoint;
            endpoint.port = *port;
            target.nodes.push_back(endpoint);
            pids.push_back(nodes.back()->pid());
        }
    } else {
        target.nodes.push_back(options.servers.at(transport));
        if (options.server_pid > 0 && !redis) pids.push_back(options.server_pid);
    }
    const pid_t pg_pid = pg != nullptr ? pg->pid : 0;

    auto load = redis                      ? make_redis_load(options, target)
                : options.client == "lean" ? make_lean_json_load(options, target)
                                           : make_client_load(options, target);
    progress.note("[" + transport + "] setting up " + std::to_string(options.pairs) + " pairs" +
                  (nodes.size() > 1 ? " on " + std::to_string(nodes.size()) + " nodes" : "") +
                  " (accounts, logins)");
    load->setup();
    Pinning pinning(options, pids, pg_pid, pg != nullptr && pg->own);
    pinning.apply();

    std::unique_ptr<IdleClients> idle;
    if (options.idle > 0 && !redis) {  // the reference's cell is the load alone
        cell.before_idle = measure_window(*load, options, pids, pg_pid, transport, progress);
        // On the first node: its RSS growth is what they cost.
        idle = make_idle_clients(transport, target.nodes.front(), prefix);
        if (!idle) throw std::runtime_error("no idle clients for " + transport);
        const auto rss_before = total_rss(pids);
        progress.note("[" + transport + "] opening " + std::to_string(options.idle) +
                      " idle clients (one password check each: this takes a while)");
        pinning.release();
        const auto opening = Clock::now();
        idle->open(options.idle);
        pinning.apply();
        progress.note("[" + transport + "] idle clients open after " +
                      fixed(seconds_since(opening), 1) + " s");
        const auto rss_after = total_rss(pids);
        if (rss_before && rss_after) {
            cell.idle_bytes_per_client =
                (static_cast<double>(*rss_after) - static_cast<double>(*rss_before)) /
                static_cast<double>(options.idle);
        }
    }
    cell.load = measure_window(*load, options, pids, pg_pid, transport, progress);
    cell.server_rss = total_rss(pids);
    if (!nodes.empty()) cell.server_threads = nodes.front()->threads();
    load->close();
    if (idle) idle->close();
    if (redis_server) {
        const int status = redis_server->stop();
        if (status != 0) progress.note("[redis] exited with status " + std::to_string(status));
    }
    for (std::size_t node = 0; node < nodes.size(); ++node) {
        const int status = nodes[node]->stop();
        if (status != 0) {
            progress.note("[" + transport + "] chatd" +
                          (nodes.size() > 1 ? " node " + std::to_string(node) : "") +
                          " exited with status " + std::to_string(status));
        }
    }
    pinning.release();
    if (database) {
        std::string error;
        if (!database->drop(error)) {
            progress.note("[" + transport + "] cannot drop " + database->name() + ": " + error);
        }
    }
    return cell;
}

}  // namespace

void request_stop() noexcept { g_stop_requested.store(true); }

bool stop_requested() noexcept { return g_stop_requested.load(); }

std::vector<CellResult> run_bench(const BenchOptions& options, const std::string& self_path) {
    std::string chatd = options.chatd_path;
    if (options.spawn && chatd.empty()) {
        chatd = find_chatd(self_path);
        if (chatd.empty()) {
            throw std::runtime_error("cannot find chatd next to chat-bench; give --chatd PATH");
        }
    }
    Progress progress(options.progress);
    std::unique_ptr<PrivatePgServer> private_pg;
    std::optional<PgTarget> pg;
    if (options.spawn && options.store == "postgres") {
        pg.emplace();
        if (!options.pg_url.empty()) {
            pg->server_url = options.pg_url;
            pg->pid = options.pg_pid;
        } else {
            progress.note("starting a private PostgreSQL server (initdb)");
            private_pg = std::make_unique<PrivatePgServer>(
                options.pg_bin_dir.empty() ? std::string(kDefaultPgBinDir) : options.pg_bin_dir);
            pg->server_url = private_pg->url();
            pg->pid = private_pg->pid();
            pg->own = true;
        }
    }
    std::vector<CellResult> cells;
    for (const auto& transport : options.transports) {
        cells.push_back(run_cell(options, transport, chatd, pg ? &*pg : nullptr, progress));
    }
    return cells;
}

}  // namespace chat::bench
