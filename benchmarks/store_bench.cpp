// Micro benchmarks of the Store implementations on their own (below ChatService): appends with a
// window of appends in flight (how far SQLite's group commit carries one writer), with NORMAL and
// FULL sync, and the read paths fetch and list_accounts.
// Run: build/release/benchmarks/chat_store_bench
#include <benchmark/benchmark.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "chat/memory_store.hpp"
#include "chat/sqlite_store.hpp"

namespace {

// A store on a fresh database file (removed again on destruction), or a MemoryStore.
class BenchStore {
   public:
    enum class Kind { memory, sqlite_normal, sqlite_full };

    explicit BenchStore(Kind kind) {
        if (kind == Kind::memory) {
            store_ = std::make_unique<chat::MemoryStore>();
            return;
        }
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                ("chat_store_bench_" + std::to_string(rd()) + ".db");
        remove_files();
        chat::SqliteOptions options;
        options.path = path_.string();
        options.sync = kind == Kind::sqlite_full ? chat::SqliteOptions::Sync::full
                                                 : chat::SqliteOptions::Sync::normal;
        store_ = std::make_unique<chat::SqliteStore>(options);
    }
    ~BenchStore() {
        store_.reset();
        if (!path_.empty()) remove_files();
    }
    BenchStore(const BenchStore&) = delete;
    BenchStore& operator=(const BenchStore&) = delete;

    chat::Store& operator*() { return *store_; }
    chat::Store* operator->() { return store_.get(); }

   private:
    void remove_files() {
        std::error_code ec;
        for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path_.string() + s, ec);
    }
    std::filesystem::path path_;
    std::unique_ptr<chat::Store> store_;
};

// Bounds the appends in flight: a sender waits for a slot before each append.
class Window {
   public:
    explicit Window(std::size_t size) : free_(size) {}
    void acquire() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return free_ > 0; });
        --free_;
    }
    void release() {
        {
            std::lock_guard lock(mutex_);
            ++free_;
        }
        cv_.notify_one();
    }

   private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::size_t free_;
};

chat::AccountId make_account(chat::Store& store, const std::string& name) {
    auto r = store.create_account(name, "hash");
    return r.ok() ? r->id : 0;
}

// Args: {store kind, appends in flight}. A window of 1 is one commit per message.
void BM_Append(benchmark::State& state) {
    BenchStore store(static_cast<BenchStore::Kind>(state.range(0)));
    const chat::AccountId bob = make_account(*store, "bob");
    Window window(static_cast<std::size_t>(state.range(1)));
    const std::string body(100, 'x');
    std::size_t failed = 0;
    for (auto _ : state) {
        window.acquire();
        store->append_message(chat::NewMessage{bob, "alice", "bob", body},
                              [&](chat::Result<chat::Message> r) {
                                  if (!r.ok()) ++failed;  // only the writer thread touches it
                                  window.release();
                              });
    }
    store->flush();
    if (failed != 0) state.SkipWithError("append failed");
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Append)
    ->ArgNames({"store", "inflight"})
    ->Args({0, 1})
    ->Args({1, 1})
    ->Args({1, 64})
    ->Args({1, 1024})
    ->Args({2, 1})
    ->Args({2, 64})
    ->Args({2, 1024})
    ->UseRealTime();

// Arg: store kind. The oldest 100 of a queue of 10000.
void BM_Fetch(benchmark::State& state) {
    BenchStore store(static_cast<BenchStore::Kind>(state.range(0)));
    const chat::AccountId bob = make_account(*store, "bob");
    for (int i = 0; i < 10000; ++i) {
        store->append_message(chat::NewMessage{bob, "alice", "bob", std::string(100, 'x')}, {});
    }
    store->flush();
    for (auto _ : state) {
        auto page = store->fetch(bob, 100);
        benchmark::DoNotOptimize(page);
    }
    state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_Fetch)->ArgName("store")->Arg(0)->Arg(1);

// Arg: store kind. One page of 100 names behind a two-letter prefix, out of 10000 accounts.
void BM_ListAccounts(benchmark::State& state) {
    BenchStore store(static_cast<BenchStore::Kind>(state.range(0)));
    char name[16];
    for (int i = 0; i < 10000; ++i) {
        std::snprintf(name, sizeof name, "%c%c%05d", 'a' + i % 26, 'a' + (i / 26) % 26, i);
        make_account(*store, name);
    }
    const auto match = [](std::string_view n) { return n.size() > 2; };
    for (auto _ : state) {
        auto page = store->list_accounts("", "ab", match, 100);
        benchmark::DoNotOptimize(page);
    }
}
BENCHMARK(BM_ListAccounts)->ArgName("store")->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
