// Conformance: create_account (username and password rules, case-insensitive uniqueness) and
// login (canonical names, unread counts, one code for every bad credential).
#include <cctype>
#include <string>
#include <vector>

#include "suite.hpp"

namespace chat::conformance {
namespace {

TEST_CASE("create_account: a new account can log in", "[conformance][create_account]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    User u = create_user(*c, "fresh");
    auto login = c->login(u.name, u.password);
    REQUIRE(outcome(login) == "ok");
    CHECK(login->username == u.name);
    CHECK(login->unread == 0);
}

TEST_CASE("create_account: usernames of 1 and 32 bytes are accepted",
          "[conformance][create_account]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    CHECK(outcome(c->create_account("x", "pw")) == "ok");
    const std::string longest = test::unique_name(std::string(32, 'L'));
    REQUIRE(longest.size() == 32);
    CHECK(outcome(c->create_account(longest, "pw")) == "ok");
    CHECK(outcome(c->login(longest, "pw")) == "ok");
}

TEST_CASE("create_account: usernames of 0 or 33 bytes are invalid_username",
          "[conformance][create_account]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    CHECK(code_of(c->create_account("", "pw")) == "invalid_username");
    CHECK(code_of(c->create_account(std::string(33, 'a'), "pw")) == "invalid_username");
    CHECK(code_of(c->create_account(std::string(300, 'a'), "pw")) == "invalid_username");
}

TEST_CASE("create_account: every allowed character class is accepted",
          "[conformance][create_account]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    for (const char* name :
         {"AZaz09", "under_score", "dot.ted", "da-sh", "_", ".", "-", "Az09_.-", "0123456789"}) {
        INFO("username " << name);
        CHECK(outcome(c->create_account(name, "pw")) == "ok");
    }
}

TEST_CASE("create_account: characters outside the allowed set are invalid_username",
          "[conformance][create_account]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    const std::vector<std::string> bad = {"a b",
                                          "a@b",
                                          "a/b",
                                          "a*b",
                                          "a?b",
                                          "a\\b",
                                          "a:b",
                                          "a,b",
                                          "a+b",
                                          "a'b",
                                          "a\"b",
                                          "a\nb",
                                          "a\tb",
                                          " ab",
                                          "ab ",
                                          "a~b",
                                          "a!b",
                                          "a#b",
                                          "a%b",
                                          "a(b)",
                                          "a{b}",
                                          "a|b",
                                          "a=b",
                                          "a;b",
                                          "a<b>",
                                          "a$b",
                                          "a&b",
                                          "a^b",
                                          "a`b",
                                          "a[b]",
                                          std::string("a\0b", 3)};
    for (const auto& name : bad) {
        INFO("username bytes " << Catch::Detail::stringify(name));
        CHECK(code_of(c->create_account(name, "pw")) == "invalid_username");
    }
}

TEST_CASE("create_account: a non-ASCII username is invalid_username",
          "[conformance][create_account]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    CHECK(code_of(c->create_account("j\xC3\xBCrgen", "pw")) == "invalid_username");  // jürgen
    CHECK(code_of(c->create_account("\xE5\x90\x8D", "pw")) == "invalid_username");   // 名
    CHECK(code_of(c->create_account("a\xE2\x80\x8B"
                                    "b",
                                    "pw")) ==  // ZWSP
          "invalid_username");
}

TEST_CASE("create_account: a username that is not UTF-8 is invalid_username",
          "[conformance][create_account]") {
    TestServer server(transport_under_test(), quick_reply_options());
    auto c = server.connect_client();
    CHECK(code_of(c->create_account("a\xFF"
                                    "b",
                                    "pw")) == "invalid_username");
}

TEST_CASE("create_account: an empty or 257-byte password is invalid_password",
          "[conformance][create_account]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    CHECK(code_of(c->create_account(test::unique_name("pw_empty"), "")) == "invalid_password");
    const std::string name = test::unique_name("pw_long");
    CHECK(code_of(c->create_account(name, std::string(257, 'p'))) == "invalid_password");
    // Nothing was created.
    CHECK(code_of(c->login(name, std::string(257, 'p'))) == "bad_credentials");
    CHECK(outcome(c->create_account(name, "pw")) == "ok");
}

TEST_CASE("create_account: a password that is not UTF-8 is invalid_password",
          "[conformance][create_account]") {
    TestServer server(transport_under_test(), quick_reply_options());
    auto c = server.connect_client();
    CHECK(code_of(c->create_account(test::unique_name("pw_bad"),
                                    "pa\xC3"
                                    "ss")) == "invalid_password");
}

TEST_CASE("create_account: passwords of 1 and 256 bytes of any UTF-8 work",
          "[conformance][create_account]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    const std::string one = test::unique_name("pw_one");
    CHECK(outcome(c->create_account(one, "p")) == "ok");
    const std::string ascii = test::unique_name("pw_256");
    CHECK(outcome(c->create_account(ascii, std::string(256, 'p'))) == "ok");
    std::string utf8;
    for (int i = 0; i < 128; ++i) utf8 += "\xC3\xA9";  // é: 256 bytes in all
    REQUIRE(utf8.size() == 256);
    const std::string accented = test::unique_name("pw_utf8");
    CHECK(outcome(c->create_account(accented, utf8)) == "ok");
    const std::string spaced = test::unique_name("pw_spaces");
    CHECK(outcome(c->create_account(spaced, " pass word \"with\" \\ symbols ")) == "ok");

    auto c1 = server.connect_client();
    CHECK(outcome(c1->login(one, "p")) == "ok");
    auto c2 = server.connect_client();
    CHECK(outcome(c2->login(ascii, std::string(256, 'p'))) == "ok");
    auto c3 = server.connect_client();
    CHECK(outcome(c3->login(accented, utf8)) == "ok");
    auto c4 = server.connect_client();
    CHECK(outcome(c4->login(spaced, " pass word \"with\" \\ symbols ")) == "ok");
}

TEST_CASE("create_account: a taken name is user_exists in any case",
          "[conformance][create_account]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    const std::string name = test::unique_name("MiXed");
    REQUIRE(outcome(c->create_account(name, "first")) == "ok");
    CHECK(code_of(c->create_account(name, "first")) == "user_exists");
    CHECK(code_of(c->create_account(name, "other")) == "user_exists");
    std::string lower = name;
    std::string upper = name;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    CHECK(code_of(c->create_account(lower, "other")) == "user_exists");
    CHECK(code_of(c->create_account(upper, "other")) == "user_exists");
    // The first registration is kept: its password still works, the others' do not.
    auto login = c->login(upper, "first");
    REQUIRE(outcome(login) == "ok");
    CHECK(login->username == name);
}

TEST_CASE("create_account: allowed while logged in and keeps the session",
          "[conformance][create_account]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    User alice = create_user(*c, "alice");
    REQUIRE(outcome(c->login(alice.name, alice.password)) == "ok");
    User bob = create_user(*c, "bob");  // on the logged-in connection
    auto sent = c->send(bob.name, "still alice");
    REQUIRE(outcome(sent) == "ok");
    CHECK(sent->from == alice.name);
    CHECK(sent->to == bob.name);
    CHECK(outcome(c->fetch()) == "ok");
    // The new account is usable.
    std::uint64_t unread = 0;
    auto b = login_client(server, bob, true, &unread);
    CHECK(unread == 1);
}

TEST_CASE("login: returns the canonical name whatever case is typed", "[conformance][login]") {
    TestServer server(transport_under_test());
    auto setup = server.connect_client();
    User u = create_named_user(*setup, test::unique_name("CamelCase"));
    std::string lower = u.name;
    std::string upper = u.name;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    for (const auto& typed : {lower, upper, u.name}) {
        INFO("typed " << typed);
        auto c = server.connect_client();
        auto login = c->login(typed, u.password);
        REQUIRE(outcome(login) == "ok");
        CHECK(login->username == u.name);
        CHECK(login->unread == 0);
    }
}

TEST_CASE("login: reports the number of unread messages", "[conformance][login]") {
    TestServer server(transport_under_test());
    auto a = server.connect_client();
    User alice = create_user(*a, "alice");
    User bob = create_user(*a, "bob");
    REQUIRE(outcome(a->login(alice.name, alice.password)) == "ok");
    for (int i = 0; i < 3; ++i) REQUIRE(outcome(a->send(bob.name, "hi")) == "ok");

    std::uint64_t unread = 0;
    auto b = login_client(server, bob, false, &unread);
    CHECK(unread == 3);
    // Fetching does not acknowledge: a new login still counts them.
    auto fetched = b->fetch();
    REQUIRE(outcome(fetched) == "ok");
    REQUIRE(fetched->messages.size() == 3);
    auto b2 = login_client(server, bob, false, &unread);
    CHECK(unread == 3);
    REQUIRE(outcome(b->ack({fetched->messages[0].id})) == "ok");
    auto b3 = login_client(server, bob, false, &unread);
    CHECK(unread == 2);
}

TEST_CASE("login: unknown or malformed names are bad_credentials", "[conformance][login]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    CHECK(code_of(c->login(test::unique_name("nobody"), "pw")) == "bad_credentials");
    CHECK(code_of(c->login("", "pw")) == "bad_credentials");
    CHECK(code_of(c->login("a b", "pw")) == "bad_credentials");
    CHECK(code_of(c->login("a*", "pw")) == "bad_credentials");
    CHECK(code_of(c->login(std::string(33, 'a'), "pw")) == "bad_credentials");
    CHECK(code_of(c->login("j\xC3\xBCrgen", "pw")) == "bad_credentials");
}

TEST_CASE("login: five failed logins on one connection lock that connection for a while",
          "[conformance][login][limits]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    User alice = create_user(*c, "alice");
    // Five different unknown names: no single account is guessed at five times.
    for (int i = 0; i < 5; ++i) {
        REQUIRE(code_of(c->login(test::unique_name("guess"), "pw")) == "bad_credentials");
    }
    auto locked = c->login(alice.name, alice.password);
    REQUIRE(code_of(locked) == "rate_limited");
    CHECK(locked.error().message.find("connection") != std::string::npos);
    // The connection stays usable for everything else, and other connections may log in.
    CHECK(outcome(c->hello(1)) == "ok");
    auto other = server.connect_client();
    CHECK(outcome(other->login(alice.name, alice.password)) == "ok");
}

TEST_CASE("login: five failed logins for one name lock that name for a while",
          "[conformance][login][limits]") {
    // The lockout is kept by each node (docs/operations.md): the guesses go to one.
    TestServerOptions options;
    options.one_node = true;
    TestServer server(transport_under_test(), options);
    User alice = create_user(server, "alice");
    User bob = create_user(server, "bob");
    // Each guess over a connection of its own: the name locks, not the connections.
    for (int i = 0; i < 5; ++i) {
        auto c = server.connect_client();
        REQUIRE(code_of(c->login(alice.name, "wrong")) == "bad_credentials");
    }
    auto c = server.connect_client();
    auto locked = c->login(alice.name, alice.password);
    REQUIRE(code_of(locked) == "rate_limited");
    CHECK(locked.error().message.find("account") != std::string::npos);
    CHECK(outcome(c->login(bob.name, bob.password)) == "ok");
}

TEST_CASE("login: an empty or wrong password is bad_credentials", "[conformance][login]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    const std::string name = test::unique_name("victim");
    REQUIRE(outcome(c->create_account(name, "Secret")) == "ok");
    CHECK(code_of(c->login(name, "")) == "bad_credentials");
    CHECK(code_of(c->login(name, "secret")) == "bad_credentials");
    CHECK(code_of(c->login(name, "Secre")) == "bad_credentials");
    CHECK(code_of(c->login(name, "Secret ")) == "bad_credentials");
    CHECK(code_of(c->login(name, std::string(257, 'x'))) == "bad_credentials");
    // A failed login leaves the connection without a session.
    CHECK(code_of(c->fetch()) == "not_logged_in");
    CHECK(outcome(c->login(name, "Secret")) == "ok");
}

TEST_CASE("login: a second login on a connection with a session", "[conformance][login]") {
    TestServer server(transport_under_test());
    auto c = server.connect_client();
    User alice = create_user(*c, "alice");
    User bob = create_user(*c, "bob");
    REQUIRE(outcome(c->login(alice.name, alice.password)) == "ok");
    auto second = c->login(bob.name, bob.password);
    if (one_session_per_connection()) {
        CHECK(code_of(second) == "already_logged_in");
        // The first session is untouched.
        auto sent = c->send(bob.name, "from the first session");
        REQUIRE(outcome(sent) == "ok");
        CHECK(sent->from == alice.name);
    } else {
        // gRPC: a login always makes a new session (docs/protocol.md, gRPC transport).
        REQUIRE(outcome(second) == "ok");
        CHECK(second->username == bob.name);
    }
}

TEST_CASE("login: one user may be logged in on several connections", "[conformance][login]") {
    TestServer server(transport_under_test());
    User u = create_user(server, "multi");
    auto c1 = login_client(server, u);
    auto c2 = login_client(server, u);
    auto c3 = login_client(server, u);
    CHECK(outcome(c1->fetch()) == "ok");
    CHECK(outcome(c2->fetch()) == "ok");
    CHECK(outcome(c3->fetch()) == "ok");
}

}  // namespace
}  // namespace chat::conformance
