// Conformance: delete_account (password check, logged_out to every session, no push after it,
// the queue discarded, sent messages kept, the name free again).
#include <cctype>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "suite.hpp"

namespace chat::conformance {
namespace {

std::string upper(std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return s;
}

TEST_CASE("delete_account: a wrong password is bad_credentials and keeps the account",
          "[conformance][delete_account]") {
    TestServer server(transport_under_test());
    User u = create_user(server, "keeper");
    auto c = login_client(server, u);
    CHECK(code_of(c->delete_account("not the password")) == "bad_credentials");
    CHECK(code_of(c->delete_account("")) == "bad_credentials");
    // Still logged in, still an account.
    CHECK(outcome(c->fetch()) == "ok");
    CHECK(c.inbox->wait_logged_out(test::kQuietWindow) == std::nullopt);
    auto other = server.connect_client();
    CHECK(outcome(other->login(u.name, u.password)) == "ok");
}

TEST_CASE("delete_account: every session gets logged_out and loses its session",
          "[conformance][delete_account]") {
    TestServer server(transport_under_test());
    User bob = create_user(server, "bob");
    User carol = create_user(server, "carol");
    auto b1 = login_client(server, bob, false);
    auto b2 = login_client(server, bob, true);
    auto deleting = login_client(server, bob, false);

    REQUIRE(outcome(deleting->delete_account(bob.password)) == "ok");
    for (auto* b : {&b1, &b2, &deleting}) {
        auto reason = b->inbox->wait_logged_out();
        REQUIRE(reason.has_value());
        CHECK(*reason == LogoutReason::account_deleted);
    }
    for (auto* b : {&b1, &b2, &deleting}) {
        CHECK(code_of((*b)->fetch()) == "not_logged_in");
        CHECK(code_of((*b)->send(carol.name, "ghost")) == "not_logged_in");
        CHECK(code_of((*b)->list_accounts()) == "not_logged_in");
    }
    CHECK(code_of(b1->logout()) == "not_logged_in");
    CHECK(code_of(deleting->delete_account(bob.password)) == "not_logged_in");
    // The account is gone.
    auto fresh = server.connect_client();
    CHECK(code_of(fresh->login(bob.name, bob.password)) == "bad_credentials");
    // The deleting connection can log in again, as somebody else.
    auto as_carol = deleting->login(carol.name, carol.password);
    REQUIRE(outcome(as_carol) == "ok");
    CHECK(as_carol->username == carol.name);
}

TEST_CASE("delete_account: no push follows the logged_out event", "[conformance][delete_account]") {
    TestServer server(transport_under_test());
    User alice = create_user(server, "alice");
    User bob = create_user(server, "bob");
    auto a = login_client(server, alice);
    auto watcher = login_client(server, bob, false);
    auto deleting = login_client(server, bob, false);

    // Sends race with the deletion: each lands before it (and may be pushed) or after it (and
    // fails), but nothing is pushed after logged_out.
    struct State {
        std::mutex mutex;
        std::condition_variable done_cv;
        std::size_t done = 0;
        std::vector<std::string> codes;  // by send index
    };
    auto state = std::make_shared<State>();
    const std::size_t count = 200;
    const std::size_t delete_after = count / 4;
    state->codes.resize(count);
    for (std::size_t i = 0; i < count; ++i) {
        a->send_async(bob.name, "racing " + std::to_string(i), [state, i](Result<Message> r) {
            std::lock_guard lock(state->mutex);
            state->codes[i] = code_of(r).code;
            ++state->done;
            state->done_cv.notify_all();
        });
        if (i == delete_after) REQUIRE(outcome(deleting->delete_account(bob.password)) == "ok");
    }
    {
        std::unique_lock lock(state->mutex);
        REQUIRE(state->done_cv.wait_for(lock, kEventTimeout, [&] { return state->done == count; }));
        for (std::size_t i = 0; i < count; ++i) {
            INFO("racing send " << i << ": " << state->codes[i]);
            if (i > delete_after) {
                CHECK(state->codes[i] == "no_such_user");  // sent after the delete returned
            } else {
                CHECK((state->codes[i] == "ok" || state->codes[i] == "no_such_user"));
            }
        }
    }
    for (auto* b : {&watcher, &deleting}) {
        auto reason = b->inbox->wait_logged_out();
        REQUIRE(reason.has_value());
        CHECK(*reason == LogoutReason::account_deleted);
    }
    CHECK(code_of(a->send(bob.name, "after")) == "no_such_user");
    // One logged_out only; its quiet window also lets any stray push show up.
    CHECK_FALSE(watcher.inbox->wait_logged_out(test::kQuietWindow).has_value());
    CHECK(watcher.inbox->messages_after_logged_out() == 0);
    CHECK(deleting.inbox->messages_after_logged_out() == 0);
}

TEST_CASE("delete_account: discards the messages queued for the account",
          "[conformance][delete_account]") {
    TestServer server(transport_under_test());
    User alice = create_user(server, "alice");
    User bob = create_user(server, "bob");
    auto a = login_client(server, alice);
    REQUIRE(outcome(a->send(bob.name, "one")) == "ok");
    REQUIRE(outcome(a->send(bob.name, "two")) == "ok");
    {
        std::uint64_t unread = 0;
        auto b = login_client(server, bob, false, &unread);
        CHECK(unread == 2);
        REQUIRE(outcome(b->delete_account(bob.password)) == "ok");
    }
    auto c = server.connect_client(false);
    REQUIRE(outcome(c->create_account(bob.name, "new password")) == "ok");
    auto login = c->login(bob.name, "new password");
    REQUIRE(outcome(login) == "ok");
    CHECK(login->unread == 0);
    auto fetched = c->fetch();
    REQUIRE(outcome(fetched) == "ok");
    CHECK(fetched->messages.empty());
    CHECK(fetched->remaining == 0);
}

TEST_CASE("delete_account: messages it sent stay deliverable under its name",
          "[conformance][delete_account]") {
    TestServer server(transport_under_test());
    auto setup = server.connect_client();
    User bob = create_named_user(*setup, test::unique_name("BoB"));
    User carol = create_user(*setup, "carol");
    Message sent;
    {
        auto b = login_client(server, bob);
        auto r = b->send(carol.name, "remember me");
        REQUIRE(outcome(r) == "ok");
        sent = *r;
        REQUIRE(outcome(b->delete_account(bob.password)) == "ok");
    }
    std::uint64_t unread = 0;
    auto c = login_client(server, carol, false, &unread);
    CHECK(unread == 1);
    auto fetched = c->fetch();
    REQUIRE(outcome(fetched) == "ok");
    REQUIRE(fetched->messages.size() == 1);
    CHECK(fetched->messages[0] == sent);
    CHECK(fetched->messages[0].from == bob.name);
}

TEST_CASE("delete_account: the name is free again for a new account",
          "[conformance][delete_account]") {
    TestServer server(transport_under_test());
    User alice = create_user(server, "alice");
    User bob = create_named_user(*server.connect_client(), test::unique_name("bob"));
    auto a = login_client(server, alice);
    auto before = a->send(bob.name, "to the old bob");
    REQUIRE(outcome(before) == "ok");
    {
        auto b = login_client(server, bob);
        REQUIRE(outcome(b->delete_account(bob.password)) == "ok");
    }
    CHECK(code_of(a->send(bob.name, "nobody")) == "no_such_user");
    auto listed = a->list_accounts(bob.name);
    REQUIRE(outcome(listed) == "ok");
    CHECK(listed->accounts.empty());

    // Re-created in another case with another password: the new spelling is canonical.
    const std::string new_name = upper(bob.name);
    auto c = server.connect_client(false);
    REQUIRE(outcome(c->create_account(new_name, "second life")) == "ok");
    CHECK(code_of(c->login(bob.name, bob.password)) == "bad_credentials");
    auto login = c->login(bob.name, "second life");
    REQUIRE(outcome(login) == "ok");
    CHECK(login->username == new_name);
    CHECK(login->unread == 0);
    auto relisted = a->list_accounts(bob.name);
    REQUIRE(outcome(relisted) == "ok");
    CHECK(relisted->accounts == std::vector<std::string>{new_name});

    // Ids keep growing across the deletion; the new account gets new mail live.
    auto after = a->send(bob.name, "to the new bob");
    REQUIRE(outcome(after) == "ok");
    CHECK(after->id > before->id);
    CHECK(after->to == new_name);
    auto pushed = c.inbox->wait_message();
    REQUIRE(pushed.has_value());
    CHECK(*pushed == *after);
}

}  // namespace
}  // namespace chat::conformance
