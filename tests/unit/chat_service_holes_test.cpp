// Unit tests of ChatService for races and abuse: a login racing the account's deletion, a message
// stored while its recipient logs in, two deletes at once, fair password hashing, lockouts that
// a stranger cannot impose, guessing through delete_account, and fetch pages bounded in bytes.
// Races are provoked deterministically: a store wrapper runs the competing request at the exact
// point inside the first one where the window is open. Each case runs against both stores.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chat/chat_service.hpp"
#include "chat/memory_store.hpp"
#include "chat/sqlite_store.hpp"

using namespace chat;

namespace {

// A real store with a hook that runs right after chosen calls return: the place a competing
// request is slipped in.
class HookedStore final : public Store {
   public:
    explicit HookedStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}

    std::function<void()> after_find;   // runs once, after the next find_account
    std::function<void()> after_count;  // runs once, after the next count_queued

    Result<AccountRecord> create_account(std::string_view name,
                                         std::string_view password_hash) override {
        return inner_->create_account(name, password_hash);
    }
    Result<std::optional<AccountRecord>> find_account(std::string_view name_lower) override {
        auto r = inner_->find_account(name_lower);
        if (auto hook = std::exchange(after_find, nullptr)) hook();
        return r;
    }
    Result<bool> delete_account(AccountId id) override { return inner_->delete_account(id); }
    void append_message(NewMessage message, AppendDone done) override {
        inner_->append_message(std::move(message), std::move(done));
    }
    Result<FetchResult> fetch(AccountId recipient, std::size_t max) override {
        return inner_->fetch(recipient, max);
    }
    Result<std::uint64_t> ack(AccountId recipient, std::span<const MessageId> ids,
                              std::optional<MessageId> up_to) override {
        return inner_->ack(recipient, ids, up_to);
    }
    Result<std::uint64_t> count_queued(AccountId recipient) override {
        auto r = inner_->count_queued(recipient);
        if (auto hook = std::exchange(after_count, nullptr)) hook();
        return r;
    }
    Result<std::vector<std::string>> list_accounts(
        std::string_view after_lower, std::string_view prefix_lower,
        const std::function<bool(std::string_view name)>& match, std::size_t limit) override {
        return inner_->list_accounts(after_lower, prefix_lower, match, limit);
    }
    Result<MessageId> next_message_id() override { return inner_->next_message_id(); }
    void flush() override { inner_->flush(); }
    // As a store shared by nodes: the count and the highest queued id.
    Result<QueueState> queue_state(AccountId recipient) override {
        auto count = count_queued(recipient);
        if (!count) return count.error();
        auto page = inner_->fetch(recipient, Limits::kMaxFetch);
        if (!page) return page.error();
        const MessageId last = page->messages.empty() ? 0 : page->messages.back().id;
        return QueueState{*count, last};
    }
    // Keeps who hears about other nodes' commits, so a test can report such commits itself.
    void set_events(StoreEvents* events) override { events_ = events; }
    StoreEvents* events() const { return events_; }

   private:
    std::unique_ptr<Store> inner_;
    StoreEvents* events_ = nullptr;
};

class CountingSink final : public Sink {
   public:
    void deliver(const Message&) override { ++messages; }
    void logged_out(LogoutReason) override { ++logouts; }
    std::atomic<int> messages{0};
    std::atomic<int> logouts{0};
};

ServiceConfig fast_config(unsigned hash_threads = 0) {
    ServiceConfig c;
    c.hash_threads = hash_threads;
    c.pwhash_opslimit = 1;
    c.pwhash_memlimit = 8192;
    return c;
}

struct Fixture {
    explicit Fixture(const std::string& kind, ServiceConfig config = fast_config()) {
        std::unique_ptr<Store> inner;
        if (kind == "sqlite") {
            static std::atomic<int> counter{0};
            path = std::filesystem::temp_directory_path() /
                   ("chat_holes_test_" + std::to_string(::getpid()) + "_" +
                    std::to_string(counter++) + ".db");
            inner = std::make_unique<SqliteStore>(SqliteOptions{path.string()});
        } else {
            inner = std::make_unique<MemoryStore>();
        }
        store = std::make_unique<HookedStore>(std::move(inner));
        service = std::make_unique<ChatService>(*store, std::move(config));
    }
    ~Fixture() {
        service.reset();
        store.reset();
        if (!path.empty()) {
            for (const char* suffix : {"", "-wal", "-shm"}) {
                std::error_code ec;
                std::filesystem::remove(path.string() + suffix, ec);
            }
        }
    }
    void create(const std::string& name) {
        REQUIRE(service->create_account_sync(name, "pw-" + name).ok());
    }
    SessionId login(const std::string& name, std::shared_ptr<Sink> sink = nullptr) {
        auto r = service->login_sync(name, "pw-" + name, std::move(sink));
        REQUIRE(r.ok());
        return r->session;
    }

    std::filesystem::path path;
    std::unique_ptr<HookedStore> store;
    std::unique_ptr<ChatService> service;
};

std::string store_kind() { return GENERATE(as<std::string>{}, "memory", "sqlite"); }

template <class T, class Call>
Result<T> wait(Call&& call) {
    std::promise<Result<T>> promise;
    auto future = promise.get_future();
    call([&promise](Result<T> r) { promise.set_value(std::move(r)); });
    return future.get();
}

Result<LoginResult> login_from(ChatService& svc, const std::string& name,
                               const std::string& password, Origin origin) {
    return wait<LoginResult>([&](ChatService::Done<LoginResult> done) {
        svc.login(name, password, nullptr, std::move(done), std::move(origin));
    });
}

}  // namespace

TEST_CASE("a login that read the account before its deletion opens no session") {
    Fixture f(store_kind());
    f.create("alice");
    const SessionId deleter = f.login("alice");
    // The login has looked alice up; before it checks the password and opens its session, the
    // account is deleted.
    f.store->after_find = [&] {
        f.store->after_find = nullptr;
        REQUIRE(f.service->delete_account_sync(deleter, "pw-alice").ok());
    };
    auto sink = std::make_shared<CountingSink>();
    auto late = f.service->login_sync("alice", "pw-alice", sink);
    if (late.ok()) {
        // Had a session been opened, it must have ended with the account.
        CHECK_FALSE(f.service->session_user(late->session).has_value());
        CHECK(sink->logouts.load() == 1);
    } else {
        CHECK(late.code() == Errc::bad_credentials);
    }
    // The name is free again; the new owner's messages are not sent by the old session.
    f.create("alice");
    f.create("bob");
    if (late.ok()) {
        CHECK(f.service->send_sync(late->session, "bob", "hi").code() == Errc::not_logged_in);
    }
    CHECK(f.service->session_count() == 0);
}

TEST_CASE("a message stored while its recipient logs in is counted or pushed") {
    Fixture f(store_kind());
    f.create("alice");
    f.create("bob");
    const SessionId sender = f.login("bob");
    // Right after the login counted alice's queue, bob's message is stored.
    f.store->after_count = [&] { REQUIRE(f.service->send_sync(sender, "alice", "hi").ok()); };
    auto sink = std::make_shared<CountingSink>();
    auto login = f.service->login_sync("alice", "pw-alice", sink);
    REQUIRE(login.ok());
    f.store->flush();
    CHECK(login->unread + static_cast<std::uint64_t>(sink->messages.load()) >= 1);
}

TEST_CASE("of two deletes of one account at once only one succeeds") {
    Fixture f(store_kind());
    f.create("alice");
    const SessionId first = f.login("alice");
    const SessionId second = f.login("alice");
    Result<void> inner = make_error(Errc::internal, "not run");
    // The second delete has found the account when the first one runs to its end.
    f.store->after_find = [&] { inner = f.service->delete_account_sync(first, "pw-alice"); };
    auto outer = f.service->delete_account_sync(second, "pw-alice");
    CHECK(inner.ok());
    REQUIRE_FALSE(outer.ok());
    CHECK(outer.code() == Errc::not_logged_in);
}

TEST_CASE("the deleting session hears logged_out once, after its reply") {
    Fixture f(store_kind());
    f.create("alice");
    auto sink = std::make_shared<CountingSink>();
    const SessionId s = f.login("alice", sink);
    int logouts_at_reply = -1;
    auto r = wait<void>([&](ChatService::Done<void> done) {
        f.service->delete_account(s, "pw-alice", [&, done](Result<void> res) {
            logouts_at_reply = sink->logouts.load();
            done(std::move(res));
        });
    });
    REQUIRE(r.ok());
    CHECK(logouts_at_reply == 0);
    CHECK(sink->logouts.load() == 1);
}

TEST_CASE("wrong guesses from one address do not lock the account for another") {
    ServiceConfig config = fast_config();
    config.login_free_failures = 3;
    config.login_free_failures_per_connection = 0;
    config.login_lockout = std::chrono::seconds(30);
    Fixture f(store_kind(), config);
    f.create("alice");
    for (int i = 0; i < 5; ++i) {
        (void)login_from(*f.service, "alice", "wrong",
                         Origin{"c" + std::to_string(i), "10.0.0.66"});
    }
    // The guesser's address is locked, even with the right password...
    auto guesser = login_from(*f.service, "alice", "pw-alice", Origin{"c9", "10.0.0.66"});
    REQUIRE_FALSE(guesser.ok());
    CHECK(guesser.code() == Errc::rate_limited);
    // ...and the owner, elsewhere, logs in.
    CHECK(login_from(*f.service, "alice", "pw-alice", Origin{"c10", "192.0.2.7"}).ok());
}

TEST_CASE("wrong passwords to delete_account count as guesses") {
    ServiceConfig config = fast_config();
    config.login_free_failures = 3;
    config.login_lockout = std::chrono::seconds(30);
    Fixture f(store_kind(), config);
    f.create("alice");
    const SessionId s = f.login("alice");
    const Origin origin{"c1", "10.0.0.66"};
    auto del = [&](const std::string& password) {
        return wait<void>([&](ChatService::Done<void> done) {
            f.service->delete_account(s, password, std::move(done), origin);
        });
    };
    for (int i = 0; i < 3; ++i) CHECK(del("wrong").code() == Errc::bad_credentials);
    auto locked = del("pw-alice");
    REQUIRE_FALSE(locked.ok());
    CHECK(locked.code() == Errc::rate_limited);
    CHECK(f.service->session_user(s) == "alice");  // nothing deleted
}

// Holds the hashing thread inside its current job (at the store look-up) until released.
struct PoolGate {
    std::promise<void> entered;
    std::promise<void> open;
    void arm(HookedStore& store) {
        store.after_find = [this] {
            entered.set_value();
            open.get_future().wait();
        };
    }
};

TEST_CASE("password checks in flight are limited per connection and per address") {
    ServiceConfig config = fast_config(1);
    config.hash_jobs_per_connection = 2;
    config.hash_jobs_per_address = 3;
    Fixture f("memory", config);
    f.create("alice");
    PoolGate gate;
    gate.arm(*f.store);
    std::atomic<int> busy{0};
    std::atomic<int> completed{0};
    auto attempt = [&](Origin origin) {
        f.service->login(
            "alice", "wrong", nullptr,
            [&](Result<LoginResult> r) {
                if (!r.ok() && r.code() == Errc::server_busy) ++busy;
                ++completed;
            },
            std::move(origin));
    };
    attempt(Origin{"flood", "10.0.0.66"});
    gate.entered.get_future().wait();  // the first check is running and held
    // The same connection asks nine more times: one more is queued, eight refused at once.
    for (int i = 0; i < 9; ++i) attempt(Origin{"flood", "10.0.0.66"});
    CHECK(busy.load() == 8);
    // Another connection from that address gets the address's third place, then it is full.
    attempt(Origin{"flood2", "10.0.0.66"});
    attempt(Origin{"flood3", "10.0.0.66"});
    CHECK(busy.load() == 9);
    // Someone else is not affected.
    attempt(Origin{"other", "192.0.2.7"});
    CHECK(busy.load() == 9);
    gate.open.set_value();
    while (completed.load() < 13) std::this_thread::yield();
}

TEST_CASE("a flood of password checks on one connection does not starve another") {
    ServiceConfig config = fast_config(1);
    config.hash_jobs_per_connection = 0;  // only the serving order is under test
    config.hash_jobs_per_address = 0;
    config.login_free_failures = 0;
    config.login_free_failures_per_connection = 0;
    Fixture f("memory", config);
    f.create("alice");
    PoolGate gate;
    gate.arm(*f.store);
    constexpr int kFlood = 200;
    std::atomic<int> flood_done{0};
    auto flood = [&] {
        f.service->login(
            "alice", "wrong", nullptr, [&](Result<LoginResult>) { ++flood_done; },
            Origin{"flood", "10.0.0.66"});
    };
    flood();
    gate.entered.get_future().wait();
    for (int i = 1; i < kFlood; ++i) flood();
    // The victim's login is served after at most one more job of the flooding connection.
    std::promise<Result<LoginResult>> victim;
    std::atomic<int> flood_at_victim{-1};
    f.service->login(
        "alice", "pw-alice", nullptr,
        [&](Result<LoginResult> r) {
            flood_at_victim = flood_done.load();
            victim.set_value(std::move(r));
        },
        Origin{"victim", "192.0.2.7"});
    gate.open.set_value();
    CHECK(victim.get_future().get().ok());
    CHECK(flood_at_victim.load() <= 2);
    while (flood_done.load() < kFlood) std::this_thread::yield();
}

TEST_CASE("a fetch page is bounded in bytes and remaining counts the rest") {
    ServiceConfig config = fast_config();
    config.limits.max_fetch_bytes = 10000;
    Fixture f(store_kind(), config);
    f.create("alice");
    f.create("bob");
    const SessionId bob = f.login("bob");
    for (int i = 0; i < 10; ++i)
        REQUIRE(f.service->send_sync(bob, "alice", std::string(3000, 'x')).ok());
    const SessionId alice = f.login("alice");
    auto page = f.service->fetch(alice, 0);
    REQUIRE(page.ok());
    CHECK(page->messages.size() == 3);  // 3 x (3000 + names) fit in 10000, a fourth does not
    CHECK(page->remaining == 7);
    // A single message larger than the budget still comes, alone.
    config.limits.max_fetch_bytes = 10;
    Fixture g(store_kind(), config);
    g.create("alice");
    g.create("bob");
    const SessionId bob2 = g.login("bob");
    REQUIRE(g.service->send_sync(bob2, "alice", "hello there").ok());
    REQUIRE(g.service->send_sync(bob2, "alice", "again").ok());
    auto one = g.service->fetch(g.login("alice"), 0);
    REQUIRE(one.ok());
    CHECK(one->messages.size() == 1);
    CHECK(one->remaining == 1);
}

// What another node sharing the store committed reaches this node through StoreEvents. Here the
// test plays the other node: it writes to the store directly and reports it as a shared store
// would.
TEST_CASE("Store events: a message stored elsewhere is pushed to this node's live sessions only",
          "[core][events]") {
    Fixture f(store_kind());
    REQUIRE(f.store->events() != nullptr);
    f.create("alice");
    f.create("bob");
    auto alice = std::make_shared<CountingSink>();
    auto bob = std::make_shared<CountingSink>();
    f.login("alice", alice);
    f.login("bob", bob);
    auto account = f.store->find_account("alice");
    REQUIRE(account.ok());
    REQUIRE(account->has_value());
    const Message m{41, "carol", "alice", "from another node", 1};
    f.store->events()->stored_elsewhere((*account)->id, m);
    CHECK(alice->messages == 1);
    CHECK(bob->messages == 0);
}

TEST_CASE("Store events: an account deleted elsewhere ends its sessions here, for good",
          "[core][events]") {
    Fixture f(store_kind());
    f.create("alice");
    auto first = std::make_shared<CountingSink>();
    auto second = std::make_shared<CountingSink>();
    f.login("alice", first);
    f.login("alice", second);
    auto account = f.store->find_account("alice");
    REQUIRE(account.ok());
    REQUIRE(account->has_value());
    const AccountId id = (*account)->id;
    f.store->events()->deleted_elsewhere(id);
    CHECK(first->logouts == 1);
    CHECK(second->logouts == 1);
    CHECK(f.service->session_count() == 0);
    // No push follows logged_out, and the deleted account opens no session here any more (the
    // store of this test still has the record: another node's delete may not be visible yet).
    f.store->events()->stored_elsewhere(id, Message{42, "carol", "alice", "late", 1});
    CHECK(first->messages == 0);
    CHECK(f.service->login_sync("alice", "pw-alice").code() == Errc::bad_credentials);
}

TEST_CASE("Store events: a resync pushes the live sessions' queues again and ends deleted ones",
          "[core][events]") {
    Fixture f(store_kind());
    f.create("alice");
    f.create("bob");
    f.create("carol");
    auto alice = std::make_shared<CountingSink>();
    auto bob = std::make_shared<CountingSink>();
    f.login("alice", alice);
    f.login("bob", bob);
    auto alice_account = f.store->find_account("alice");
    auto bob_account = f.store->find_account("bob");
    REQUIRE((alice_account.ok() && alice_account->has_value()));
    REQUIRE((bob_account.ok() && bob_account->has_value()));
    // Another node stores a message for alice and deletes bob; both reports are lost.
    std::promise<Result<Message>> stored;
    f.store->append_message(NewMessage{(*alice_account)->id, "carol", "alice", "missed"},
                            [&stored](Result<Message> r) { stored.set_value(std::move(r)); });
    REQUIRE(stored.get_future().get().ok());
    REQUIRE(f.store->delete_account((*bob_account)->id).ok());
    CHECK(alice->messages == 0);
    CHECK(bob->logouts == 0);

    f.store->events()->resync();
    CHECK(alice->messages == 1);
    CHECK(alice->logouts == 0);
    CHECK(bob->logouts == 1);
    CHECK(f.service->session_count() == 1);
}

TEST_CASE("Store events: the service stops listening when it is destroyed", "[core][events]") {
    Fixture f(store_kind());
    REQUIRE(f.store->events() != nullptr);
    f.service.reset();
    CHECK(f.store->events() == nullptr);
}

TEST_CASE("Store events: a late report of a message the login already counted is not pushed",
          "[core][events]") {
    Fixture f(store_kind());
    f.create("bob");
    auto bob_account = f.store->find_account("bob");
    REQUIRE((bob_account.ok() && bob_account->has_value()));
    const AccountId bob = (*bob_account)->id;
    auto append = [&](const std::string& body) {
        std::promise<Result<Message>> stored;
        f.store->append_message(NewMessage{bob, "carol", "bob", body},
                                [&stored](Result<Message> r) { stored.set_value(std::move(r)); });
        auto r = stored.get_future().get();
        REQUIRE(r.ok());
        return *r;
    };
    // Another node commits a message; its report is slow, and bob logs in here meanwhile.
    const Message before = append("before the login");
    auto sink = std::make_shared<CountingSink>();
    auto login = f.service->login_sync("bob", "pw-bob", sink);
    REQUIRE(login.ok());
    CHECK(login->unread == 1);
    // The report arrives: the login's count covered it, so it is not pushed as well (as on one
    // node, where a message stored before a login is never pushed to it).
    f.store->events()->stored_elsewhere(bob, before);
    CHECK(sink->messages == 0);
    // A message committed after the count is pushed.
    const Message after = append("after the login");
    f.store->events()->stored_elsewhere(bob, after);
    CHECK(sink->messages == 1);
}
