// What a node may remember of other nodes' accounts, and what it must not trust: a send's
// recipient found in the node's cache, then deleted and created again on another node, still
// reaches the account the name has now; a deleted account's queue state is `no_such_user`, so a
// login that found the account just before the delete does not go through; acks folded into one
// statement credit each removed message to the first ack that named it.
#include <catch2/catch.hpp>
#include <future>
#include <string>
#include <vector>

#include "chat/postgres_store.hpp"
#include "pg_server.hpp"
#include "pg_test_util.hpp"

using chat::AccountId;
using chat::Errc;
using chat::MessageId;
using chat::PostgresStore;
using chat::test::append_wait;
using chat::test::EventRecorder;
using chat::test::fresh_database;
using chat::test::node_options;

TEST_CASE("postgres send to a name deleted and created again elsewhere reaches the new account",
          "[postgres][recipient]") {
    const std::string url = fresh_database();
    PostgresStore a(node_options(url, "a"));
    PostgresStore b(node_options(url, "b"));
    auto first = a.create_account("Tess", "hash");
    REQUIRE(first.ok());
    auto seen = b.find_recipient("tess");
    REQUIRE(seen.ok());
    REQUIRE(seen->has_value());
    CHECK((*seen)->id == first->id);

    REQUIRE(*a.delete_account(first->id));
    auto second = a.create_account("TESS", "hash2");
    REQUIRE(second.ok());
    REQUIRE(second->id != first->id);

    // B addresses the message by what it saw before (as its cache may still say).
    std::promise<chat::Result<chat::Message>> stored;
    b.append_message(chat::NewMessage{first->id, "ann", "Tess", "still for tess"},
                     [&](chat::Result<chat::Message> r) { stored.set_value(std::move(r)); });
    auto result = stored.get_future().get();
    REQUIRE(result.ok());
    CHECK(result->to == "TESS");
    auto queue = a.fetch(second->id, 10);
    REQUIRE(queue.ok());
    REQUIRE(queue->messages.size() == 1);
    CHECK(queue->messages[0].id == result->id);
    CHECK(queue->messages[0].body == "still for tess");

    // A name gone for good: no_such_user, and nothing stored.
    REQUIRE(*a.delete_account(second->id));
    std::promise<chat::Result<chat::Message>> refused;
    b.append_message(chat::NewMessage{second->id, "ann", "TESS", "nobody"},
                     [&](chat::Result<chat::Message> r) { refused.set_value(std::move(r)); });
    auto gone = refused.get_future().get();
    REQUIRE_FALSE(gone.ok());
    CHECK(gone.code() == Errc::no_such_user);
}

TEST_CASE("postgres recipient lookups forget an account deleted elsewhere",
          "[postgres][recipient]") {
    const std::string url = fresh_database();
    EventRecorder heard;  // outlives b, whose listener reports to it until b stops
    PostgresStore a(node_options(url, "a"));
    PostgresStore b(node_options(url, "b"));
    b.set_events(&heard);
    auto created = a.create_account("Uma", "hash");
    REQUIRE(created.ok());
    auto cached = b.find_recipient("uma");
    REQUIRE(cached.ok());
    REQUIRE(cached->has_value());
    REQUIRE(*a.delete_account(created->id));
    REQUIRE(heard.wait_until([&] { return !heard.deleted.empty(); }));
    auto after = b.find_recipient("uma");
    REQUIRE(after.ok());
    CHECK_FALSE(after->has_value());
    // Deleted here: forgotten at once.
    auto again = b.create_account("Uma", "hash");
    REQUIRE(again.ok());
    REQUIRE(b.find_recipient("uma").ok());
    REQUIRE(*b.delete_account(again->id));
    auto local = b.find_recipient("uma");
    REQUIRE(local.ok());
    CHECK_FALSE(local->has_value());
}

TEST_CASE("postgres queue_state of a deleted account is no_such_user", "[postgres][recipient]") {
    const std::string url = fresh_database();
    PostgresStore a(node_options(url, "a"));
    PostgresStore b(node_options(url, "b"));
    auto created = a.create_account("Vic", "hash");
    REQUIRE(created.ok());
    REQUIRE(b.queue_state(created->id).ok());
    REQUIRE(*a.delete_account(created->id));
    auto state = b.queue_state(created->id);
    REQUIRE_FALSE(state.ok());
    CHECK(state.code() == Errc::no_such_user);
}

TEST_CASE("postgres acks in one batch credit each message once, to the first that named it",
          "[postgres][recipient]") {
    const std::string url = fresh_database();
    PostgresStore a(node_options(url, "a"));
    auto wes = a.create_account("Wes", "hash");
    auto xia = a.create_account("Xia", "hash");
    REQUIRE(wes.ok());
    REQUIRE(xia.ok());
    std::vector<MessageId> ids;
    for (int i = 0; i < 3; ++i) {
        auto sent = append_wait(a, wes->id, "m" + std::to_string(i));
        REQUIRE(sent);
        REQUIRE(sent->ok());
        ids.push_back((**sent).id);
    }
    auto for_xia = append_wait(a, xia->id, "for xia");
    REQUIRE(for_xia);
    REQUIRE(for_xia->ok());

    // Queued back to back, so they usually share a commit; the counts are the same either way.
    std::promise<chat::Result<std::uint64_t>> p1, p2, p3;
    a.ack_async(wes->id, {ids[0], ids[1], ids[1]}, std::nullopt,
                [&](chat::Result<std::uint64_t> r) { p1.set_value(std::move(r)); });
    a.ack_async(wes->id, {ids[1], ids[2]}, std::nullopt,
                [&](chat::Result<std::uint64_t> r) { p2.set_value(std::move(r)); });
    // Xia's message named under Wes: not Wes's to remove.
    a.ack_async(wes->id, {(**for_xia).id}, std::nullopt,
                [&](chat::Result<std::uint64_t> r) { p3.set_value(std::move(r)); });
    auto r1 = p1.get_future().get();
    auto r2 = p2.get_future().get();
    auto r3 = p3.get_future().get();
    REQUIRE(r1.ok());
    REQUIRE(r2.ok());
    REQUIRE(r3.ok());
    CHECK(*r1 == 2);
    CHECK(*r2 == 1);
    CHECK(*r3 == 0);
    auto wes_left = a.count_queued(wes->id);
    auto xia_left = a.count_queued(xia->id);
    REQUIRE(wes_left.ok());
    REQUIRE(xia_left.ok());
    CHECK(*wes_left == 0);
    CHECK(*xia_left == 1);
}
