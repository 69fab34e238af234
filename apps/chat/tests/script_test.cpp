// Tests of the scripted subcommands against a fake client: output formats and exit codes.
#include "script.hpp"

#include <catch2/catch.hpp>
#include <sstream>

#include "exit_codes.hpp"
#include "fake_client.hpp"

using namespace chat;
using namespace chat::cli;
using namespace chat::cli::test;

namespace {

struct Run {
    int code;
    std::string out;
    std::string err;
};

Run run(FakeClient& client, ScriptRequest request) {
    request.server = "test:1";
    std::ostringstream out;
    std::ostringstream err;
    const int code = run_script(request, client, out, err);
    return Run{code, out.str(), err.str()};
}

ScriptRequest as(std::string user, std::string password, ScriptCommand command) {
    ScriptRequest r;
    r.user = std::move(user);
    r.password = std::move(password);
    r.command = command;
    return r;
}

}  // namespace

TEST_CASE("script create-account then a second time fails with user_exists", "[script]") {
    FakeClient client;
    auto r = run(client, as("alice", "pw", ScriptCommand::create_account));
    CHECK(r.code == kExitOk);
    CHECK(r.out == "created account alice\n");
    auto again = as("alice", "pw", ScriptCommand::create_account);
    again.json = true;
    r = run(client, again);
    CHECK(r.code == kExitFailed);
    CHECK(r.err == "error: user_exists: alice is taken\n");
}

TEST_CASE("script send prints the message and json form", "[script]") {
    FakeClient client;
    client.add_account("alice", "pw");
    client.add_account("bob", "pw");
    auto req = as("alice", "pw", ScriptCommand::send);
    req.to = "bob";
    req.body = "hi \"bob\"";
    auto r = run(client, req);
    CHECK(r.code == kExitOk);
    CHECK(r.out == "sent message 1 to bob\n");
    req.json = true;
    r = run(client, req);
    CHECK(r.out ==
          R"({"id":2,"from":"alice","to":"bob","body":"hi \"bob\"","sent_at":1764000000000})"
          "\n");
    req.to = "nobody";
    r = run(client, req);
    CHECK(r.code == kExitFailed);
    CHECK(r.err == "error: no_such_user: nobody does not exist\n");
}

TEST_CASE("script fetch prints all pages acks them and honours max", "[script]") {
    FakeClient client;
    client.add_account("bob", "pw");
    for (int i = 0; i < 5; ++i) client.queue_message("alice", "bob", "m" + std::to_string(i));
    auto req = as("bob", "pw", ScriptCommand::fetch);
    req.max = 2;
    auto r = run(client, req);
    CHECK(r.code == kExitOk);
    CHECK(r.out.find("] alice: m0\n") != std::string::npos);
    CHECK(r.out.find("] alice: m1\n") != std::string::npos);
    CHECK(r.out.find("m2") == std::string::npos);
    CHECK(client.queued_for("bob") == 3);
    req.max = 0;
    req.json = true;
    r = run(client, req);
    CHECK(r.out.find(R"("body":"m4")") != std::string::npos);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 3);
    CHECK(client.queued_for("bob") == 0);
    req.json = false;
    r = run(client, req);
    CHECK(r.code == kExitOk);
    CHECK(r.out.empty());
    CHECK(r.err == "no new messages\n");
}

TEST_CASE("script list walks every page", "[script]") {
    FakeClient client;
    client.max_page = 2;
    for (const char* name : {"alice", "Albert", "alfred", "bob"}) client.add_account(name, "pw");
    auto req = as("bob", "pw", ScriptCommand::list);
    req.pattern = "AL*";
    auto r = run(client, req);
    CHECK(r.code == kExitOk);
    CHECK(r.out == "Albert\nalfred\nalice\n");
    req.json = true;
    req.pattern = "b?b";
    r = run(client, req);
    CHECK(r.out == "{\"username\":\"bob\"}\n");
}

TEST_CASE("script sanitises the names and messages the server sends", "[script]") {
    FakeClient client;
    client.add_account("bob", "pw");
    // Names as a hostile server could send them: an escape sequence, a bidi override, a
    // zero-width space, a line break that would fake another line of output.
    client.add_account("b\x1b[2Jad", "pw");
    client.add_account("bo\u202Eb", "pw");
    client.add_account("bo\u200Bb", "pw");
    client.add_account("bo\nalice", "pw");
    client.add_account("bo\u2028carol", "pw");
    auto req = as("bob", "pw", ScriptCommand::list);
    req.pattern = "b*";
    auto r = run(client, req);
    CHECK(r.code == kExitOk);
    CHECK(r.out == "b^[[2Jad\nbo^Jalice\nbob\nbo<U+200B>b\nbo<U+2028>carol\nbo<U+202E>b\n");
    CHECK(r.out.find('\x1b') == std::string::npos);
    CHECK(r.out.find("\u202E") == std::string::npos);
    CHECK(r.out.find("\u200B") == std::string::npos);
    CHECK(r.out.find("\u2028") == std::string::npos);
    req.json = true;
    r = run(client, req);
    CHECK(r.out.find("{\"username\":\"b\\u001b[2Jad\"}\n") != std::string::npos);
    CHECK(r.out.find("{\"username\":\"bo\\u202eb\"}\n") != std::string::npos);
    CHECK(r.out.find("{\"username\":\"bo\\u2028carol\"}\n") != std::string::npos);

    auto send = as("bob", "pw", ScriptCommand::send);
    send.to = "bo\u202Eb";
    send.body = "hi";
    r = run(client, send);
    CHECK(r.code == kExitOk);
    CHECK(r.out == "sent message 1 to bo<U+202E>b\n");

    client.queue_message("bo\u202Eb\x1b]0;title\x07", "bob", "look \u2066here\u2069\u2029next");
    auto fetch = as("bob", "pw", ScriptCommand::fetch);
    r = run(client, fetch);
    CHECK(r.code == kExitOk);
    CHECK(r.out.find("] bo<U+202E>b^[]0;title^G: look <U+2066>here<U+2069>\n") !=
          std::string::npos);
    CHECK(r.out.find('\x1b') == std::string::npos);
    CHECK(r.out.find("\u202E") == std::string::npos);
}

TEST_CASE("script bad credentials exit 1 and connect failure exit 3", "[script]") {
    FakeClient client;
    client.add_account("alice", "pw");
    auto r = run(client, as("alice", "nope", ScriptCommand::fetch));
    CHECK(r.code == kExitFailed);
    CHECK(r.err == "error: bad_credentials: wrong username or password\n");
    client.fail_connect = true;
    r = run(client, as("alice", "pw", ScriptCommand::fetch));
    CHECK(r.code == kExitConnection);
    CHECK(r.err.starts_with("error: cannot connect to test:1: "));
}

TEST_CASE("script connection lost during a request exits 3", "[script]") {
    FakeClient client;
    client.add_account("alice", "pw");
    client.break_on_send = true;
    auto req = as("alice", "pw", ScriptCommand::send);
    req.to = "alice";
    req.body = "hi";
    auto r = run(client, req);
    CHECK(r.code == kExitConnection);
    CHECK(r.err == "error: disconnected from test:1: connection closed\n");
}

TEST_CASE("script refuses text that is not UTF-8 without connecting", "[script]") {
    FakeClient client;
    client.fail_connect = true;  // would give exit 3 if it tried
    auto req = as("alice", "pw", ScriptCommand::send);
    req.to = "bob";
    req.body = "\xff\xfe";
    auto r = run(client, req);
    CHECK(r.code == kExitFailed);
    CHECK(r.err == "error: invalid_message: the message is not valid UTF-8 text\n");
}
