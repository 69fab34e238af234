// Conformance: which ops need a session, logout, and closing the connection as a logout.
#include <future>
#include <memory>
#include <string>

#include "suite.hpp"

namespace chat::conformance {
namespace {

// Every op that needs a session, each expected to answer not_logged_in on `c`.
void check_every_op_needs_a_session(Client& c, const User& existing) {
    CHECK(code_of(c.send(existing.name, "hi")) == "not_logged_in");
    CHECK(code_of(c.fetch()) == "not_logged_in");
    CHECK(code_of(c.fetch(10)) == "not_logged_in");
    CHECK(code_of(c.ack({1})) == "not_logged_in");
    CHECK(code_of(c.ack({}, 1)) == "not_logged_in");
    CHECK(code_of(c.list_accounts()) == "not_logged_in");
    CHECK(code_of(c.list_accounts("*", 10)) == "not_logged_in");
    CHECK(code_of(c.delete_account(existing.password)) == "not_logged_in");
    CHECK(code_of(c.logout()) == "not_logged_in");
}

TEST_CASE("session: every op but hello create_account and login needs a session",
          "[conformance][session]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    User u = create_user(*c, "exists");
    check_every_op_needs_a_session(*c, u);
    // Nothing above had an effect: the account still exists.
    CHECK(outcome(c->login(u.name, u.password)) == "ok");
}

TEST_CASE("session: pipelined send without a session is not_logged_in", "[conformance][session]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    User u = create_user(*c, "exists");
    auto code = std::make_shared<std::promise<std::string>>();
    auto result = code->get_future();
    c->send_async(u.name, "hi", [code](Result<Message> r) { code->set_value(code_of(r).code); });
    REQUIRE(result.wait_for(kEventTimeout) == std::future_status::ready);
    CHECK(result.get() == "not_logged_in");
}

TEST_CASE("logout: ends the session so later ops are not_logged_in", "[conformance][logout]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    User u = create_user(*c, "leaver");
    REQUIRE(outcome(c->login(u.name, u.password)) == "ok");
    REQUIRE(outcome(c->logout()) == "ok");
    check_every_op_needs_a_session(*c, u);
}

TEST_CASE("logout: the user can log in again and the queue is kept", "[conformance][logout]") {
    TestServer server(transport_under_test());
    auto a = server.connect_client();
    User alice = create_user(*a, "alice");
    User bob = create_user(*a, "bob");
    REQUIRE(outcome(a->login(alice.name, alice.password)) == "ok");
    auto b = login_client(server, bob, false);
    REQUIRE(outcome(b->logout()) == "ok");

    auto sent = a->send(bob.name, "while logged out");
    REQUIRE(outcome(sent) == "ok");
    // The ended session gets no push.
    CHECK(b.inbox->expect_no_message());

    auto again = b->login(bob.name, bob.password);
    REQUIRE(outcome(again) == "ok");
    CHECK(again->username == bob.name);
    CHECK(again->unread == 1);
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    REQUIRE(fetched->messages.size() == 1);
    CHECK(fetched->messages[0] == *sent);
    // And the new session gets pushes.
    auto live = a->send(bob.name, "live again");
    REQUIRE(outcome(live) == "ok");
    auto pushed = b.inbox->wait_message();
    REQUIRE(pushed.has_value());
    CHECK(*pushed == *live);
}

TEST_CASE("disconnect: closing the connection is a logout and nothing is lost",
          "[conformance][disconnect]") {
    TestServer server(transport_under_test());
    auto a = server.connect_client();
    User alice = create_user(*a, "alice");
    User bob = create_user(*a, "bob");
    REQUIRE(outcome(a->login(alice.name, alice.password)) == "ok");
    {
        auto b = login_client(server, bob);
        b->close();
        b->close();  // idempotent
    }
    auto sent = a->send(bob.name, "while disconnected");
    REQUIRE(outcome(sent) == "ok");

    std::uint64_t unread = 0;
    auto b = login_client(server, bob, false, &unread);
    CHECK(unread == 1);
    CHECK(b.inbox->expect_no_message());  // login does not push the backlog
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    REQUIRE(fetched->messages.size() == 1);
    CHECK(fetched->messages[0] == *sent);
    CHECK(fetched->remaining == 0);
}

TEST_CASE("disconnect: a pushed but unacknowledged message survives the connection",
          "[conformance][disconnect]") {
    TestServer server(transport_under_test());
    auto a = server.connect_client();
    User alice = create_user(*a, "alice");
    User bob = create_user(*a, "bob");
    REQUIRE(outcome(a->login(alice.name, alice.password)) == "ok");
    Message sent;
    {
        auto b = login_client(server, bob, false);
        auto r = a->send(bob.name, "pushed then dropped");
        REQUIRE(outcome(r) == "ok");
        sent = *r;
        auto pushed = b.inbox->wait_message();
        REQUIRE(pushed.has_value());
        CHECK(*pushed == sent);
        b->close();
    }
    std::uint64_t unread = 0;
    auto b = login_client(server, bob, false, &unread);
    CHECK(unread == 1);
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    REQUIRE(fetched->messages.size() == 1);
    CHECK(fetched->messages[0] == sent);
}

TEST_CASE("disconnect: a client that never logged in can close cleanly",
          "[conformance][disconnect]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    c->close();
    auto d = server.connect_client();
    CHECK(outcome(d->hello(1)) == "ok");
}

}  // namespace
}  // namespace chat::conformance
