// Micro benchmarks of libchatcore: the send path through ChatService with each store (one and
// several sending threads, so SQLite's group commit shows), and glob matching over 100k names.
// Run: build/release/benchmarks/chat_core_bench
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "chat/account_pattern.hpp"
#include "chat/chat_service.hpp"
#include "chat/memory_store.hpp"
#include "chat/sqlite_store.hpp"

namespace {

// One shared world per store kind: a service, a receiver that never acks, and per-thread senders.
struct World {
    explicit World(bool sqlite) {
        if (sqlite) {
            path = std::filesystem::temp_directory_path() / "chat_core_bench.db";
            for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + s);
            store = std::make_unique<chat::SqliteStore>(chat::SqliteOptions{path.string()});
        } else {
            store = std::make_unique<chat::MemoryStore>();
        }
        chat::ServiceConfig config;
        config.hash_threads = 0;
        config.pwhash_opslimit = 1;
        config.pwhash_memlimit = 8192;
        service = std::make_unique<chat::ChatService>(*store, config);
        (void)service->create_account_sync("receiver", "pw");
    }
    ~World() {
        service.reset();
        store.reset();
        if (!path.empty()) {
            for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + s);
        }
    }
    chat::SessionId sender(int index) {
        std::lock_guard lock(mutex);
        const std::string name = "sender" + std::to_string(index);
        (void)service->create_account_sync(name, "pw");
        return service->login_sync(name, "pw").value().session;
    }
    std::filesystem::path path;
    std::unique_ptr<chat::Store> store;
    std::unique_ptr<chat::ChatService> service;
    std::mutex mutex;
};

std::unique_ptr<World> g_world;

void send_loop(benchmark::State& state, bool sqlite) {
    if (state.thread_index() == 0) g_world = std::make_unique<World>(sqlite);
    // Threads start together after setup (Google Benchmark barriers on the first iteration).
    chat::SessionId me = 0;
    const std::string body(64, 'x');
    for (auto _ : state) {
        if (me == 0) {
            state.PauseTiming();
            me = g_world->sender(state.thread_index());
            state.ResumeTiming();
        }
        auto r = g_world->service->send_sync(me, "receiver", body);
        if (!r.ok()) state.SkipWithError("send failed");
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
    if (state.thread_index() == 0) g_world.reset();
}

void BM_SendMemory(benchmark::State& state) { send_loop(state, false); }
void BM_SendSqlite(benchmark::State& state) { send_loop(state, true); }

BENCHMARK(BM_SendMemory)->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK(BM_SendSqlite)->Threads(1)->Threads(4)->Threads(16)->UseRealTime();

void BM_GlobOver100kNames(benchmark::State& state) {
    std::vector<std::string> names;
    names.reserve(100000);
    for (int i = 0; i < 100000; ++i) names.push_back("User_" + std::to_string(i * 7919 % 100000));
    const chat::AccountPattern pattern("*er_1?3*");
    for (auto _ : state) {
        std::size_t hits = 0;
        for (const auto& n : names) hits += pattern.matches(n) ? 1 : 0;
        benchmark::DoNotOptimize(hits);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(names.size()));
}
BENCHMARK(BM_GlobOver100kNames);

}  // namespace

BENCHMARK_MAIN();
