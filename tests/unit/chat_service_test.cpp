// Unit tests of ChatService: every domain rule of docs/protocol.md, sessions and pushes, run
// against both stores (each TEST_CASE runs once with MemoryStore and once with SqliteStore).
#include "chat/chat_service.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chat/memory_store.hpp"
#include "chat/sqlite_store.hpp"

using namespace chat;

namespace {

// Records what the core pushes, in order.
class RecordingSink final : public Sink {
   public:
    void deliver(const Message& m) override {
        std::lock_guard lock(mutex_);
        events_.push_back("message:" + std::to_string(m.id));
        messages_.push_back(m);
        cv_.notify_all();
    }
    void logged_out(LogoutReason r) override {
        std::lock_guard lock(mutex_);
        events_.push_back(std::string("logged_out:") + to_string(r));
        cv_.notify_all();
    }
    // Waits until at least `n` events arrived; false on timeout.
    bool wait_events(std::size_t n) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return events_.size() >= n; });
    }
    std::vector<Message> messages() const {
        std::lock_guard lock(mutex_);
        return messages_;
    }
    std::vector<std::string> events() const {
        std::lock_guard lock(mutex_);
        return events_;
    }

   private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<Message> messages_;
    std::vector<std::string> events_;
};

std::filesystem::path temp_db(const std::string& tag) {
    static std::atomic<int> counter{0};
    auto p = std::filesystem::temp_directory_path() /
             ("chat_service_test_" + std::to_string(::getpid()) + "_" + tag + "_" +
              std::to_string(counter++) + ".db");
    return p;
}

void remove_db(const std::filesystem::path& p) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::error_code ec;
        std::filesystem::remove(p.string() + suffix, ec);
    }
}

ServiceConfig fast_config(unsigned hash_threads = 1) {
    ServiceConfig c;
    c.hash_threads = hash_threads;
    c.pwhash_opslimit = 1;     // crypto_pwhash_OPSLIMIT_MIN: tests need speed, not strength
    c.pwhash_memlimit = 8192;  // crypto_pwhash_MEMLIMIT_MIN
    return c;
}

// A store of the generated kind plus a service on it.
struct Fixture {
    explicit Fixture(const std::string& kind, ServiceConfig config = fast_config()) {
        if (kind == "sqlite") {
            path = temp_db("svc");
            store = std::make_unique<SqliteStore>(SqliteOptions{path.string()});
        } else {
            store = std::make_unique<MemoryStore>();
        }
        service = std::make_unique<ChatService>(*store, std::move(config));
    }
    ~Fixture() {
        service.reset();
        store.reset();
        if (!path.empty()) remove_db(path);
    }

    SessionId login(const std::string& name, std::shared_ptr<Sink> sink = nullptr) {
        auto r = service->login_sync(name, "pw-" + name, std::move(sink));
        REQUIRE(r.ok());
        return r->session;
    }
    void create(const std::string& name) {
        REQUIRE(service->create_account_sync(name, "pw-" + name).ok());
    }

    std::filesystem::path path;
    std::unique_ptr<Store> store;
    std::unique_ptr<ChatService> service;
};

std::string store_kind() { return GENERATE(as<std::string>{}, "memory", "sqlite"); }

}  // namespace

TEST_CASE("hello accepts version 1 and absent version only") {
    MemoryStore store;
    ChatService svc(store, fast_config());
    auto h = svc.hello(0);
    REQUIRE(h.ok());
    CHECK(h->version == 1);
    CHECK(h->server.rfind("chatd/", 0) == 0);
    CHECK(h->max_frame == 64 * 1024);
    CHECK(svc.hello(1).ok());
    CHECK(svc.hello(2).code() == Errc::unsupported_version);
}

TEST_CASE("create_account enforces the username and password rules") {
    Fixture f(store_kind());
    auto& s = *f.service;
    CHECK(s.create_account_sync("", "pw").code() == Errc::invalid_username);
    CHECK(s.create_account_sync(std::string(33, 'a'), "pw").code() == Errc::invalid_username);
    CHECK(s.create_account_sync("bad name", "pw").code() == Errc::invalid_username);
    CHECK(s.create_account_sync("\xC3\xA9mile", "pw").code() == Errc::invalid_username);
    CHECK(s.create_account_sync("a", "").code() == Errc::invalid_password);
    CHECK(s.create_account_sync("a", std::string(257, 'p')).code() == Errc::invalid_password);
    CHECK(s.create_account_sync("a", "bad\xFF").code() == Errc::invalid_password);
    CHECK(s.create_account_sync("a", std::string(256, 'p')).ok());
    CHECK(s.create_account_sync(std::string(32, 'b'), "pw").ok());
}

TEST_CASE("usernames are unique case-insensitively and keep their first spelling") {
    Fixture f(store_kind());
    f.create("Alice");
    CHECK(f.service->create_account_sync("alice", "x").code() == Errc::user_exists);
    CHECK(f.service->create_account_sync("ALICE", "x").code() == Errc::user_exists);
    auto r = f.service->login_sync("aLiCe", "pw-Alice");
    REQUIRE(r.ok());
    CHECK(r->username == "Alice");
}

TEST_CASE("login refuses bad credentials with one code") {
    Fixture f(store_kind());
    f.create("bob");
    auto& s = *f.service;
    CHECK(s.login_sync("bob", "wrong").code() == Errc::bad_credentials);
    CHECK(s.login_sync("bob", "").code() == Errc::bad_credentials);
    CHECK(s.login_sync("nobody", "pw").code() == Errc::bad_credentials);
    CHECK(s.login_sync("not a name!", "pw").code() == Errc::bad_credentials);
    CHECK(s.login_sync("bob", "pw-bob").ok());
}

TEST_CASE("operations on an unknown session answer not_logged_in") {
    Fixture f(store_kind());
    auto& s = *f.service;
    const SessionId bogus = 4242;
    CHECK(s.logout(bogus).code() == Errc::not_logged_in);
    CHECK(s.send_sync(bogus, "x", "hi").code() == Errc::not_logged_in);
    CHECK(s.fetch(bogus, 0).code() == Errc::not_logged_in);
    CHECK(s.ack(bogus, {}, MessageId{5}).code() == Errc::not_logged_in);
    CHECK(s.list_accounts(bogus, "", 0, "").code() == Errc::not_logged_in);
    CHECK(s.delete_account_sync(bogus, "pw").code() == Errc::not_logged_in);
    CHECK_FALSE(s.session_user(bogus).has_value());
}

TEST_CASE("logout ends the session") {
    Fixture f(store_kind());
    f.create("carol");
    const SessionId sid = f.login("carol");
    CHECK(f.service->session_user(sid) == "carol");
    CHECK(f.service->logout(sid).ok());
    CHECK(f.service->logout(sid).code() == Errc::not_logged_in);
    CHECK(f.service->fetch(sid, 0).code() == Errc::not_logged_in);
}

TEST_CASE("send validates the body and the recipient") {
    Fixture f(store_kind());
    f.create("alice");
    f.create("Bob");
    const SessionId a = f.login("alice");
    auto& s = *f.service;
    CHECK(s.send_sync(a, "bob", "").code() == Errc::invalid_message);
    CHECK(s.send_sync(a, "bob", std::string(16385, 'x')).code() == Errc::invalid_message);
    CHECK(s.send_sync(a, "bob", "bad\xC3").code() == Errc::invalid_message);
    CHECK(s.send_sync(a, "nobody", "hi").code() == Errc::no_such_user);
    CHECK(s.send_sync(a, "bad name", "hi").code() == Errc::no_such_user);
    auto big = s.send_sync(a, "BOB", std::string(16384, 'x'));
    REQUIRE(big.ok());
    CHECK(big->from == "alice");
    CHECK(big->to == "Bob");
    CHECK(big->body.size() == 16384);
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    CHECK(big->sent_at <= now);
    CHECK(big->sent_at > now - 60000);
    auto self = s.send_sync(a, "alice", "note to self");
    REQUIRE(self.ok());
    CHECK(self->id > big->id);
}

TEST_CASE("a message is pushed to every live session of the recipient") {
    Fixture f(store_kind());
    f.create("alice");
    f.create("bob");
    auto s1 = std::make_shared<RecordingSink>();
    auto s2 = std::make_shared<RecordingSink>();
    auto other = std::make_shared<RecordingSink>();
    const SessionId a = f.login("alice", other);
    f.login("bob", s1);
    f.login("bob", s2);
    auto m = f.service->send_sync(a, "bob", "hello");
    REQUIRE(m.ok());
    REQUIRE(s1->messages().size() == 1);
    REQUIRE(s2->messages().size() == 1);
    CHECK(s1->messages()[0] == *m);
    CHECK(s2->messages()[0] == *m);
    CHECK(other->messages().empty());
}

TEST_CASE("offline messages wait in the queue and login reports them") {
    Fixture f(store_kind());
    f.create("alice");
    f.create("bob");
    const SessionId a = f.login("alice");
    std::vector<MessageId> ids;
    for (int i = 0; i < 150; ++i) {
        auto m = f.service->send_sync(a, "bob", "m" + std::to_string(i));
        REQUIRE(m.ok());
        if (!ids.empty()) CHECK(m->id > ids.back());
        ids.push_back(m->id);
    }
    auto login = f.service->login_sync("bob", "pw-bob");
    REQUIRE(login.ok());
    CHECK(login->unread == 150);
    const SessionId b = login->session;

    auto page = f.service->fetch(b, 0);  // default 100
    REQUIRE(page.ok());
    REQUIRE(page->messages.size() == 100);
    CHECK(page->remaining == 50);
    CHECK(page->messages.front().id == ids.front());
    CHECK(page->messages.front().body == "m0");
    CHECK(page->messages[99].id == ids[99]);

    auto small = f.service->fetch(b, 3);
    REQUIRE(small.ok());
    CHECK(small->messages.size() == 3);
    CHECK(small->remaining == 147);

    auto all = f.service->fetch(b, 5000);  // clamped to 1000: all 150 fit
    REQUIRE(all.ok());
    CHECK(all->messages.size() == 150);
    CHECK(all->remaining == 0);
}

TEST_CASE("fetch returns pushed messages again until they are acked") {
    Fixture f(store_kind());
    f.create("alice");
    f.create("bob");
    auto sink = std::make_shared<RecordingSink>();
    const SessionId a = f.login("alice");
    const SessionId b = f.login("bob", sink);
    auto m1 = f.service->send_sync(a, "bob", "one");
    auto m2 = f.service->send_sync(a, "bob", "two");
    auto m3 = f.service->send_sync(a, "bob", "three");
    REQUIRE((m1.ok() && m2.ok() && m3.ok()));
    CHECK(sink->messages().size() == 3);

    auto again = f.service->fetch(b, 0);
    REQUIRE(again.ok());
    CHECK(again->messages.size() == 3);

    const std::vector<MessageId> ids{m2->id, 999999};
    auto acked = f.service->ack(b, ids, std::nullopt);
    REQUIRE(acked.ok());
    CHECK(*acked == 1);  // the unknown id is not counted

    auto rest = f.service->fetch(b, 0);
    REQUIRE(rest.ok());
    REQUIRE(rest->messages.size() == 2);
    CHECK(rest->messages[0].id == m1->id);
    CHECK(rest->messages[1].id == m3->id);
}

TEST_CASE("ack with ids and up_to acks the union") {
    Fixture f(store_kind());
    f.create("alice");
    f.create("bob");
    const SessionId a = f.login("alice");
    const SessionId b = f.login("bob");
    std::vector<MessageId> ids;
    for (int i = 0; i < 6; ++i) ids.push_back(f.service->send_sync(a, "bob", "x").value().id);
    const std::vector<MessageId> pick{ids[4]};
    auto acked = f.service->ack(b, pick, ids[1]);
    REQUIRE(acked.ok());
    CHECK(*acked == 3);  // ids[0], ids[1], ids[4]
    auto rest = f.service->fetch(b, 0);
    REQUIRE(rest.ok());
    REQUIRE(rest->messages.size() == 3);
    CHECK(rest->messages[0].id == ids[2]);
    CHECK(rest->messages[1].id == ids[3]);
    CHECK(rest->messages[2].id == ids[5]);
    auto none = f.service->ack(b, {}, std::nullopt);
    REQUIRE(none.ok());
    CHECK(*none == 0);
}

TEST_CASE("a user cannot ack another user's messages") {
    Fixture f(store_kind());
    f.create("alice");
    f.create("bob");
    f.create("eve");
    const SessionId a = f.login("alice");
    const SessionId e = f.login("eve");
    auto m = f.service->send_sync(a, "bob", "private");
    REQUIRE(m.ok());
    const std::vector<MessageId> ids{m->id};
    auto acked = f.service->ack(e, ids, m->id);
    REQUIRE(acked.ok());
    CHECK(*acked == 0);
    auto eve_sees = f.service->fetch(e, 0);
    REQUIRE(eve_sees.ok());
    CHECK(eve_sees->messages.empty());
    const SessionId b = f.login("bob");
    auto bob_sees = f.service->fetch(b, 0);
    REQUIRE(bob_sees.ok());
    CHECK(bob_sees->messages.size() == 1);
}

TEST_CASE("list_accounts filters orders and paginates") {
    Fixture f(store_kind());
    for (const char* n : {"bob", "Alice", "alfred", "carol", "al.x", "a_b", "zed"}) f.create(n);
    const SessionId s = f.login("bob");
    auto& svc = *f.service;

    auto all = svc.list_accounts(s, "", 0, "");
    REQUIRE(all.ok());
    CHECK(all->accounts ==
          std::vector<std::string>{"a_b", "al.x", "alfred", "Alice", "bob", "carol", "zed"});
    CHECK_FALSE(all->next.has_value());

    auto al = svc.list_accounts(s, "AL*", 0, "");
    REQUIRE(al.ok());
    CHECK(al->accounts == std::vector<std::string>{"al.x", "alfred", "Alice"});

    auto q = svc.list_accounts(s, "?ob", 0, "");
    REQUIRE(q.ok());
    CHECK(q->accounts == std::vector<std::string>{"bob"});

    // An escaped star is a literal '*', which no username can contain.
    auto esc = svc.list_accounts(s, "al\\*", 0, "");
    REQUIRE(esc.ok());
    CHECK(esc->accounts.empty());
    auto esc_letters = svc.list_accounts(s, "\\a\\l*", 0, "");
    REQUIRE(esc_letters.ok());
    CHECK(esc_letters->accounts == al->accounts);

    // Pages of two, walked with the cursor; next is null exactly on the last page.
    std::vector<std::string> walked;
    std::string after;
    int pages = 0;
    for (;;) {
        auto page = svc.list_accounts(s, "*", 2, after);
        REQUIRE(page.ok());
        ++pages;
        walked.insert(walked.end(), page->accounts.begin(), page->accounts.end());
        if (!page->next) break;
        CHECK(page->accounts.size() == 2);
        after = *page->next;
        REQUIRE(pages < 10);
    }
    CHECK(pages == 4);
    CHECK(walked == all->accounts);

    // An exact fit: two matches, page of two -> no next.
    auto fit = svc.list_accounts(s, "al*", 3, "");
    REQUIRE(fit.ok());
    CHECK(fit->accounts.size() == 3);
    CHECK_FALSE(fit->next.has_value());
}

TEST_CASE("pagination stays stable when accounts are created between pages") {
    Fixture f(store_kind());
    for (const char* n : {"b1", "b3", "b5", "b7"}) f.create(n);
    const SessionId s = f.login("b1");
    auto first = f.service->list_accounts(s, "b*", 2, "");
    REQUIRE(first.ok());
    CHECK(first->accounts == std::vector<std::string>{"b1", "b3"});
    REQUIRE(first->next.has_value());
    f.create("b0");  // before the cursor: must not shift the next page
    f.create("b4");  // after the cursor: must appear
    auto second = f.service->list_accounts(s, "b*", 10, *first->next);
    REQUIRE(second.ok());
    CHECK(second->accounts == std::vector<std::string>{"b4", "b5", "b7"});
    CHECK_FALSE(second->next.has_value());
}

TEST_CASE("list limit defaults to 100 and clamps at 1000") {
    Fixture f("memory");
    for (int i = 0; i < 120; ++i) f.create("u" + std::to_string(1000 + i));
    const SessionId s = f.login("u1000");
    auto page = f.service->list_accounts(s, "", 0, "");
    REQUIRE(page.ok());
    CHECK(page->accounts.size() == 100);
    CHECK(page->next.has_value());
    auto big = f.service->list_accounts(s, "", 100000, "");
    REQUIRE(big.ok());
    CHECK(big->accounts.size() == 120);
    CHECK_FALSE(big->next.has_value());
}

TEST_CASE("delete_account needs the right password") {
    Fixture f(store_kind());
    f.create("dave");
    const SessionId d = f.login("dave");
    CHECK(f.service->delete_account_sync(d, "wrong").code() == Errc::bad_credentials);
    CHECK(f.service->delete_account_sync(d, "").code() == Errc::bad_credentials);
    CHECK(f.service->session_user(d) == "dave");
}

TEST_CASE("delete_account logs out every session after the reply and frees the name") {
    Fixture f(store_kind());
    f.create("alice");
    f.create("bob");
    auto s1 = std::make_shared<RecordingSink>();
    auto s2 = std::make_shared<RecordingSink>();
    const SessionId a = f.login("alice");
    const SessionId b1 = f.login("bob", s1);
    const SessionId b2 = f.login("bob", s2);

    // bob sent alice a message before going; alice has one queued for bob too.
    auto from_bob = f.service->send_sync(b1, "alice", "bye");
    REQUIRE(from_bob.ok());
    REQUIRE(f.service->send_sync(a, "bob", "queued for bob").ok());

    std::vector<std::string> order;
    std::mutex order_mutex;
    std::promise<void> replied;
    f.service->delete_account(b1, "pw-bob", [&](Result<void> r) {
        CHECK(r.ok());
        std::lock_guard lock(order_mutex);
        order.push_back("reply");
        // The sink of the deleting session must not have been told yet.
        CHECK(s1->events().size() == 1);  // only the earlier message
        replied.set_value();
    });
    replied.get_future().wait();
    REQUIRE(s1->wait_events(2));
    REQUIRE(s2->wait_events(2));

    CHECK(s1->events().back() == "logged_out:account_deleted");
    CHECK(s2->events().back() == "logged_out:account_deleted");
    CHECK(f.service->session_user(b1) == std::nullopt);
    CHECK(f.service->session_user(b2) == std::nullopt);

    // No push follows logged_out.
    CHECK(f.service->send_sync(a, "bob", "too late").code() == Errc::no_such_user);
    CHECK(s1->events().back() == "logged_out:account_deleted");

    // What bob sent stays deliverable with his name.
    auto inbox = f.service->fetch(a, 0);
    REQUIRE(inbox.ok());
    REQUIRE(inbox->messages.size() == 1);
    CHECK(inbox->messages[0].from == "bob");
    CHECK(inbox->messages[0].body == "bye");

    // The name is free again and the new account starts with an empty queue.
    REQUIRE(f.service->create_account_sync("BOB", "new").ok());
    auto again = f.service->login_sync("bob", "new");
    REQUIRE(again.ok());
    CHECK(again->username == "BOB");
    CHECK(again->unread == 0);
}

TEST_CASE("attach and detach sinks on a session") {
    Fixture f(store_kind());
    f.create("alice");
    f.create("bob");
    const SessionId a = f.login("alice");
    const SessionId b = f.login("bob");
    auto sink = std::make_shared<RecordingSink>();
    CHECK(f.service->attach_sink(4242, sink).code() == Errc::not_logged_in);
    REQUIRE(f.service->attach_sink(b, sink).ok());
    REQUIRE(f.service->send_sync(a, "bob", "one").ok());
    CHECK(sink->messages().size() == 1);
    f.service->detach_sink(b, sink.get());
    REQUIRE(f.service->send_sync(a, "bob", "two").ok());
    CHECK(sink->messages().size() == 1);
}

TEST_CASE("idle sessions without a sink expire") {
    Fixture f("memory");
    f.create("alice");
    const SessionId idle = f.login("alice");
    const SessionId live = f.login("alice", std::make_shared<RecordingSink>());
    CHECK(f.service->expire_idle_sessions(std::chrono::hours(1)) == 0);
    CHECK(f.service->expire_idle_sessions(std::chrono::nanoseconds(0)) == 1);
    CHECK_FALSE(f.service->session_user(idle).has_value());
    CHECK(f.service->session_user(live) == "alice");
}

TEST_CASE("a full hashing queue answers server_busy instead of growing") {
    MemoryStore store;
    ServiceConfig config = fast_config(1);
    config.hash_queue_limit = 1;
    config.pwhash_memlimit = 4u * 1024u * 1024u;  // slow enough to keep the one thread busy
    ChatService svc(store, config);
    std::atomic<int> busy{0};
    std::atomic<int> completed{0};
    for (int i = 0; i < 20; ++i) {
        svc.create_account("user" + std::to_string(i), "pw", [&](Result<void> r) {
            if (!r.ok() && r.code() == Errc::server_busy) ++busy;
            ++completed;
        });
    }
    CHECK(busy.load() > 0);
    // Destroying the service runs what was queued; everything completes exactly once.
    while (completed.load() < 20) std::this_thread::yield();
    CHECK(completed.load() == 20);
}

TEST_CASE("concurrent sends and acks add up") {
    Fixture f(store_kind(), fast_config(2));
    constexpr int kSenders = 6;
    constexpr int kPerSender = 200;
    f.create("sink");
    for (int i = 0; i < kSenders; ++i) f.create("s" + std::to_string(i));
    auto pushed = std::make_shared<RecordingSink>();
    const SessionId r = f.login("sink", pushed);

    std::atomic<bool> senders_done{false};
    std::atomic<std::uint64_t> acked_total{0};
    // Catch2 assertions are not thread-safe: worker threads count failures, the main thread checks.
    std::atomic<int> failures{0};
    std::thread acker([&] {
        // Acks whatever is queued until the senders are done and the queue is empty.
        for (int spins = 0; spins < 1000000; ++spins) {
            // Read the flag before fetching: an empty queue only means "finished" if every send
            // had completed before we looked.
            const bool was_done = senders_done.load();
            auto page = f.service->fetch(r, 1000);
            if (!page.ok()) {
                ++failures;
                return;
            }
            if (page->messages.empty()) {
                if (was_done) return;
                std::this_thread::yield();
                continue;
            }
            std::vector<MessageId> ids;
            for (const auto& m : page->messages) ids.push_back(m.id);
            auto n = f.service->ack(r, ids, std::nullopt);
            if (!n.ok()) {
                ++failures;
                return;
            }
            acked_total += *n;
        }
    });
    std::vector<std::thread> senders;
    for (int i = 0; i < kSenders; ++i) {
        senders.emplace_back([&, i] {
            auto login = f.service->login_sync("s" + std::to_string(i), "pw-s" + std::to_string(i));
            if (!login.ok()) {
                ++failures;
                return;
            }
            for (int k = 0; k < kPerSender; ++k) {
                if (!f.service->send_sync(login->session, "sink", std::to_string(k)).ok()) {
                    ++failures;
                }
            }
        });
    }
    for (auto& t : senders) t.join();
    senders_done = true;
    acker.join();

    CHECK(failures.load() == 0);
    CHECK(acked_total.load() == kSenders * kPerSender);
    auto msgs = pushed->messages();
    CHECK(msgs.size() == kSenders * kPerSender);
    std::set<MessageId> distinct;
    for (const auto& m : msgs) distinct.insert(m.id);
    CHECK(distinct.size() == msgs.size());
    auto rest = f.service->fetch(r, 0);
    REQUIRE(rest.ok());
    CHECK(rest->messages.empty());
}

TEST_CASE("sqlite keeps accounts queues and ids across a restart") {
    const auto path = temp_db("restart");
    MessageId last_id = 0;
    {
        SqliteStore store(SqliteOptions{path.string()});
        ChatService svc(store, fast_config());
        REQUIRE(svc.create_account_sync("Alice", "pw").ok());
        REQUIRE(svc.create_account_sync("bob", "pw").ok());
        auto a = svc.login_sync("alice", "pw");
        REQUIRE(a.ok());
        for (int i = 0; i < 3; ++i) {
            auto m = svc.send_sync(a->session, "bob", "kept " + std::to_string(i));
            REQUIRE(m.ok());
            last_id = m->id;
        }
        auto self = svc.send_sync(a->session, "alice", "acked away");
        REQUIRE(self.ok());
        last_id = self->id;
        const std::vector<MessageId> ids{self->id};
        REQUIRE(svc.ack(a->session, ids, std::nullopt).value() == 1);
    }
    {
        SqliteStore store(SqliteOptions{path.string()});
        ChatService svc(store, fast_config());
        auto b = svc.login_sync("BOB", "pw");
        REQUIRE(b.ok());
        CHECK(b->unread == 3);
        auto page = svc.fetch(b->session, 0);
        REQUIRE(page.ok());
        REQUIRE(page->messages.size() == 3);
        CHECK(page->messages[0].body == "kept 0");
        CHECK(page->messages[0].from == "Alice");
        auto a = svc.login_sync("alice", "pw");
        REQUIRE(a.ok());
        auto next = svc.send_sync(a->session, "bob", "after restart");
        REQUIRE(next.ok());
        CHECK(next->id > last_id);  // the acked id is never reused
    }
    remove_db(path);
}

TEST_CASE("repeated failed logins lock the account name for a while") {
    MemoryStore store;
    ServiceConfig config = fast_config();
    config.login_free_failures = 3;
    config.login_lockout = std::chrono::milliseconds(50);
    config.login_lockout_max = std::chrono::milliseconds(100);
    ChatService svc(store, config);
    REQUIRE(svc.create_account_sync("alice", "right").ok());

    // A success resets the count: two failures, a success, two more failures stay unlocked.
    CHECK(svc.login_sync("alice", "wrong").code() == Errc::bad_credentials);
    CHECK(svc.login_sync("alice", "wrong").code() == Errc::bad_credentials);
    CHECK(svc.login_sync("alice", "right").ok());
    CHECK(svc.login_sync("alice", "wrong").code() == Errc::bad_credentials);
    CHECK(svc.login_sync("alice", "wrong").code() == Errc::bad_credentials);
    CHECK(svc.login_sync("ALICE", "wrong").code() == Errc::bad_credentials);  // third: locks

    // Locked: even the right password is refused, and the name's case does not matter.
    auto locked = svc.login_sync("Alice", "right");
    REQUIRE_FALSE(locked.ok());
    CHECK(locked.code() == Errc::rate_limited);

    // Unknown names lock the same way, so a lockout tells nothing about which names exist.
    for (int i = 0; i < 3; ++i) {
        CHECK(svc.login_sync("ghost", "x").code() == Errc::bad_credentials);
    }
    CHECK(svc.login_sync("ghost", "x").code() == Errc::rate_limited);

    // Other accounts are unaffected.
    REQUIRE(svc.create_account_sync("bob", "pw").ok());
    CHECK(svc.login_sync("bob", "pw").ok());

    // The lockout ends by itself (bounded wait: at most 100 ms lockout, polled for 5 s).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    Result<LoginResult> after = svc.login_sync("alice", "right");
    while (!after.ok() && after.code() == Errc::rate_limited &&
           std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        after = svc.login_sync("alice", "right");
    }
    CHECK(after.ok());
}

// A login over a named connection (and, optionally, from a named address), waited for.
Result<LoginResult> login_over(ChatService& svc, std::string name, std::string password,
                               std::string connection, std::string address = {}) {
    std::promise<Result<LoginResult>> promise;
    auto future = promise.get_future();
    svc.login(
        std::move(name), std::move(password), nullptr,
        [&promise](Result<LoginResult> r) { promise.set_value(std::move(r)); },
        Origin{std::move(connection), std::move(address)});
    return future.get();
}

TEST_CASE("repeated failed logins on one connection lock that connection, whatever the names") {
    MemoryStore store;
    ServiceConfig config = fast_config();
    config.login_free_failures = 100;  // the per-account lockout stays out of the way
    config.login_free_failures_per_connection = 3;
    config.login_lockout = std::chrono::milliseconds(50);
    config.login_lockout_max = std::chrono::milliseconds(100);
    ChatService svc(store, config);
    REQUIRE(svc.create_account_sync("alice", "right").ok());
    auto login_from = [&](std::string name, std::string password, std::string origin) {
        return login_over(svc, std::move(name), std::move(password), std::move(origin));
    };

    // A success on the connection resets its count.
    CHECK(login_from("ghost1", "x", "c1").code() == Errc::bad_credentials);
    CHECK(login_from("ghost2", "x", "c1").code() == Errc::bad_credentials);
    CHECK(login_from("alice", "right", "c1").ok());
    // Three failures with three different names: the connection locks, not the names.
    CHECK(login_from("ghost3", "x", "c1").code() == Errc::bad_credentials);
    CHECK(login_from("ghost4", "x", "c1").code() == Errc::bad_credentials);
    CHECK(login_from("alice", "wrong", "c1").code() == Errc::bad_credentials);
    auto locked = login_from("alice", "right", "c1");
    REQUIRE_FALSE(locked.ok());
    CHECK(locked.code() == Errc::rate_limited);
    CHECK(locked.error().message.find("connection") != std::string::npos);

    // Another connection, and a login without an origin, are not affected.
    CHECK(login_from("alice", "right", "c2").ok());
    CHECK(svc.login_sync("alice", "right").ok());

    // The lockout ends by itself (bounded wait: at most 100 ms lockout, polled for 5 s).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    auto after = login_from("alice", "right", "c1");
    while (!after.ok() && after.code() == Errc::rate_limited &&
           std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        after = login_from("alice", "right", "c1");
    }
    CHECK(after.ok());
}

TEST_CASE("the per-connection login lockout can be turned off") {
    MemoryStore store;
    ServiceConfig config = fast_config();
    config.login_free_failures = 0;
    config.login_free_failures_per_connection = 0;
    ChatService svc(store, config);
    REQUIRE(svc.create_account_sync("alice", "right").ok());
    for (int i = 0; i < 20; ++i) {
        REQUIRE(login_over(svc, "alice", "wrong", "c1").code() == Errc::bad_credentials);
    }
    CHECK(login_over(svc, "alice", "right", "c1").ok());
}
