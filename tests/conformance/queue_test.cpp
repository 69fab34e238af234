// Conformance: the offline queue (fetch order, max and its clamps, remaining) and ack (ids,
// up_to, their union, isolation between users), plus bodies that must survive the wire intact.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "suite.hpp"

namespace chat::conformance {
namespace {

// Alice (logged in on `sender`) and Bob (not logged in yet) on `server`.
struct Pair {
    TestClient sender;
    User alice;
    User bob;
};

Pair make_pair_of_users(const TestServer& server) {
    Pair p{server.connect_client(), {}, {}};
    p.alice = create_user(*p.sender, "alice");
    p.bob = create_user(*p.sender, "bob");
    auto login = p.sender->login(p.alice.name, p.alice.password);
    REQUIRE(outcome(login) == "ok");
    return p;
}

TEST_CASE("fetch: oldest first with the number remaining and nothing removed",
          "[conformance][fetch]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    auto sent = send_many(*p.sender, p.bob.name, 5);
    auto b = login_client(server, p.bob, false);

    auto two = b->fetch(2);
    REQUIRE(outcome(two) == "ok");
    REQUIRE(two->messages.size() == 2);
    CHECK(two->messages[0] == sent[0]);
    CHECK(two->messages[1] == sent[1]);
    CHECK(two->remaining == 3);

    // Fetching does not acknowledge.
    auto again = b->fetch(2);
    REQUIRE(outcome(again) == "ok");
    CHECK(ids_of(again->messages) == ids_of(two->messages));
    CHECK(again->remaining == 3);

    auto all = b->fetch();
    REQUIRE(outcome(all) == "ok");
    CHECK(all->messages == sent);
    CHECK(all->remaining == 0);

    auto more = b->fetch(50);
    REQUIRE(outcome(more) == "ok");
    CHECK(more->messages == sent);
    CHECK(more->remaining == 0);
}

TEST_CASE("fetch: an empty queue gives no messages and nothing remaining", "[conformance][fetch]") {
    TestServer server(transport_under_test());
    User u = create_user(server, "lonely");
    auto c = login_client(server, u, false);
    auto fetched = c->fetch();
    REQUIRE(outcome(fetched) == "ok");
    CHECK(fetched->messages.empty());
    CHECK(fetched->remaining == 0);
}

TEST_CASE("fetch: max 0 means the default of 100", "[conformance][fetch]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    auto sent = send_many(*p.sender, p.bob.name, 150);
    auto b = login_client(server, p.bob, false);
    for (std::uint64_t max : {std::uint64_t{0}, std::uint64_t{100}}) {
        INFO("max " << max);
        auto fetched = b->fetch(max);
        REQUIRE(outcome(fetched) == "ok");
        REQUIRE(fetched->messages.size() == 100);
        CHECK(fetched->remaining == 50);
        CHECK(fetched->messages.front() == sent.front());
        CHECK(fetched->messages.back() == sent[99]);
    }
}

TEST_CASE("fetch: max above 1000 is clamped to 1000", "[conformance][fetch]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    auto sent = send_many(*p.sender, p.bob.name, 1001);
    auto b = login_client(server, p.bob, false);
    auto fetched = b->fetch(5000);
    REQUIRE(outcome(fetched) == "ok");
    REQUIRE(fetched->messages.size() == 1000);
    CHECK(fetched->remaining == 1);
    CHECK(ids_of(fetched->messages) ==
          ids_of(std::vector<Message>(sent.begin(), sent.begin() + 1000)));
    auto exact = b->fetch(1000);
    REQUIRE(outcome(exact) == "ok");
    CHECK(exact->messages.size() == 1000);
    CHECK(exact->remaining == 1);
}

TEST_CASE("fetch: pushed but unacknowledged messages are returned again", "[conformance][fetch]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    auto b = login_client(server, p.bob, false);
    auto sent = p.sender->send(p.bob.name, "pushed");
    REQUIRE(outcome(sent) == "ok");
    auto pushed = b.inbox->wait_message();
    REQUIRE(pushed.has_value());
    CHECK(*pushed == *sent);
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    REQUIRE(fetched->messages.size() == 1);
    CHECK(fetched->messages[0] == *sent);
}

TEST_CASE("ack: by ids removes exactly those messages", "[conformance][ack]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    auto sent = send_many(*p.sender, p.bob.name, 5);
    auto b = login_client(server, p.bob, false);
    auto acked = b->ack({sent[1].id, sent[3].id});
    REQUIRE(outcome(acked) == "ok");
    CHECK(*acked == 2);
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    CHECK(ids_of(fetched->messages) == std::vector<MessageId>{sent[0].id, sent[2].id, sent[4].id});
    CHECK(fetched->remaining == 0);
}

TEST_CASE("ack: up_to removes every queued message with an id up to it", "[conformance][ack]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    auto sent = send_many(*p.sender, p.bob.name, 5);
    auto b = login_client(server, p.bob, false);
    auto acked = b->ack({}, sent[2].id);
    REQUIRE(outcome(acked) == "ok");
    CHECK(*acked == 3);
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    CHECK(ids_of(fetched->messages) == std::vector<MessageId>{sent[3].id, sent[4].id});
    // An up_to between queued ids and one above them all.
    auto rest = b->ack({}, sent[4].id + 1000);
    REQUIRE(outcome(rest) == "ok");
    CHECK(*rest == 2);
    auto empty = b->fetch();
    REQUIRE(outcome(empty) == "ok");
    CHECK(empty->messages.empty());
}

TEST_CASE("ack: ids and up_to together ack the union", "[conformance][ack]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    auto sent = send_many(*p.sender, p.bob.name, 6);
    auto b = login_client(server, p.bob, false);
    // Overlapping: ids 0 and 1 are also <= up_to; id 4 is beyond it.
    auto acked = b->ack({sent[0].id, sent[1].id, sent[4].id}, sent[1].id);
    REQUIRE(outcome(acked) == "ok");
    CHECK(*acked == 3);
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    CHECK(ids_of(fetched->messages) == std::vector<MessageId>{sent[2].id, sent[3].id, sent[5].id});
}

TEST_CASE("ack: ids not in the queue are not counted", "[conformance][ack]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    auto sent = send_many(*p.sender, p.bob.name, 3);
    auto b = login_client(server, p.bob, false);
    // An unknown id, and a queued id named twice.
    auto acked = b->ack({sent[0].id, sent[2].id + 1000000, sent[0].id});
    REQUIRE(outcome(acked) == "ok");
    CHECK(*acked == 1);
    // Already acknowledged.
    auto again = b->ack({sent[0].id});
    REQUIRE(outcome(again) == "ok");
    CHECK(*again == 0);
    auto below = b->ack({}, sent[0].id);
    REQUIRE(outcome(below) == "ok");
    CHECK(*below == 0);
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    CHECK(ids_of(fetched->messages) == std::vector<MessageId>{sent[1].id, sent[2].id});
}

TEST_CASE("ack: nothing named is a bad request, and up_to 0 counts as not given",
          "[conformance][ack]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    auto sent = send_many(*p.sender, p.bob.name, 2);
    auto b = login_client(server, p.bob, false);
    CHECK(code_of(b->ack({})) == "bad_request");
    CHECK(code_of(b->ack({}, MessageId{0})) == "bad_request");
    // With ids, up_to 0 adds nothing: only the named message goes.
    auto acked = b->ack({sent[1].id}, MessageId{0});
    REQUIRE(outcome(acked) == "ok");
    CHECK(*acked == 1);
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    CHECK(ids_of(fetched->messages) == std::vector<MessageId>{sent[0].id});
}

TEST_CASE("ack: another user's messages cannot be acknowledged", "[conformance][ack]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    User carol = create_user(*p.sender, "carol");
    auto for_bob = send_many(*p.sender, p.bob.name, 2);
    auto for_carol = p.sender->send(carol.name, "carol's");
    REQUIRE(outcome(for_carol) == "ok");

    auto c = login_client(server, carol, false);
    auto by_id = c->ack({for_bob[0].id, for_bob[1].id});
    REQUIRE(outcome(by_id) == "ok");
    CHECK(*by_id == 0);
    auto by_up_to = c->ack({}, for_bob[1].id);
    REQUIRE(outcome(by_up_to) == "ok");
    CHECK(*by_up_to == 0);  // carol's own message has a higher id and stays

    std::uint64_t unread = 0;
    auto b = login_client(server, p.bob, false, &unread);
    CHECK(unread == 2);
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    CHECK(fetched->messages == for_bob);
    // The sender cannot ack the recipient's copy either.
    auto by_sender = p.sender->ack({for_bob[0].id}, for_bob[1].id);
    REQUIRE(outcome(by_sender) == "ok");
    CHECK(*by_sender == 0);
    auto still = b->fetch();
    REQUIRE(outcome(still) == "ok");
    CHECK(still->messages == for_bob);
}

TEST_CASE("ack: acknowledged messages are not fetched again and unread drops",
          "[conformance][ack]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    auto sent = send_many(*p.sender, p.bob.name, 4);
    auto b = login_client(server, p.bob, false);
    auto first = b->fetch(2);
    REQUIRE(outcome(first) == "ok");
    REQUIRE(first->messages.size() == 2);
    auto acked = b->ack(ids_of(first->messages));
    REQUIRE(outcome(acked) == "ok");
    CHECK(*acked == 2);
    auto next = b->fetch(2);
    REQUIRE(outcome(next) == "ok");
    CHECK(ids_of(next->messages) == std::vector<MessageId>{sent[2].id, sent[3].id});
    CHECK(next->remaining == 0);
    std::uint64_t unread = 0;
    auto b2 = login_client(server, p.bob, false, &unread);
    CHECK(unread == 2);
}

TEST_CASE("delivery: a largest and a unicode body arrive intact", "[conformance][delivery]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    auto b = login_client(server, p.bob, false);

    // 16384 bytes of 1- to 4-byte characters.
    std::string largest;
    const std::vector<std::string> pieces = {"a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x8E\x89"};
    for (std::size_t i = 0; largest.size() + 4 <= 16384; ++i) largest += pieces[i % 4];
    while (largest.size() < 16384) largest += "b";
    REQUIRE(largest.size() == 16384);
    const std::string unicode =
        "h\xC3\xA9llo w\xC3\xB6rld \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E "
        "\xF0\x9F\x8E\x89 \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D \xEF\xBB\xBF";  // incl. a BOM

    for (const auto& body : {largest, unicode}) {
        auto sent = p.sender->send(p.bob.name, body);
        REQUIRE(outcome(sent) == "ok");
        CHECK(sent->body == body);
        auto pushed = b.inbox->wait_message();
        REQUIRE(pushed.has_value());
        CHECK(pushed->body == body);
        CHECK(*pushed == *sent);
    }
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    REQUIRE(fetched->messages.size() == 2);
    CHECK(fetched->messages[0].body == largest);
    CHECK(fetched->messages[1].body == unicode);
}

TEST_CASE("delivery: a body of control and quoting characters arrives intact",
          "[conformance][delivery]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    auto b = login_client(server, p.bob, false);
    const std::string body =
        "line one\nline two\r\n\ttabbed \"quoted\" back\\slash /slash \x01\x1F\x7F "
        "{\"op\":\"x\"}\n";
    auto sent = p.sender->send(p.bob.name, body);
    REQUIRE(outcome(sent) == "ok");
    CHECK(sent->body == body);
    auto pushed = b.inbox->wait_message();
    REQUIRE(pushed.has_value());
    CHECK(pushed->body == body);
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    REQUIRE(fetched->messages.size() == 1);
    CHECK(fetched->messages[0].body == body);
}

TEST_CASE("delivery: a body with a NUL character arrives intact", "[conformance][delivery]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    auto b = login_client(server, p.bob, false);
    const std::string body("before\0after", 12);  // U+0000 is valid UTF-8
    auto sent = p.sender->send(p.bob.name, body);
    REQUIRE(outcome(sent) == "ok");
    CHECK(sent->body == body);
    auto pushed = b.inbox->wait_message();
    REQUIRE(pushed.has_value());
    CHECK(pushed->body == body);
}

TEST_CASE("delivery: pipelined sends all arrive in the order of their ids",
          "[conformance][delivery]") {
    TestServer server(transport_under_test());
    auto p = make_pair_of_users(server);
    auto b = login_client(server, p.bob, false);
    const std::size_t count = 300;
    auto sent = send_many(*p.sender, p.bob.name, count, "pipelined ");
    for (std::size_t i = 1; i < sent.size(); ++i) REQUIRE(sent[i - 1].id < sent[i].id);

    auto pushed = b.inbox->wait_messages(count);
    REQUIRE(pushed.size() == count);
    for (std::size_t i = 1; i < pushed.size(); ++i) {
        INFO("push " << i);
        REQUIRE(pushed[i - 1].id < pushed[i].id);
    }
    CHECK(pushed == sent);
    std::set<std::string> bodies;
    for (const auto& m : pushed) bodies.insert(m.body);
    CHECK(bodies.size() == count);

    auto fetched = b->fetch(1000);
    REQUIRE(outcome(fetched) == "ok");
    CHECK(fetched->messages == sent);
    CHECK(fetched->remaining == 0);
}

}  // namespace
}  // namespace chat::conformance
