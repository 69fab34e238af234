// Tests of the interactive client over a line console (the path scripts use through a pipe),
// with a fake client standing in for the server.
#include "interactive.hpp"

#include <catch2/catch.hpp>
#include <future>

#include "fake_client.hpp"
#include "test_io.hpp"

using namespace chat;
using namespace chat::cli;
using namespace chat::cli::test;
using namespace std::chrono_literals;

namespace {

// Runs a session on its own thread; the test types lines and reads what it prints.
class Driver {
   public:
    explicit Driver(FakeClient& client, InteractiveConfig config = {}) {
        console_ = make_line_console(in_.read_fd(), out_.write_fd());
        if (config.server.empty()) config.server = "test:1";
        session_ = std::make_unique<InteractiveSession>(client, *console_, std::move(config));
        result_ = std::async(std::launch::async, [this] { return session_->run(); });
    }
    ~Driver() {
        in_.close_write();
        if (result_.valid()) result_.wait_for(5s);
    }
    void type(std::string_view lines) { write_fd(in_.write_fd(), lines); }
    bool wait_for(std::string_view text) { return read_until(out_.read_fd(), seen_, text); }
    // Closes the input and returns the exit code (-1 if the session does not end).
    int finish() {
        in_.close_write();
        if (result_.wait_for(5s) != std::future_status::ready) return -1;
        const int code = result_.get();
        out_.close_write();
        seen_ += read_rest(out_.read_fd(), 1s);
        return code;
    }
    const std::string& seen() const { return seen_; }
    Console& console() { return *console_; }

   private:
    Pipe in_;
    Pipe out_;
    std::unique_ptr<Console> console_;
    std::unique_ptr<InteractiveSession> session_;
    std::future<int> result_;
    std::string seen_;
};

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("interactive create account logs in and sends", "[interactive]") {
    FakeClient client;
    client.add_account("bob", "pw-b");
    Driver d(client);
    d.type("1\nalice\npw-a\nsend bob hello there\nquit\n");
    CHECK(d.finish() == kExitOk);
    CHECK(contains(d.seen(), "Connected to fake/1.0 at test:1."));
    CHECK(contains(d.seen(), "Account alice created."));
    CHECK(contains(d.seen(), "Logged in as alice."));
    CHECK(contains(d.seen(), "Sent to bob."));
    CHECK(contains(d.seen(), "Bye."));
    REQUIRE(client.sent.size() == 1);
    CHECK(client.sent[0].body == "hello there");
    CHECK(client.has_account("alice"));
}

TEST_CASE("interactive sanitises the names the server sends", "[interactive]") {
    FakeClient client;
    client.add_account("bo\u202Eb", "pw");
    client.add_account("eve\x1b[2J", "pw");
    client.add_account("eve\u200Bx", "pw");
    Driver d(client);
    d.type("2\nbo\u202Eb\npw\nlist eve*\nsend eve\u200Bx hi\nquit\n");
    CHECK(d.finish() == kExitOk);
    CHECK(contains(d.seen(), "Logged in as bo<U+202E>b."));
    CHECK(contains(d.seen(), "  eve^[[2J\n  eve<U+200B>x"));
    CHECK(contains(d.seen(), "Sent to eve<U+200B>x."));
    CHECK(!contains(d.seen(), "\u202E"));
    CHECK(!contains(d.seen(), "\u200B"));
    CHECK(!contains(d.seen(), "\x1b"));
}

TEST_CASE("interactive login reports unread and fetch shows then acks", "[interactive]") {
    FakeClient client;
    client.add_account("alice", "pw");
    client.queue_message("bob", "alice", "first");
    client.queue_message("bob", "alice", "second");
    Driver d(client);
    d.type("2\nalice\npw\nfetch\nfetch\nquit\n");
    CHECK(d.finish() == kExitOk);
    CHECK(contains(d.seen(), "You have 2 unread messages."));
    CHECK(contains(d.seen(), "Type fetch to read them."));
    CHECK(contains(d.seen(), "] bob: first\n"));
    CHECK(contains(d.seen(), "] bob: second\n"));
    CHECK(contains(d.seen(), "No new messages."));
    CHECK(client.queued_for("alice") == 0);
    CHECK(client.acked == 2);
}

TEST_CASE("interactive bad password and unknown command are explained", "[interactive]") {
    FakeClient client;
    client.add_account("alice", "pw");
    Driver d(client);
    d.type("2\nalice\nwrong\nlogin\nalice\npw\nfrobnicate\nsend nobody hi\nquit\n");
    CHECK(d.finish() == kExitOk);
    CHECK(contains(d.seen(), "Login failed: wrong username or password [bad_credentials]"));
    CHECK(contains(d.seen(), "Unknown command 'frobnicate'"));
    CHECK(contains(d.seen(), "Not sent: nobody does not exist [no_such_user]"));
}

TEST_CASE("interactive send asks for missing recipient and text", "[interactive]") {
    FakeClient client;
    client.add_account("alice", "pw");
    client.add_account("bob", "pw");
    Driver d(client, InteractiveConfig{"alice", "pw", "", 20});
    // The username defaults to --user and the password comes from the configuration.
    d.type("2\n\nsend\nbob\nhow are you?\nsend bob\n\nquit\n");
    CHECK(d.finish() == kExitOk);
    REQUIRE(client.sent.size() == 1);
    CHECK(client.sent[0].to == "bob");
    CHECK(client.sent[0].body == "how are you?");
    CHECK(contains(d.seen(), "Nothing sent: the message is empty."));
}

TEST_CASE("interactive list pages with next", "[interactive]") {
    FakeClient client;
    for (const char* name : {"alice", "albert", "alfred", "bob", "carol"}) {
        client.add_account(name, "pw");
    }
    Driver d(client, InteractiveConfig{std::nullopt, std::nullopt, "", 2});
    d.type("2\nalice\npw\nlist al*\nnext\nnext\nlist zz*\nquit\n");
    CHECK(d.finish() == kExitOk);
    CHECK(contains(d.seen(), "  albert\n  alfred\n-- more: type next --\n  alice (you)\n"));
    CHECK(contains(d.seen(), "Nothing more to show"));
    CHECK(contains(d.seen(), "No account matches 'zz*'."));
    CHECK_FALSE(contains(d.seen(), "  bob"));
}

TEST_CASE("interactive shows a pushed message at once", "[interactive]") {
    FakeClient client;
    client.add_account("alice", "pw");
    Driver d(client);
    d.type("2\nalice\npw\n");
    REQUIRE(d.wait_for("Type help"));
    // Pushed but not acknowledged yet (as if the ack were still on its way): fetch returns it
    // again, and it must not be shown twice.
    const Message m = client.queue_message("bob", "alice", "ping");
    client.raise_push(m);
    REQUIRE(d.wait_for("] bob: ping\n"));
    d.type("fetch\nquit\n");
    CHECK(d.finish() == kExitOk);
    CHECK(contains(d.seen(), "No new messages."));
    CHECK(d.seen().find("bob: ping") == d.seen().rfind("bob: ping"));
    CHECK(client.queued_for("alice") == 0);
}

TEST_CASE("interactive delete asks for password and confirmation", "[interactive]") {
    FakeClient client;
    client.add_account("alice", "pw");
    Driver d(client);
    d.type("2\nalice\npw\ndelete\npw\nno\ndelete\nwrong\nyes\ndelete\npw\nyes\n3\n");
    CHECK(d.finish() == kExitOk);
    CHECK(contains(d.seen(), "Not deleted.\n"));
    CHECK(contains(d.seen(), "Not deleted: wrong password [bad_credentials]"));
    CHECK(contains(d.seen(), "Account alice deleted; you are logged out."));
    // Our own delete is no news: the "deleted in another session" notice must not appear.
    CHECK_FALSE(contains(d.seen(), "another session"));
    CHECK_FALSE(client.has_account("alice"));
}

TEST_CASE("interactive returns to the menu when logged out from elsewhere", "[interactive]") {
    FakeClient client;
    client.add_account("alice", "pw");
    Driver d(client);
    d.type("2\nalice\npw\n");
    REQUIRE(d.wait_for("Type help"));
    client.raise_logged_out();
    REQUIRE(d.wait_for("deleted in another session"));
    REQUIRE(d.wait_for("1) create account"));
    d.type("3\n");
    CHECK(d.finish() == kExitOk);
}

TEST_CASE("interactive exits with 3 when the connection is lost", "[interactive]") {
    FakeClient client;
    client.add_account("alice", "pw");
    Driver d(client);
    d.type("2\nalice\npw\n");
    REQUIRE(d.wait_for("Type help"));
    client.raise_disconnect();
    CHECK(d.finish() == kExitConnection);
    CHECK(contains(d.seen(), "Disconnected from the server: connection closed."));
}

TEST_CASE("interactive reports a connection lost during a request once", "[interactive]") {
    FakeClient client;
    client.add_account("alice", "pw");
    client.add_account("bob", "pw");
    client.break_on_send = true;
    Driver d(client);
    d.type("2\nalice\npw\nsend bob hi\n");
    CHECK(d.finish() == kExitConnection);
    CHECK(contains(d.seen(), "Disconnected from the server: connection closed."));
    CHECK_FALSE(contains(d.seen(), "Not sent"));
}

std::size_t occurrences(const std::string& text, std::string_view part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
}

TEST_CASE("interactive reports a reconnect in one line each and keeps the prompt",
          "[interactive]") {
    FakeClient client;
    client.add_account("alice", "pw");
    client.add_account("bob", "pw");
    Driver d(client);
    d.type("2\nalice\npw\n");
    REQUIRE(d.wait_for("Type help"));
    client.raise_reconnect({.kind = ReconnectEvent::Kind::lost,
                            .error = make_error(Errc::internal, "connection lost: End of file"),
                            .login = {}});
    REQUIRE(d.wait_for("Connection to test:1 lost; reconnecting...\n"));
    d.type("send bob while away\n");
    REQUIRE(d.wait_for("Not sent: not connected: reconnecting to the server [internal]"));
    client.raise_reconnect(
        {.kind = ReconnectEvent::Kind::restored, .error = {}, .login = LoginResult{"alice", 2, 7}});
    REQUIRE(d.wait_for("Reconnected; logged in again as alice (2 unread).\n"));
    // What the client hands over after reconnecting shows like a push, once.
    const Message missed{41, "bob", "alice", "sent while you were away", 1764000000000};
    client.raise_push(missed);
    client.raise_push(missed);
    d.type("send bob back again\n");
    REQUIRE(d.wait_for("Sent to bob."));
    CHECK(d.finish() == kExitOk);
    CHECK(occurrences(d.seen(), "lost; reconnecting") == 1);
    CHECK(occurrences(d.seen(), "Reconnected;") == 1);
    CHECK(occurrences(d.seen(), "bob: sent while you were away") == 1);
    CHECK_FALSE(contains(d.seen(), "Disconnected"));
    CHECK(contains(d.seen(), "Bye."));
}

TEST_CASE("interactive returns to the menu when the login after reconnecting is refused",
          "[interactive]") {
    FakeClient client;
    client.add_account("alice", "pw");
    Driver d(client);
    d.type("2\nalice\npw\n");
    REQUIRE(d.wait_for("Type help"));
    client.raise_reconnect({.kind = ReconnectEvent::Kind::lost,
                            .error = make_error(Errc::internal, "connection lost"),
                            .login = {}});
    REQUIRE(d.wait_for("lost; reconnecting...\n"));
    client.raise_reconnect(
        {.kind = ReconnectEvent::Kind::gave_up,
         .error = make_error(Errc::bad_credentials, "unknown user or wrong password"),
         .login = {}});
    REQUIRE(
        d.wait_for("Reconnected, but logging in again was refused (unknown user or wrong "
                   "password [bad_credentials]); you are logged out.\n"));
    REQUIRE(d.wait_for("1) create account"));
    d.type("2\nalice\npw\n");
    REQUIRE(d.wait_for("Logged in as alice."));
    d.type("quit\n");
    CHECK(d.finish() == kExitOk);
}

TEST_CASE("interactive exits with 3 when it cannot connect", "[interactive]") {
    FakeClient client;
    client.fail_connect = true;
    Driver d(client);
    CHECK(d.finish() == kExitConnection);
    CHECK(contains(d.seen(), "Cannot connect to test:1: connection refused."));
}

TEST_CASE("interactive end of input quits cleanly", "[interactive]") {
    FakeClient client;
    client.add_account("alice", "pw");
    Driver d(client);
    d.type("2\nalice\npw\n");
    CHECK(d.finish() == kExitOk);
    CHECK(contains(d.seen(), "Logged out."));
}

TEST_CASE("interactive refuses a line that is not UTF-8", "[interactive]") {
    FakeClient client;
    client.add_account("alice", "pw");
    client.add_account("bob", "pw");
    Driver d(client);
    d.type("2\nalice\npw\nsend bob \xff\nquit\n");
    CHECK(d.finish() == kExitOk);
    CHECK(contains(d.seen(), "not valid UTF-8"));
    CHECK(client.sent.empty());
}

TEST_CASE("interactive asks for the password after a configured one is refused", "[interactive]") {
    FakeClient client;
    client.add_account("alice", "right");
    Driver d(client, InteractiveConfig{"alice", "wrong", "", 20});
    d.type("2\n\n2\n\nright\nquit\n");
    CHECK(d.finish() == kExitOk);
    CHECK(contains(d.seen(), "the next login asks for it"));
    CHECK(contains(d.seen(), "Logged in as alice."));
}
