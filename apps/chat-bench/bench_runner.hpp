// The runner: for each transport of a run, brings up the server (or uses the given one): N chatd
// nodes, and with the postgres store a fresh database for them (in a PostgreSQL server started
// once per run unless --pg-url names one); sets up the load, pins the processes, measures the
// window(s) and tears everything down again.
// Thread use: run_bench from one thread; it prints progress to stderr.
#pragma once

#include <string>
#include <vector>

#include "bench_options.hpp"

namespace chat::bench {

// Asks a running run_bench to stop at its next look (a few times a second while measuring): it
// then throws, and what it started (chatd nodes, a database, a PostgreSQL server) is stopped and
// removed on the way out. Async-signal-safe (an atomic store), for SIGINT/SIGTERM handlers.
void request_stop() noexcept;
bool stop_requested() noexcept;

// Measures every transport of `options` in turn. `self_path` (argv[0]) helps find chatd.
// Throws std::runtime_error when a cell cannot run.
std::vector<CellResult> run_bench(const BenchOptions& options, const std::string& self_path);

}  // namespace chat::bench
