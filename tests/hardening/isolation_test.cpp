// Isolation: a session can never read, acknowledge or delete another user's messages or account.
// Eve tries each against Bob through chat::Client on every transport built in (picked from the
// registry), and across transports when more than one is built; list_accounts shows names only.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "chat/builtin_transports.hpp"
#include "line_socket.hpp"
#include "support/test_server.hpp"

namespace chat::hardening {
namespace {

using test::TestClient;
using test::TestServer;
using test::TestServerOptions;

template <class T>
std::string outcome(const Result<T>& result) {
    if (result.ok()) return "ok";
    return std::string(to_string(result.code())) + " (" + result.error().message + ")";
}

template <class T>
std::string code_of(const Result<T>& result) {
    return result.ok() ? "ok" : std::string(to_string(result.code()));
}

struct Person {
    std::string name;
    std::string password;
};

Person make_person(Client& client, std::string_view tag) {
    Person p{test::unique_name(tag), {}};
    p.password = "secret-of-" + p.name;
    REQUIRE(outcome(client.create_account(p.name, p.password)) == "ok");
    return p;
}

TestClient logged_in(const TestServer& server, const Person& who, std::string_view transport,
                     std::uint64_t* unread = nullptr) {
    auto client = server.connect_client(false, transport);
    auto login = client->login(who.name, who.password);
    INFO("login as " << who.name << " over " << transport);
    REQUIRE(outcome(login) == "ok");
    if (unread != nullptr) *unread = login->unread;
    return client;
}

std::vector<MessageId> ids_of(const std::vector<Message>& messages) {
    std::vector<MessageId> ids;
    for (const auto& m : messages) ids.push_back(m.id);
    return ids;
}

// Alice writes to Bob and to Eve; Eve (over `eve_transport`) goes after Bob's messages and
// account (Bob uses `bob_transport`).
void run_isolation(const TestServer& server, std::string_view bob_transport,
                   std::string_view eve_transport) {
    INFO("bob over " << bob_transport << ", eve over " << eve_transport);
    auto setup = server.connect_client(false, bob_transport);
    const Person alice = make_person(*setup, "alice");
    const Person bob = make_person(*setup, "bob");
    const Person eve = make_person(*setup, "eve");

    auto a = logged_in(server, alice, bob_transport);
    std::vector<Message> for_bob;
    for (int i = 0; i < 3; ++i) {
        auto sent = a->send(bob.name, "for bob only " + std::to_string(i));
        REQUIRE(outcome(sent) == "ok");
        for_bob.push_back(*sent);
    }
    auto for_eve = a->send(eve.name, "for eve");
    REQUIRE(outcome(for_eve) == "ok");
    const MessageId top_bob_id = for_bob.back().id;

    std::uint64_t eve_unread = 0;
    auto e = logged_in(server, eve, eve_transport, &eve_unread);
    CHECK(eve_unread == 1);

    // Read: fetch shows Eve's own messages only.
    auto fetched = e->fetch(1000);
    REQUIRE(outcome(fetched) == "ok");
    REQUIRE(fetched->messages.size() == 1);
    CHECK(fetched->messages[0] == *for_eve);
    CHECK(fetched->remaining == 0);
    for (const auto& m : fetched->messages) CHECK(m.to == eve.name);

    // Ack: Bob's ids, by id and by up_to, leave Bob's queue untouched.
    auto by_ids = e->ack(ids_of(for_bob));
    REQUIRE(outcome(by_ids) == "ok");
    CHECK(*by_ids == 0);
    auto by_up_to = e->ack({}, top_bob_id);
    REQUIRE(outcome(by_up_to) == "ok");
    CHECK(*by_up_to == 0);
    auto everything = e->ack(ids_of(for_bob), std::numeric_limits<MessageId>::max());
    REQUIRE(outcome(everything) == "ok");
    CHECK(*everything == 1);  // only Eve's own message

    // Account: Eve cannot log in as Bob, take his name, or delete anything with his password.
    {
        auto thief = server.connect_client(false, eve_transport);
        CHECK(code_of(thief->login(bob.name, eve.password)) == "bad_credentials");
        CHECK(code_of(thief->login(bob.name, "")) == "bad_credentials");
        std::string upper = bob.name;
        std::transform(upper.begin(), upper.end(), upper.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        CHECK(code_of(thief->create_account(upper, "mine now")) == "user_exists");
    }
    CHECK(code_of(e->delete_account(bob.password)) == "bad_credentials");
    CHECK(code_of(e->delete_account(alice.password)) == "bad_credentials");
    // Eve's own session and account are still there after the failed attempts.
    CHECK(outcome(e->fetch()) == "ok");

    // List: names only, and Eve's session learns nothing else about Bob.
    auto page = e->list_accounts("*", 1000);
    REQUIRE(outcome(page) == "ok");
    std::set<std::string> names(page->accounts.begin(), page->accounts.end());
    CHECK(names.count(alice.name) == 1);
    CHECK(names.count(bob.name) == 1);
    CHECK(names.count(eve.name) == 1);
    for (const auto& name : page->accounts) {
        CHECK(name.find("secret") == std::string::npos);
        CHECK(name.find("for bob") == std::string::npos);
    }

    // Bob's account and queue survived everything Eve did.
    std::uint64_t bob_unread = 0;
    auto b = logged_in(server, bob, bob_transport, &bob_unread);
    CHECK(bob_unread == for_bob.size());
    auto bobs = b->fetch(1000);
    REQUIRE(outcome(bobs) == "ok");
    CHECK(bobs->messages == for_bob);

    // Eve deleting her own account touches only hers; a new "eve" inherits nothing.
    CHECK(outcome(e->delete_account(eve.password)) == "ok");
    auto again = server.connect_client(false, eve_transport);
    REQUIRE(outcome(again->create_account(eve.name, "new eve")) == "ok");
    REQUIRE(outcome(again->login(eve.name, "new eve")) == "ok");
    auto inherited = again->fetch(1000);
    REQUIRE(outcome(inherited) == "ok");
    CHECK(inherited->messages.empty());
    auto bobs_after = b->fetch(1000);
    REQUIRE(outcome(bobs_after) == "ok");
    CHECK(bobs_after->messages == for_bob);
    CHECK(outcome(b->ack(ids_of(for_bob))) == "ok");
}

std::vector<std::string> built_transports() { return builtin_transports().names(); }

TEST_CASE("isolation: a session cannot read ack or delete another user's messages or account",
          "[hardening][isolation]") {
    for (const auto& transport : built_transports()) {
        TestServer server(transport);
        run_isolation(server, transport, transport);
    }
}

TEST_CASE("isolation: holds across transports served from one core", "[hardening][isolation]") {
    const auto names = built_transports();
    if (names.size() < 2) return;  // one transport built: nothing to cross
    TestServerOptions options;
    options.also_serve = names;
    TestServer server(names.front(), options);
    for (const auto& bob_side : names) {
        for (const auto& eve_side : names) {
            if (bob_side != eve_side) run_isolation(server, bob_side, eve_side);
        }
    }
}

TEST_CASE("isolation: the json list reply carries names and nothing else",
          "[hardening][isolation][json]") {
    TestServer server("json");
    auto setup = server.connect_client(false);
    const Person bob = make_person(*setup, "bob");
    const Person eve = make_person(*setup, "eve");
    e2e::LineSocket raw(server.port("json"));
    namespace json = boost::json;
    REQUIRE(e2e::is_ok(raw.request(R"({"op":"login","username":")" + eve.name +
                                   R"(","password":")" + eve.password + R"("})")));
    auto reply = raw.request(R"({"op":"list_accounts","pattern":"*","limit":1000,"id":1})");
    REQUIRE(e2e::is_ok(reply));
    std::set<std::string> keys;
    for (const auto& member : reply) keys.insert(std::string(member.key()));
    CHECK(keys == std::set<std::string>{"id", "ok", "accounts", "next"});
    bool saw_bob = false;
    for (const auto& entry : reply.at("accounts").as_array()) {
        REQUIRE(entry.is_string());
        if (entry.as_string() == bob.name) saw_bob = true;
    }
    CHECK(saw_bob);
}

}  // namespace
}  // namespace chat::hardening
