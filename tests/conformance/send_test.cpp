// Conformance: send (recipients, body rules, the stored message it returns, id order) and live
// pushes to every session of the recipient.
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "suite.hpp"

namespace chat::conformance {
namespace {

std::string lower(std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

TEST_CASE("send: returns the stored message with canonical names and the time",
          "[conformance][send]") {
    TestServer server(transport_under_test());
    auto a = server.connect_client();
    User alice = create_named_user(*a, test::unique_name("Alice"));
    User bob = create_named_user(*a, test::unique_name("BoB"));
    // Log in and address the recipient in other cases than registered.
    REQUIRE(outcome(a->login(lower(alice.name), alice.password)) == "ok");
    const auto before = now_ms();
    auto sent = a->send(lower(bob.name), "hello bob");
    const auto after = now_ms();
    REQUIRE(outcome(sent) == "ok");
    CHECK(sent->id > 0);
    CHECK(sent->from == alice.name);
    CHECK(sent->to == bob.name);
    CHECK(sent->body == "hello bob");
    // The server sets the time (ms since the epoch, UTC); allow for clock granularity.
    CHECK(sent->sent_at >= before - 1000);
    CHECK(sent->sent_at <= after + 1000);

    auto b = login_client(server, bob, false);
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    REQUIRE(fetched->messages.size() == 1);
    CHECK(fetched->messages[0] == *sent);
}

TEST_CASE("send: message ids are strictly increasing", "[conformance][send]") {
    TestServer server(transport_under_test());
    auto a = server.connect_client();
    User alice = create_user(*a, "alice");
    User bob = create_user(*a, "bob");
    User carol = create_user(*a, "carol");
    REQUIRE(outcome(a->login(alice.name, alice.password)) == "ok");
    auto b = login_client(server, bob);
    MessageId last = 0;
    for (int i = 0; i < 30; ++i) {
        const User& to = (i % 3 == 0) ? bob : (i % 3 == 1) ? carol : alice;
        Client& from = (i % 2 == 0) ? *a : *b;
        auto sent = from.send(to.name, "n" + std::to_string(i));
        REQUIRE(outcome(sent) == "ok");
        INFO("send " << i);
        CHECK(sent->id > last);
        last = sent->id;
    }
}

TEST_CASE("send: to an unknown or malformed user is no_such_user", "[conformance][send]") {
    TestServer server(transport_under_test());
    auto a = server.connect_client();
    User alice = create_user(*a, "alice");
    REQUIRE(outcome(a->login(alice.name, alice.password)) == "ok");
    CHECK(code_of(a->send(test::unique_name("ghost"), "hi")) == "no_such_user");
    CHECK(code_of(a->send("", "hi")) == "no_such_user");
    CHECK(code_of(a->send("a b", "hi")) == "no_such_user");
    CHECK(code_of(a->send("a*", "hi")) == "no_such_user");
    CHECK(code_of(a->send(std::string(33, 'a'), "hi")) == "no_such_user");
    CHECK(code_of(a->send("j\xC3\xBCrgen", "hi")) == "no_such_user");
    CHECK(code_of(a->send(alice.name + " ", "hi")) == "no_such_user");
}

TEST_CASE("send: to yourself is allowed and pushed to your own sessions", "[conformance][send]") {
    TestServer server(transport_under_test());
    User alice = create_user(server, "alice");
    auto a = login_client(server, alice, false);
    auto sent = a->send(alice.name, "note to self");
    REQUIRE(outcome(sent) == "ok");
    CHECK(sent->from == alice.name);
    CHECK(sent->to == alice.name);
    auto pushed = a.inbox->wait_message();
    REQUIRE(pushed.has_value());
    CHECK(*pushed == *sent);
    auto fetched = a->fetch();
    REQUIRE(outcome(fetched) == "ok");
    REQUIRE(fetched->messages.size() == 1);
    CHECK(fetched->messages[0] == *sent);
}

TEST_CASE("send: bodies of 1 and 16384 bytes are accepted", "[conformance][send]") {
    TestServer server(transport_under_test());
    auto a = server.connect_client();
    User alice = create_user(*a, "alice");
    User bob = create_user(*a, "bob");
    REQUIRE(outcome(a->login(alice.name, alice.password)) == "ok");
    auto one = a->send(bob.name, "x");
    REQUIRE(outcome(one) == "ok");
    CHECK(one->body == "x");
    const std::string largest(16384, 'y');
    auto big = a->send(bob.name, largest);
    REQUIRE(outcome(big) == "ok");
    CHECK(big->body == largest);
    // 16382 ASCII bytes and one 2-byte character: exactly the limit.
    const std::string multibyte = std::string(16382, 'z') + "\xC3\xA9";
    auto mb = a->send(bob.name, multibyte);
    REQUIRE(outcome(mb) == "ok");
    CHECK(mb->body == multibyte);
}

TEST_CASE("send: an empty or 16385-byte body is invalid_message", "[conformance][send]") {
    TestServer server(transport_under_test());
    auto a = server.connect_client();
    User alice = create_user(*a, "alice");
    User bob = create_user(*a, "bob");
    REQUIRE(outcome(a->login(alice.name, alice.password)) == "ok");
    CHECK(code_of(a->send(bob.name, "")) == "invalid_message");
    CHECK(code_of(a->send(bob.name, std::string(16385, 'y'))) == "invalid_message");
    // The limit counts bytes: 16383 ASCII bytes and one 2-byte character is one byte too many.
    CHECK(code_of(a->send(bob.name, std::string(16383, 'z') + "\xC3\xA9")) == "invalid_message");
    // Nothing was stored.
    std::uint64_t unread = 99;
    auto b = login_client(server, bob, false, &unread);
    CHECK(unread == 0);
}

TEST_CASE("send: a body that is not valid UTF-8 is invalid_message", "[conformance][send]") {
    TestServer server(transport_under_test(), quick_reply_options());
    auto a = server.connect_client();
    User alice = create_user(*a, "alice");
    User bob = create_user(*a, "bob");
    REQUIRE(outcome(a->login(alice.name, alice.password)) == "ok");
    const std::vector<std::string> bad = {
        "\xFF",              // never valid
        "ab\xC3",            // truncated sequence
        "\xC0\xAF",          // overlong '/'
        "\xE0\x80\xAF",      // overlong, 3 bytes
        "\xED\xA0\x80",      // UTF-16 surrogate
        "\xF4\x90\x80\x80",  // above U+10FFFF
        "\x80"
        "continuation",             // lone continuation byte
        "ok then \xE2\x82 broken",  // truncated in the middle
    };
    for (const auto& body : bad) {
        INFO("body bytes " << Catch::Detail::stringify(body));
        CHECK(code_of(a->send(bob.name, body)) == "invalid_message");
    }
    std::uint64_t unread = 99;
    auto b = login_client(server, bob, false, &unread);
    CHECK(unread == 0);
}

TEST_CASE("push: a message reaches the recipient's live session at once", "[conformance][push]") {
    TestServer server(transport_under_test());
    auto a = server.connect_client();
    User alice = create_user(*a, "alice");
    User bob = create_user(*a, "bob");
    REQUIRE(outcome(a->login(alice.name, alice.password)) == "ok");
    auto b = login_client(server, bob, false);
    auto sent = a->send(bob.name, "live");
    REQUIRE(outcome(sent) == "ok");
    auto pushed = b.inbox->wait_message();
    REQUIRE(pushed.has_value());
    CHECK(*pushed == *sent);
}

TEST_CASE("push: every live session of the recipient gets the message once",
          "[conformance][push]") {
    TestServer server(transport_under_test());
    auto a = server.connect_client();
    User alice = create_user(*a, "alice");
    User bob = create_user(*a, "bob");
    REQUIRE(outcome(a->login(alice.name, alice.password)) == "ok");
    auto a2 = login_client(server, alice, false);  // the sender's other session
    auto b1 = login_client(server, bob, false);
    auto b2 = login_client(server, bob, false);
    auto b3 = login_client(server, bob, true);

    auto sent = a->send(bob.name, "to all of bob");
    REQUIRE(outcome(sent) == "ok");
    for (auto* b : {&b1, &b2, &b3}) {
        auto pushed = b->inbox->wait_message();
        REQUIRE(pushed.has_value());
        CHECK(*pushed == *sent);
    }
    // One quiet window covers every inbox: nothing more for bob, nothing for alice.
    CHECK(b1.inbox->expect_no_message());
    CHECK(b2.inbox->pending_messages() == 0);
    CHECK(b3.inbox->pending_messages() == 0);
    CHECK(a.inbox->pending_messages() == 0);
    CHECK(a2.inbox->pending_messages() == 0);
}

TEST_CASE("push: auto_ack hands each message over once and acknowledges it",
          "[conformance][push]") {
    TestServer server(transport_under_test());
    auto a = server.connect_client();
    User alice = create_user(*a, "alice");
    User bob = create_user(*a, "bob");
    REQUIRE(outcome(a->login(alice.name, alice.password)) == "ok");
    auto b1 = login_client(server, bob, true);
    auto b2 = login_client(server, bob, true);
    auto first = a->send(bob.name, "one");
    auto second = a->send(bob.name, "two");
    REQUIRE(outcome(first) == "ok");
    REQUIRE(outcome(second) == "ok");
    for (auto* b : {&b1, &b2}) {
        auto got = b->inbox->wait_messages(2);
        REQUIRE(got.size() == 2);
        CHECK(got[0] == *first);
        CHECK(got[1] == *second);
    }
    CHECK(b1.inbox->expect_no_message());
    CHECK(b2.inbox->pending_messages() == 0);

    // The automatic acks reach the server: the queue empties (no event tells when, so poll it).
    auto checker = login_client(server, bob, false);
    const bool drained = eventually([&] {
        auto fetched = checker->fetch();
        return fetched.ok() && fetched->messages.empty() && fetched->remaining == 0;
    });
    CHECK(drained);
    std::uint64_t unread = 99;
    auto later = login_client(server, bob, false, &unread);
    CHECK(unread == 0);
}

TEST_CASE("push: a message sent to a user who is offline is only queued", "[conformance][push]") {
    TestServer server(transport_under_test());
    auto a = server.connect_client();
    User alice = create_user(*a, "alice");
    User bob = create_user(*a, "bob");
    REQUIRE(outcome(a->login(alice.name, alice.password)) == "ok");
    auto s1 = a->send(bob.name, "first");
    auto s2 = a->send(bob.name, "second");
    REQUIRE(outcome(s1) == "ok");
    REQUIRE(outcome(s2) == "ok");

    std::uint64_t unread = 0;
    auto b = login_client(server, bob, false, &unread);
    CHECK(unread == 2);
    // Login does not push the backlog.
    CHECK(b.inbox->expect_no_message());
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    REQUIRE(fetched->messages.size() == 2);
    CHECK(fetched->messages[0] == *s1);
    CHECK(fetched->messages[1] == *s2);
}

}  // namespace
}  // namespace chat::conformance
