// The Store contract (store_contract.hpp) run against MemoryStore and SqliteStore, plus what only
// the durable SqliteStore promises (restart, schema version, group commit, concurrent writers).
#include "chat/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "chat/memory_store.hpp"
#include "chat/sqlite_store.hpp"

namespace {

using chat::AccountId;
using chat::Errc;
using chat::Message;
using chat::MessageId;
using chat::Result;
using chat::Store;

// A fresh database path in the temp directory; removes the file and its WAL companions on exit.
class TempDb {
   public:
    TempDb() {
        static std::atomic<unsigned> counter{0};
        std::random_device rd;
        path_ =
            std::filesystem::temp_directory_path() /
            ("chat_store_test_" + std::to_string(rd()) + "_" + std::to_string(counter++) + ".db");
        remove_files();
    }
    ~TempDb() { remove_files(); }
    TempDb(const TempDb&) = delete;
    TempDb& operator=(const TempDb&) = delete;

    std::string path() const { return path_.string(); }
    // Store options for this database (everything else at its default).
    chat::SqliteOptions options() const {
        chat::SqliteOptions options;
        options.path = path();
        return options;
    }

   private:
    void remove_files() {
        std::error_code ec;
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
            std::filesystem::remove(path_.string() + suffix, ec);
        }
    }
    std::filesystem::path path_;
};

struct MemoryFixture {
    std::unique_ptr<Store> make() { return std::make_unique<chat::MemoryStore>(); }
};

struct SqliteFixture {
    TempDb db;
    std::unique_ptr<Store> make() { return std::make_unique<chat::SqliteStore>(db.options()); }
};

}  // namespace

#define CHAT_STORE_CONTRACT_FIXTURES MemoryFixture, SqliteFixture
#include "store_contract.hpp"

// --- SqliteStore only ---

TEST_CASE("sqlite store keeps accounts queues and the id sequence across restarts",
          "[store][sqlite]") {
    TempDb db;
    chat::SqliteOptions options = db.options();

    AccountId alice = 0;
    AccountId bob = 0;
    std::vector<Message> kept;
    MessageId highest = 0;
    {
        chat::SqliteStore store(options);
        alice = make_account(store, "Alice");
        bob = make_account(store, "bob");
        for (int i = 0; i < 4; ++i) {
            auto r = append_sync(store, bob, "Alice", "bob", "keep " + std::to_string(i));
            REQUIRE(r.ok());
            kept.push_back(*r);
            highest = r->id;
        }
        for (int i = 0; i < 6; ++i) {
            auto r = append_sync(store, alice, "bob", "Alice", "gone");
            REQUIRE(r.ok());
            highest = r->id;
        }
        // Everything with the highest ids leaves the queues: a max(id) sequence would reuse them.
        REQUIRE(*store.ack(alice, {}, highest) == 6);
    }
    {
        chat::SqliteStore store(options);
        auto found = store.find_account("alice");
        REQUIRE(found.ok());
        REQUIRE(found->has_value());
        CHECK((*found)->id == alice);
        CHECK((*found)->name == "Alice");
        CHECK((*found)->password_hash == "hash-of-Alice");

        auto queue = store.fetch(bob, 100);
        REQUIRE(queue.ok());
        CHECK(queue->messages == kept);
        CHECK(*store.count_queued(alice) == 0);

        CHECK(*store.next_message_id() > highest);
        auto next = append_sync(store, alice, "bob", "Alice", "after restart");
        REQUIRE(next.ok());
        CHECK(next->id > highest);
        highest = next->id;

        // Ack everything, delete an account: ids still never go back.
        REQUIRE(*store.ack(alice, {}, highest) == 1);
        REQUIRE(*store.ack(bob, {}, highest) == 4);
        REQUIRE(*store.delete_account(alice));
    }
    {
        chat::SqliteStore store(options);
        auto r = append_sync(store, bob, "x", "bob", "third run");
        REQUIRE(r.ok());
        CHECK(r->id > highest);
        // A new account never gets a deleted account's id.
        CHECK(make_account(store, "alice") != alice);
    }
}

TEST_CASE("sqlite store with full sync keeps appended messages", "[store][sqlite]") {
    TempDb db;
    chat::SqliteOptions options = db.options();
    options.sync = chat::SqliteOptions::Sync::full;
    MessageId id = 0;
    AccountId bob = 0;
    {
        chat::SqliteStore store(options);
        bob = make_account(store, "bob");
        auto r = append_sync(store, bob, "alice", "bob", "durable");
        REQUIRE(r.ok());
        id = r->id;
    }
    chat::SqliteStore store(options);
    auto queue = store.fetch(bob, 10);
    REQUIRE(queue.ok());
    REQUIRE(queue->messages.size() == 1);
    CHECK(queue->messages[0].id == id);
    CHECK(queue->messages[0].body == "durable");
}

TEST_CASE("sqlite store records its schema version", "[store][sqlite]") {
    TempDb db;
    chat::SqliteOptions options = db.options();
    { chat::SqliteStore store(options); }

    CHECK(chat::SqliteStore::schema_version() >= 1);
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(db.path().c_str(), &raw) == SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw, "SELECT max(version) FROM schema_version", -1, &stmt,
                               nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    CHECK(sqlite3_column_int(stmt, 0) == chat::SqliteStore::schema_version());
    sqlite3_finalize(stmt);

    sqlite3_stmt* mode = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &mode, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(mode) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(mode, 0))) == "wal");
    sqlite3_finalize(mode);

    // A database from a newer build is refused rather than misread.
    const std::string newer = "INSERT INTO schema_version(version, applied_at) VALUES(" +
                              std::to_string(chat::SqliteStore::schema_version() + 1) + ", 0)";
    REQUIRE(sqlite3_exec(raw, newer.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
    CHECK_THROWS_AS(chat::SqliteStore(options), std::runtime_error);

    // Reopening an already migrated file with the same version works (and migrates nothing).
    TempDb db2;
    chat::SqliteOptions options2;
    options2.path = db2.path();
    { chat::SqliteStore store(options2); }
    chat::SqliteStore reopened(options2);
    CHECK(make_account(reopened, "someone") > 0);
}

TEST_CASE("sqlite store open failure throws with the path", "[store][sqlite]") {
    chat::SqliteOptions options;
    options.path =
        (std::filesystem::temp_directory_path() / "chat_no_such_dir_for_test" / "sub" / "x.db")
            .string();
    try {
        chat::SqliteStore store(options);
        FAIL("opening an impossible path succeeded");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find(options.path) != std::string::npos);
    }
}

namespace {

// Holds the writer thread inside the `done` of one append until opened, so that appends made
// meanwhile are all pending together when it takes its next batch. Declare it after the store:
// it opens on destruction, before the store flushes.
class WriterGate {
   public:
    WriterGate(Store& store, AccountId recipient) {
        auto entered = std::make_shared<std::promise<void>>();
        auto entered_future = entered->get_future();
        std::shared_future<void> opened = open_.get_future().share();
        store.append_message(chat::NewMessage{recipient, "gate", "gate", "gate"},
                             [entered, opened](Result<Message>) {
                                 entered->set_value();
                                 opened.wait_for(kWait);
                             });
        REQUIRE(entered_future.wait_for(kWait) == std::future_status::ready);
    }
    ~WriterGate() { open(); }
    WriterGate(const WriterGate&) = delete;
    WriterGate& operator=(const WriterGate&) = delete;

    void open() {
        if (!is_open_) open_.set_value();
        is_open_ = true;
    }

   private:
    std::promise<void> open_;
    bool is_open_ = false;
};

}  // namespace

TEST_CASE("sqlite store commits pending appends in groups", "[store][sqlite]") {
    TempDb db;
    chat::SqliteOptions options = db.options();
    constexpr std::size_t kPending = 100;
    std::size_t batch = kPending;
    SECTION("default batch size takes everything pending") {}
    SECTION("max_batch bounds a group") {
        options.max_batch = 10;
        batch = 10;
    }
    chat::SqliteStore store(options);
    const AccountId bob = make_account(store, "bob");
    const AccountId gate_box = make_account(store, "gatebox");

    std::mutex mutex;
    std::vector<Result<Message>> results;
    std::vector<std::uint64_t> visible;  // bob's committed queue length seen by each callback
    {
        WriterGate gate(store, gate_box);
        for (std::size_t i = 0; i < kPending; ++i) {
            store.append_message(chat::NewMessage{bob, "alice", "bob", std::to_string(i)},
                                 [&](Result<Message> r) {
                                     // Allowed here: the writer holds no lock while calling back.
                                     auto queued = store.count_queued(bob);
                                     std::lock_guard lock(mutex);
                                     visible.push_back(queued.ok() ? *queued : 0);
                                     results.push_back(std::move(r));
                                 });
        }
        gate.open();
        store.flush();
    }

    std::lock_guard lock(mutex);
    REQUIRE(results.size() == kPending);
    for (std::size_t i = 0; i < kPending; ++i) {
        REQUIRE(results[i].ok());
        CHECK(results[i]->body == std::to_string(i));
        if (i > 0) CHECK(results[i]->id == results[i - 1]->id + 1);
        // When a callback runs, its whole group is committed and the next group is not yet.
        CHECK(visible[i] == (i / batch + 1) * batch);
    }
}

TEST_CASE("sqlite store folds an ack made while the writer is busy into its next group commit",
          "[store][sqlite]") {
    TempDb db;
    chat::SqliteStore store(db.options());
    const AccountId bob = make_account(store, "bob");
    const AccountId gate_box = make_account(store, "gatebox");

    std::mutex mutex;
    std::vector<MessageId> appended;
    std::optional<Result<std::uint64_t>> acked;
    std::uint64_t queued_at_ack = 0;
    {
        WriterGate gate(store, gate_box);
        auto first = store.next_message_id();
        REQUIRE(first.ok());
        auto append = [&](int i) {
            store.append_message(chat::NewMessage{bob, "alice", "bob", std::to_string(i)},
                                 [&](Result<Message> m) {
                                     std::lock_guard lock(mutex);
                                     if (m.ok()) appended.push_back(m->id);
                                 });
        };
        for (int i = 0; i < 5; ++i) append(i);
        // The writer is busy (held at the gate): the ack queues after five appends, before one
        // more, and sees exactly the five before it. The gate's own message is already stored.
        store.ack_async(bob, {}, *first + 2, [&](Result<std::uint64_t> r) {
            auto queued = store.count_queued(bob);  // allowed: the writer holds no lock here
            std::lock_guard lock(mutex);
            queued_at_ack = queued.ok() ? *queued : 999;
            acked = std::move(r);
        });
        append(5);
        gate.open();
        store.flush();
    }

    std::lock_guard lock(mutex);
    REQUIRE(appended.size() == 6);
    REQUIRE(acked.has_value());
    REQUIRE(acked->ok());
    CHECK(**acked == 3);  // the first three of the five before it
    // One commit carried all of it: when the ack's callback runs, the sixth append is in.
    CHECK(queued_at_ack == 3);
    auto left = store.fetch(bob, 100);
    REQUIRE(left.ok());
    CHECK(ids_of(left->messages) == std::vector<MessageId>{appended[3], appended[4], appended[5]});
}

TEST_CASE("sqlite store flush waits for queued acks too", "[store][sqlite]") {
    TempDb db;
    chat::SqliteStore store(db.options());
    const AccountId bob = make_account(store, "bob");
    const AccountId gate_box = make_account(store, "gatebox");
    auto m = append_sync(store, bob, "alice", "bob", "x");
    REQUIRE(m.ok());
    std::atomic<bool> done{false};
    {
        WriterGate gate(store, gate_box);
        store.ack_async(bob, {m->id}, std::nullopt, [&](Result<std::uint64_t>) { done = true; });
        CHECK_FALSE(done.load());
        gate.open();
        store.flush();
        CHECK(done.load());
    }
    CHECK(*store.count_queued(bob) == 0);
}

TEST_CASE("sqlite store fails only the appends whose recipient vanished in a group",
          "[store][sqlite]") {
    TempDb db;
    chat::SqliteStore store(db.options());
    const AccountId alice = make_account(store, "alice");
    const AccountId bob = make_account(store, "bob");
    const AccountId gate_box = make_account(store, "gatebox");

    std::mutex mutex;
    std::vector<Result<Message>> results;
    auto record = [&](Result<Message> r) {
        std::lock_guard lock(mutex);
        results.push_back(std::move(r));
    };
    {
        WriterGate gate(store, gate_box);
        store.append_message(chat::NewMessage{alice, "x", "alice", "one"}, record);
        store.append_message(chat::NewMessage{bob, "x", "bob", "lost"}, record);
        store.append_message(chat::NewMessage{alice, "x", "alice", "two"}, record);
        // The recipient goes while its message waits for the writer.
        REQUIRE(*store.delete_account(bob));
        gate.open();
        store.flush();
    }
    std::lock_guard lock(mutex);
    REQUIRE(results.size() == 3);
    REQUIRE(results[0].ok());
    REQUIRE_FALSE(results[1].ok());
    CHECK(results[1].code() == Errc::no_such_user);
    REQUIRE(results[2].ok());
    CHECK(results[2]->id > results[0]->id);
    auto queue = store.fetch(alice, 10);
    REQUIRE(queue.ok());
    CHECK(ids_of(queue->messages) == std::vector<MessageId>{results[0]->id, results[2]->id});
}

TEST_CASE("sqlite store destructor completes pending appends durably", "[store][sqlite]") {
    TempDb db;
    chat::SqliteOptions options = db.options();
    std::atomic<int> done{0};
    AccountId bob = 0;
    {
        chat::SqliteStore store(options);
        bob = make_account(store, "bob");
        for (int i = 0; i < 300; ++i) {
            store.append_message(chat::NewMessage{bob, "alice", "bob", "m"},
                                 [&done](Result<Message> r) {
                                     if (r.ok()) ++done;
                                 });
        }
    }
    CHECK(done.load() == 300);
    chat::SqliteStore reopened(options);
    CHECK(*reopened.count_queued(bob) == 300);
}

TEST_CASE("sqlite store handles concurrent appends and acks", "[store][sqlite]") {
    TempDb db;
    chat::SqliteStore store(db.options());

    constexpr int kSenders = 8;
    constexpr int kPerSender = 500;
    constexpr int kTotal = kSenders * kPerSender;
    constexpr int kRecipients = 4;
    std::vector<AccountId> recipients;
    for (int r = 0; r < kRecipients; ++r) {
        recipients.push_back(make_account(store, "r" + std::to_string(r)));
    }

    std::mutex mutex;
    std::condition_variable all_done;
    int completed = 0;
    int failures = 0;
    std::vector<MessageId> commit_order;  // ids in the order callbacks ran
    std::vector<std::vector<MessageId>> per_sender(kSenders);

    std::vector<std::thread> senders;
    for (int t = 0; t < kSenders; ++t) {
        senders.emplace_back([&, t] {
            const AccountId to = recipients[static_cast<std::size_t>(t % kRecipients)];
            for (int i = 0; i < kPerSender; ++i) {
                store.append_message(
                    chat::NewMessage{to, "s" + std::to_string(t), "r", std::to_string(i)},
                    [&, t](Result<Message> r) {
                        std::lock_guard lock(mutex);
                        if (r.ok()) {
                            commit_order.push_back(r->id);
                            per_sender[static_cast<std::size_t>(t)].push_back(r->id);
                        } else {
                            ++failures;
                        }
                        if (++completed == kTotal) all_done.notify_all();
                    });
            }
        });
    }

    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> acked{0};
    std::atomic<int> ack_errors{0};
    std::vector<std::thread> ackers;
    for (int a = 0; a < 2; ++a) {
        ackers.emplace_back([&, a] {
            const auto deadline = std::chrono::steady_clock::now() + kWait;
            // Until every message has been acked exactly once (or the test gives up).
            for (int round = 0; !stop && acked < static_cast<std::uint64_t>(kTotal) &&
                                std::chrono::steady_clock::now() < deadline;
                 ++round) {
                const AccountId who =
                    recipients[static_cast<std::size_t>((round + a) % kRecipients)];
                auto page = store.fetch(who, 50);
                if (!page.ok()) {
                    ++ack_errors;
                    continue;
                }
                if (page->messages.empty()) {
                    std::this_thread::yield();
                    continue;
                }
                auto ids = ids_of(page->messages);
                auto r = (round % 2 == 0) ? store.ack(who, ids, std::nullopt)
                                          : store.ack(who, {}, ids.back());
                if (r.ok()) {
                    acked += *r;
                } else {
                    ++ack_errors;
                }
            }
        });
    }

    for (auto& t : senders) t.join();
    {
        std::unique_lock lock(mutex);
        if (!all_done.wait_for(lock, kWait, [&] { return completed == kTotal; })) stop = true;
    }
    for (auto& t : ackers) t.join();

    std::lock_guard lock(mutex);
    REQUIRE(completed == kTotal);
    CHECK(failures == 0);
    CHECK(ack_errors.load() == 0);

    std::uint64_t still_queued = 0;
    for (AccountId r : recipients) still_queued += *store.count_queued(r);
    CHECK(acked.load() == static_cast<std::uint64_t>(kTotal));
    CHECK(still_queued == 0);

    REQUIRE(commit_order.size() == static_cast<std::size_t>(kTotal));
    CHECK(std::adjacent_find(commit_order.begin(), commit_order.end(), std::greater_equal<>()) ==
          commit_order.end());
    CHECK(std::set<MessageId>(commit_order.begin(), commit_order.end()).size() ==
          commit_order.size());
    for (const auto& ids : per_sender) {
        CHECK(ids.size() == static_cast<std::size_t>(kPerSender));
        CHECK(std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<>()) == ids.end());
    }
    CHECK(*store.next_message_id() > commit_order.back());
}
