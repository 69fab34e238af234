// The runner (see bench_runner.hpp).
#include "bench_runner.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <thread>

#include "chat/builtin_transports.hpp"
#include "idle_clients.hpp"
#include "load.hpp"
#include "process_stats.hpp"
#include "server_process.hpp"

namespace chat::bench {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kTick{200};

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

// Where the processes run during the measured windows (and where they may run otherwise).
class Pinning final {
   public:
    Pinning(const BenchOptions& options, pid_t server) : options_(options), server_(server) {}

    void apply() {
        std::string error;
        if (!options_.server_cpus.empty() && server_ > 0 &&
            !pin_process(server_, options_.server_cpus, error)) {
            throw std::runtime_error("cannot pin the server: " + error);
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
        if (!options_.server_cpus.empty() && server_ > 0) (void)pin_process(server_, all, error);
        if (!options_.bench_cpus.empty()) (void)pin_process(0, all, error);
    }

   private:
    const BenchOptions& options_;
    pid_t server_;
};

WindowResult measure_window(LoadGenerator& load, const BenchOptions& options, pid_t server,
                            const std::string& label, Progress& progress) {
    load.set_phase(Phase::warmup);
    load.start();
    const auto started = Clock::now();
    auto delivered_since = [&load](std::uint64_t base) {
        return load.counters().delivered_total - base;
    };
    const std::uint64_t base = load.counters().delivered_total;
    while (seconds_since(started) < options.warmup) {
        std::this_thread::sleep_for(kTick);
        progress.show("[" + label + "] warm-up " + fixed(seconds_since(started), 1) + "/" +
                      fixed(options.warmup, 1) + " s, delivered " +
                      std::to_string(delivered_since(base)));
    }

    load.begin_window();
    const LoadCounters before = load.counters();
    // Plain numbers rather than optionals: GCC 12 misreads optionals here (maybe-uninitialized).
    const auto cpu_before = server > 0 ? process_cpu_micros(server) : std::nullopt;
    const bool server_cpu_known = cpu_before.has_value();
    const std::uint64_t server_cpu_before = cpu_before.value_or(0);
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
        if (elapsed >= options.duration || count >= options.max_messages) break;
        if (now.send_errors > before.send_errors + 1000 ||
            (now.send_errors > 0 && count == 0 && elapsed > 1.0)) {
            break;  // the server is refusing: report what we have
        }
    }
    load.set_phase(Phase::after);
    const double seconds = seconds_since(window_start);
    const LoadCounters after = load.counters();
    const auto cpu_after = server > 0 ? process_cpu_micros(server) : std::nullopt;
    const bool server_cpu_measured = server_cpu_known && cpu_after.has_value();
    const std::uint64_t server_cpu_after = cpu_after.value_or(0);
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
        if (server_cpu_measured) {
            r.server_cpu_us = per(server_cpu_after - server_cpu_before);
            r.server_cpu_load =
                static_cast<double>(server_cpu_after - server_cpu_before) / (seconds * 1e6);
        }
        r.client_cpu_us = per(self_after - self_before);
    }
    r.client_cpu_load = static_cast<double>(self_after - self_before) / (seconds * 1e6);
    return r;
}

std::vector<std::string> served_transports() {
    std::vector<std::string> names;
    for (const char* name : {"json", "grpc"}) {
        if (builtin_transports().find(name) != nullptr) names.emplace_back(name);
    }
    return names;
}

CellResult run_cell(const BenchOptions& options, const std::string& transport,
                    const std::string& chatd, Progress& progress) {
    CellResult cell;
    cell.transport = transport;
    cell.store = options.spawn ? options.store : std::string("(running server)");
    cell.client = options.client;
    cell.pairs = options.pairs;
    cell.window = options.window;
    cell.size = options.size;
    cell.rate = options.rate;
    cell.idle = options.idle;

    std::unique_ptr<ServerProcess> server;
    Endpoint endpoint;
    pid_t pid = options.server_pid;
    if (options.spawn) {
        SpawnOptions spawn;
        spawn.chatd_path = chatd;
        spawn.transports = served_transports();
        spawn.store = options.store;
        if (options.store == "sqlite") {
            spawn.db_path = (std::filesystem::temp_directory_path() /
                             ("chat-bench-" + std::to_string(getpid()) + "-" + transport + ".db"))
                                .string();
        }
        spawn.io_threads = options.server_threads;
        spawn.max_connections =
            std::max<std::size_t>(10000, options.idle + 2 * options.pairs + 256);
        server = std::make_unique<ServerProcess>(spawn);
        const auto port = server->port(transport);
        if (!port) throw std::runtime_error("the spawned chatd does not serve " + transport);
        endpoint.port = *port;
        pid = server->pid();
    } else {
        endpoint = options.servers.at(transport);
    }

    const std::string prefix = run_prefix(transport);
    LoadTarget target{transport, endpoint, prefix};
    auto load = options.client == "lean" ? make_lean_json_load(options, target)
                                         : make_client_load(options, target);
    progress.note("[" + transport + "] setting up " + std::to_string(options.pairs) +
                  " pairs (accounts, logins)");
    load->setup();
    Pinning pinning(options, pid);
    pinning.apply();

    std::unique_ptr<IdleClients> idle;
    if (options.idle > 0) {
        cell.before_idle = measure_window(*load, options, pid, transport, progress);
        idle = make_idle_clients(transport, endpoint, prefix);
        if (!idle) throw std::runtime_error("no idle clients for " + transport);
        const auto rss_before = pid > 0 ? process_rss_bytes(pid) : std::nullopt;
        progress.note("[" + transport + "] opening " + std::to_string(options.idle) +
                      " idle clients (one password check each: this takes a while)");
        pinning.release();
        const auto opening = Clock::now();
        idle->open(options.idle);
        pinning.apply();
        progress.note("[" + transport + "] idle clients open after " +
                      fixed(seconds_since(opening), 1) + " s");
        const auto rss_after = pid > 0 ? process_rss_bytes(pid) : std::nullopt;
        if (rss_before && rss_after) {
            cell.idle_bytes_per_client =
                (static_cast<double>(*rss_after) - static_cast<double>(*rss_before)) /
                static_cast<double>(options.idle);
        }
    }
    cell.load = measure_window(*load, options, pid, transport, progress);
    if (pid > 0) {
        if (auto rss = process_rss_bytes(pid)) cell.server_rss = *rss;
    }
    load->close();
    if (idle) idle->close();
    if (server) {
        const int status = server->stop();
        if (status != 0) {
            progress.note("[" + transport + "] chatd exited with status " + std::to_string(status));
        }
    }
    return cell;
}

}  // namespace

std::vector<CellResult> run_bench(const BenchOptions& options, const std::string& self_path) {
    std::string chatd = options.chatd_path;
    if (options.spawn && chatd.empty()) {
        chatd = find_chatd(self_path);
        if (chatd.empty()) {
            throw std::runtime_error("cannot find chatd next to chat-bench; give --chatd PATH");
        }
    }
    Progress progress(options.progress);
    std::vector<CellResult> cells;
    for (const auto& transport : options.transports) {
        cells.push_back(run_cell(options, transport, chatd, progress));
    }
    return cells;
}

}  // namespace chat::bench
