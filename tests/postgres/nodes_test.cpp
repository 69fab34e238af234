// Several PostgresStore instances ("nodes") on one database: what one commits reaches the
// others' StoreEvents (and not its own), in full even when too big for a notification; nodes
// starting at once on an empty database migrate it once; a newer schema and an unreachable
// database are refused at start-up without showing the password.
#include <algorithm>
#include <catch2/catch.hpp>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "chat/postgres_store.hpp"
#include "pg_server.hpp"
#include "pg_test_util.hpp"

using chat::AccountId;
using chat::Message;
using chat::PostgresStore;
using chat::test::append_wait;
using chat::test::EventRecorder;
using chat::test::fresh_database;
using chat::test::node_options;

namespace {

bool has_message(EventRecorder& events, chat::MessageId id) {
    return std::any_of(events.stored.begin(), events.stored.end(),
                       [id](const auto& entry) { return entry.second.id == id; });
}

}  // namespace

TEST_CASE("postgres nodes hear what the other nodes commit", "[postgres][nodes]") {
    const std::string url = fresh_database();
    EventRecorder events_a;
    EventRecorder events_b;
    PostgresStore a(node_options(url, "a"));
    auto b = std::make_unique<PostgresStore>(node_options(url, "b"));
    a.set_events(&events_a);
    b->set_events(&events_b);

    auto created = a.create_account("Rita", "hash");
    REQUIRE(created.ok());
    const AccountId rita = created->id;

    // A stores: B hears it, with the message as stored.
    auto sent = append_wait(a, rita, "hello from a");
    REQUIRE(sent);
    REQUIRE(sent->ok());
    const Message stored = **sent;
    REQUIRE(events_b.wait_until([&] { return has_message(events_b, stored.id); }));
    {
        std::lock_guard lock(events_b.mutex);
        REQUIRE(events_b.stored.size() == 1);
        CHECK(events_b.stored[0].first == rita);
        CHECK(events_b.stored[0].second == stored);
    }

    // Too big to report inline (bodies may be 16 KiB): B reads it back and gets all of it.
    std::string big(16 * 1024, 'x');
    for (std::size_t i = 0; i < big.size(); i += 97) big[i] = static_cast<char>('a' + i % 26);
    auto big_sent = append_wait(a, rita, big);
    REQUIRE(big_sent);
    REQUIRE(big_sent->ok());
    REQUIRE(events_b.wait_until([&] { return has_message(events_b, (*big_sent)->id); }));
    {
        std::lock_guard lock(events_b.mutex);
        const auto& [recipient, message] = events_b.stored.back();
        CHECK(recipient == rita);
        CHECK(message == **big_sent);
        CHECK(message.body.size() == big.size());
    }

    // B stores: A hears that. Reports arrive in commit order, so by then A would have heard its
    // own two messages, had it not ignored them.
    auto from_b = append_wait(*b, rita, "hello from b");
    REQUIRE(from_b);
    REQUIRE(from_b->ok());
    REQUIRE(events_a.wait_until([&] { return has_message(events_a, (*from_b)->id); }));
    {
        std::lock_guard lock(events_a.mutex);
        REQUIRE(events_a.stored.size() == 1);
        CHECK(events_a.stored[0].second == **from_b);
    }
    {
        std::lock_guard lock(events_b.mutex);
        CHECK_FALSE(has_message(events_b, (*from_b)->id));
    }

    // A deletes: B hears it (A does not hear its own).
    REQUIRE(*a.delete_account(rita));
    REQUIRE(events_b.wait_until([&] { return !events_b.deleted.empty(); }));
    {
        std::lock_guard lock(events_b.mutex);
        CHECK(events_b.deleted == std::vector<AccountId>{rita});
    }
    auto other = b->create_account("other", "hash");
    REQUIRE(other.ok());
    REQUIRE(*b->delete_account(other->id));
    REQUIRE(events_a.wait_until([&] { return !events_a.deleted.empty(); }));
    {
        std::lock_guard lock(events_a.mutex);
        CHECK(events_a.deleted == std::vector<AccountId>{other->id});
        CHECK(events_a.resyncs == 0);
    }

    // Unregistered: once set_events returns, nothing more is reported to it. C, a third node,
    // hearing the reports shows they went out; B is stopped after that, so whatever its listener
    // got meanwhile went nowhere.
    EventRecorder events_c;
    PostgresStore c(node_options(url, "c"));
    c.set_events(&events_c);
    b->set_events(nullptr);
    std::size_t heard_before = 0;
    {
        std::lock_guard lock(events_b.mutex);
        heard_before = events_b.stored.size();
    }
    auto again = a.create_account("again", "hash");
    REQUIRE(again.ok());
    auto late = append_wait(a, again->id, "nobody listens on b");
    REQUIRE(late);
    REQUIRE(late->ok());
    REQUIRE(events_c.wait_until([&] { return has_message(events_c, (*late)->id); }));
    b.reset();
    std::lock_guard lock(events_b.mutex);
    CHECK(events_b.stored.size() == heard_before);
}

TEST_CASE("postgres nodes starting at once on an empty database all come up", "[postgres][nodes]") {
    const std::string url = fresh_database();
    constexpr int kNodes = 6;
    std::promise<void> go;
    std::shared_future<void> start = go.get_future().share();
    std::vector<std::future<std::unique_ptr<PostgresStore>>> nodes;
    for (int i = 0; i < kNodes; ++i) {
        nodes.push_back(std::async(std::launch::async, [&, i] {
            start.wait();
            return std::make_unique<PostgresStore>(node_options(url, "n" + std::to_string(i)));
        }));
    }
    go.set_value();
    std::vector<std::unique_ptr<PostgresStore>> stores;
    for (auto& node : nodes) {
        REQUIRE(node.wait_for(chat::test::kPgWait) == std::future_status::ready);
        REQUIRE_NOTHROW(stores.push_back(node.get()));
    }
    chat::test::RawConnection raw(url);
    CHECK(raw.number("SELECT count(*) FROM schema_version") == PostgresStore::schema_version());
    CHECK(raw.number("SELECT max(version) FROM schema_version") == PostgresStore::schema_version());
    // Every node works on the one schema.
    auto account = stores[0]->create_account("shared", "hash");
    REQUIRE(account.ok());
    for (auto& store : stores) {
        auto found = store->find_account("shared");
        REQUIRE(found.ok());
        REQUIRE(found->has_value());
        CHECK((*found)->id == account->id);
    }
}

TEST_CASE("postgres store refuses a newer schema and reopens its own", "[postgres][nodes]") {
    const std::string url = fresh_database();
    { PostgresStore first(node_options(url)); }
    { PostgresStore reopened(node_options(url)); }  // same version: nothing to migrate
    chat::test::RawConnection raw(url);
    raw.exec("INSERT INTO schema_version(version, applied_at) VALUES(" +
             std::to_string(PostgresStore::schema_version() + 1) + ", 0)");
    try {
        PostgresStore newer(node_options(url));
        FAIL("a newer schema was accepted");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()).find("newer") != std::string::npos);
    }
}

TEST_CASE("postgres store start-up gives up after connect_timeout without the password",
          "[postgres][nodes]") {
    chat::PostgresOptions options;
    options.url = "postgresql://chat:s3cr3t-pw@/chat?host=/nonexistent-chat-dir";
    options.connect_timeout = std::chrono::milliseconds(300);
    options.reconnect_min = std::chrono::milliseconds(20);
    const auto started = std::chrono::steady_clock::now();
    try {
        PostgresStore store(options);
        FAIL("connected to a database that does not exist");
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        CHECK(what.find("s3cr3t-pw") == std::string::npos);
        CHECK(what.find("chat:***@") != std::string::npos);
    }
    CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(300));
    CHECK(std::chrono::steady_clock::now() - started < chat::test::kPgWait);
}
