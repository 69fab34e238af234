// End-to-end tests of the JSON Lines wire format: the real chatd binary, spoken to over plain
// sockets with hand-written frames, as a client in another language would.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "chatd_process.hpp"
#include "line_socket.hpp"

namespace chat::e2e {
namespace {

using namespace std::chrono_literals;

std::int64_t int_of(const json::value& value) { return value.to_number<std::int64_t>(); }

// A frame of exactly `size` bytes: a hello request padded by an unknown field.
std::string padded_hello(std::size_t size, int id) {
    std::string head = R"({"op":"hello","id":)" + std::to_string(id) + R"(,"pad":")";
    std::string tail = R"("})";
    REQUIRE(size >= head.size() + tail.size());
    return head + std::string(size - head.size() - tail.size(), 'x') + tail;
}

void create_and_login(LineSocket& socket, const std::string& user, const std::string& password) {
    auto created = socket.request(R"({"op":"create_account","username":")" + user +
                                  R"(","password":")" + password + R"("})");
    REQUIRE(is_ok(created));
    auto login = socket.request(R"({"op":"login","username":")" + user + R"(","password":")" +
                                password + R"("})");
    REQUIRE(is_ok(login));
}

TEST_CASE("hello reports version server and max frame") {
    RunningChatd server({"--max-frame", "1024"});
    LineSocket socket(server.port);
    auto reply = socket.request(R"({"op":"hello","version":1,"id":"h1"})");
    CHECK(is_ok(reply));
    CHECK(reply.at("id") == "h1");
    CHECK(int_of(reply.at("version")) == 1);
    CHECK(reply.at("server").as_string().starts_with("chatd/"));
    CHECK(int_of(reply.at("max_frame")) == 1024);

    auto bad = socket.request(R"({"op":"hello","version":2,"id":2})");
    CHECK(code_of(bad) == "unsupported_version");
    auto implicit = socket.request(R"({"op":"hello"})");
    CHECK(is_ok(implicit));
    CHECK(implicit.at("id").is_null());
    CHECK(server.stop() == 0);
}

TEST_CASE("two requests in one write get two replies in order") {
    RunningChatd server;
    LineSocket socket(server.port);
    socket.send_raw("{\"op\":\"hello\",\"id\":1}\n{\"op\":\"nope\",\"id\":2}\n");
    auto first = socket.read_object();
    auto second = socket.read_object();
    CHECK(int_of(first.at("id")) == 1);
    CHECK(is_ok(first));
    CHECK(int_of(second.at("id")) == 2);
    CHECK(code_of(second) == "unknown_op");
    CHECK(server.stop() == 0);
}

TEST_CASE("pipelined replies keep request order across slow and fast ops") {
    RunningChatd server;
    LineSocket socket(server.port);
    // create_account and login wait for password hashing; hello and fetch answer at once.
    socket.send_raw(
        "{\"op\":\"create_account\",\"username\":\"pipe\",\"password\":\"pw\",\"id\":1}\n"
        "{\"op\":\"hello\",\"id\":2}\n"
        "{\"op\":\"login\",\"username\":\"pipe\",\"password\":\"pw\",\"id\":3}\n"
        "{\"op\":\"fetch\",\"id\":4}\n"
        "{\"op\":\"send\",\"to\":\"pipe\",\"body\":\"self\",\"id\":5}\n"
        "{\"op\":\"list_accounts\",\"id\":6}\n");
    std::vector<json::object> replies;
    while (replies.size() < 6) {
        auto frame = socket.read_object();
        if (frame.contains("event")) continue;  // the push of the message sent to ourselves
        replies.push_back(std::move(frame));
    }
    for (std::size_t i = 0; i < replies.size(); ++i) {
        INFO(json::serialize(replies[i]));
        CHECK(int_of(replies[i].at("id")) == static_cast<std::int64_t>(i + 1));
        CHECK(is_ok(replies[i]));
    }
    CHECK(server.stop() == 0);
}

TEST_CASE("a request split over many writes is answered once") {
    RunningChatd server;
    LineSocket socket(server.port);
    const std::string frame = "{\"op\":\"hello\",\"id\":77}\n";
    for (char c : frame) socket.send_raw(std::string(1, c));
    auto reply = socket.read_object();
    CHECK(int_of(reply.at("id")) == 77);
    CHECK(is_ok(reply));
    CHECK(socket.nothing_within(200ms));
    CHECK(server.stop() == 0);
}

TEST_CASE("crlf line endings and blank lines are accepted") {
    RunningChatd server;
    LineSocket socket(server.port);
    socket.send_raw("\n\r\n  \t \n{\"op\":\"hello\",\"id\":1}\r\n\n{\"op\":\"hello\",\"id\":2}\n");
    auto first = socket.read_object();
    auto second = socket.read_object();
    CHECK(int_of(first.at("id")) == 1);
    CHECK(int_of(second.at("id")) == 2);
    CHECK(socket.nothing_within(200ms));
    CHECK(server.stop() == 0);
}

TEST_CASE("a frame of exactly max_frame bytes is accepted") {
    RunningChatd server({"--max-frame", "1024"});
    LineSocket socket(server.port);
    auto frame = padded_hello(1024, 5);
    REQUIRE(frame.size() == 1024);
    auto reply = socket.request(frame);
    CHECK(is_ok(reply));
    CHECK(int_of(reply.at("id")) == 5);
    // The line end does not count, so "\r\n" after a full-size frame is fine too.
    socket.send_raw(padded_hello(1024, 6) + "\r\n");
    CHECK(int_of(socket.read_object().at("id")) == 6);
    CHECK(server.stop() == 0);
}

TEST_CASE("a frame one byte over max_frame gets frame_too_large and the connection closes") {
    RunningChatd server({"--max-frame", "1024"});
    LineSocket socket(server.port);
    LineSocket other(server.port);
    // A good request before the big one is still answered first.
    socket.send_raw("{\"op\":\"hello\",\"id\":1}\n" + padded_hello(1025, 2) + "\n");
    auto first = socket.read_object();
    CHECK(int_of(first.at("id")) == 1);
    auto error = socket.read_object();
    CHECK(code_of(error) == "frame_too_large");
    CHECK(error.at("id").is_null());
    CHECK(socket.wait_closed());
    // Others are unaffected.
    CHECK(is_ok(other.request(R"({"op":"hello"})")));
    CHECK(server.stop() == 0);
}

TEST_CASE("an endless line without newline is cut off at max_frame") {
    RunningChatd server({"--max-frame", "1024"});
    LineSocket socket(server.port);
    socket.send_raw(std::string(4096, ' '));
    auto error = socket.read_object();
    CHECK(code_of(error) == "frame_too_large");
    CHECK(socket.wait_closed());
    CHECK(server.stop() == 0);
}

TEST_CASE("invalid utf-8 gets bad_request and the connection stays usable") {
    RunningChatd server;
    LineSocket socket(server.port);
    auto in_string = socket.request("{\"op\":\"hello\",\"id\":1,\"x\":\"\xC3\x28\"}");
    CHECK(code_of(in_string) == "bad_request");
    CHECK(int_of(in_string.at("id")) == 1);  // the id was readable, so it is echoed
    auto overlong = socket.request("{\"op\":\"hello\",\"id\":2,\"x\":[{\"y\":\"\xC0\xAF\"}]}");
    CHECK(code_of(overlong) == "bad_request");
    auto in_key = socket.request("{\"op\":\"hello\",\"id\":3,\"\xFF\":1}");
    CHECK(code_of(in_key) == "bad_request");
    auto in_op = socket.request("{\"op\":\"hel\xFFlo\",\"id\":4}");
    CHECK(code_of(in_op) == "bad_request");
    auto in_id = socket.request("{\"op\":\"hello\",\"id\":\"\xED\xA0\x80\"}");
    CHECK(code_of(in_id) == "bad_request");
    CHECK(in_id.at("id").is_null());
    auto raw = socket.request("\xFF\xFE{}");
    CHECK(code_of(raw) == "bad_request");
    auto fine = socket.request(R"({"op":"hello","id":5})");
    CHECK(is_ok(fine));
    CHECK(int_of(fine.at("id")) == 5);
    CHECK(server.stop() == 0);
}

TEST_CASE("invalid utf-8 in a text field the domain checks gets the domain error") {
    RunningChatd server;
    LineSocket socket(server.port);
    CHECK(code_of(socket.request(
              "{\"op\":\"create_account\",\"username\":\"a\xFF\",\"password\":\"p\"}")) ==
          "invalid_username");
    CHECK(code_of(socket.request(
              "{\"op\":\"create_account\",\"username\":\"u8\",\"password\":\"p\xC3\"}")) ==
          "invalid_password");
    CHECK(
        code_of(socket.request("{\"op\":\"login\",\"username\":\"u8\",\"password\":\"p\xC3\"}")) ==
        "bad_credentials");
    create_and_login(socket, "u8", "pw");
    CHECK(code_of(socket.request("{\"op\":\"send\",\"to\":\"u8\",\"body\":\"ok \xE2\x82 no\"}")) ==
          "invalid_message");
    CHECK(code_of(socket.request("{\"op\":\"send\",\"to\":\"u\x80\",\"body\":\"hi\"}")) ==
          "no_such_user");
    CHECK(code_of(socket.request("{\"op\":\"list_accounts\",\"pattern\":\"\xFF*\"}")) ==
          "bad_request");
    CHECK(code_of(socket.request(
              "{\"op\":\"send\",\"to\":\"u8\",\"body\":\"x\",\"n\":\"\xFF\"}")) == "bad_request");
    CHECK(socket.request(R"({"op":"fetch"})").at("messages").as_array().empty());
    CHECK(server.stop() == 0);
}

TEST_CASE("deeply nested json gets bad_request and the server stays up") {
    RunningChatd server;
    LineSocket socket(server.port);
    std::string deep =
        "{\"op\":\"hello\",\"id\":1,\"x\":" + std::string(5000, '[') + std::string(5000, ']') + "}";
    auto reply = socket.request(deep);
    CHECK(code_of(reply) == "bad_request");
    CHECK(is_ok(socket.request(R"({"op":"hello"})")));
    LineSocket other(server.port);
    CHECK(is_ok(other.request(R"({"op":"hello"})")));
    CHECK(server.stop() == 0);
}

TEST_CASE("non-object frames get bad_request") {
    RunningChatd server;
    LineSocket socket(server.port);
    for (const char* frame : {"[1,2,3]", "42", "\"hello\"", "null", "true", "{\"op\":\"hello\"} x",
                              "{\"op\":\"hello\"", "op=hello"}) {
        INFO(frame);
        auto reply = socket.request(frame);
        CHECK(code_of(reply) == "bad_request");
        CHECK(reply.at("id").is_null());
        CHECK(reply.at("ok") == false);
        CHECK(reply.at("error").at("message").is_string());
    }
    CHECK(is_ok(socket.request(R"({"op":"hello"})")));
    CHECK(server.stop() == 0);
}

TEST_CASE("an object or array id gets bad_request with a null id") {
    RunningChatd server;
    LineSocket socket(server.port);
    for (const char* frame : {R"({"op":"hello","id":{"a":1}})", R"({"op":"hello","id":[1]})",
                              R"({"op":"hello","id":true})"}) {
        INFO(frame);
        auto reply = socket.request(frame);
        CHECK(code_of(reply) == "bad_request");
        CHECK(reply.at("id").is_null());
    }
    CHECK(server.stop() == 0);
}

TEST_CASE("string and number ids are echoed exactly") {
    RunningChatd server;
    LineSocket socket(server.port);
    CHECK(socket.request(R"({"op":"hello","id":"abc-1"})").at("id") == "abc-1");
    CHECK(int_of(socket.request(R"({"op":"hello","id":-5})").at("id")) == -5);
    CHECK(socket.request(R"({"op":"hello","id":18446744073709551615})").at("id") ==
          json::value(18446744073709551615ull));
    CHECK(socket.request(R"({"op":"hello","id":2.5})").at("id") == 2.5);
    // An error reply echoes the id too.
    CHECK(socket.request(R"({"op":"fetch","id":"f"})").at("id") == "f");
    CHECK(server.stop() == 0);
}

TEST_CASE("unknown op gets unknown_op and missing op gets bad_request") {
    RunningChatd server;
    LineSocket socket(server.port);
    auto unknown = socket.request(R"({"op":"teleport","id":9})");
    CHECK(code_of(unknown) == "unknown_op");
    CHECK(int_of(unknown.at("id")) == 9);
    CHECK(code_of(socket.request(R"({"id":10})")) == "bad_request");
    CHECK(code_of(socket.request(R"({"op":7})")) == "bad_request");
    CHECK(server.stop() == 0);
}

TEST_CASE("wrong field types and missing fields get bad_request") {
    RunningChatd server;
    LineSocket socket(server.port);
    CHECK(code_of(socket.request(R"({"op":"create_account","username":"u"})")) == "bad_request");
    CHECK(code_of(socket.request(R"({"op":"create_account","username":5,"password":"p"})")) ==
          "bad_request");
    CHECK(code_of(socket.request(R"({"op":"hello","version":"1"})")) == "bad_request");
    create_and_login(socket, "typed", "pw");
    CHECK(code_of(socket.request(R"({"op":"send","to":"typed"})")) == "bad_request");
    CHECK(code_of(socket.request(R"({"op":"send","to":"typed","body":1})")) == "bad_request");
    CHECK(code_of(socket.request(R"({"op":"fetch","max":-1})")) == "bad_request");
    CHECK(code_of(socket.request(R"({"op":"fetch","max":"3"})")) == "bad_request");
    CHECK(code_of(socket.request(R"({"op":"ack","ids":[1,"2"]})")) == "bad_request");
    CHECK(code_of(socket.request(R"({"op":"ack"})")) == "bad_request");
    CHECK(code_of(socket.request(R"({"op":"list_accounts","limit":true})")) == "bad_request");
    // Unknown fields are ignored and null means "not given" for optional fields.
    auto fetched = socket.request(R"({"op":"fetch","max":null,"future_field":{"x":1}})");
    CHECK(is_ok(fetched));
    CHECK(server.stop() == 0);
}

TEST_CASE("ops that need a session say not_logged_in") {
    RunningChatd server;
    LineSocket socket(server.port);
    for (const char* frame :
         {R"({"op":"logout"})", R"({"op":"send","to":"x","body":"y"})", R"({"op":"fetch"})",
          R"({"op":"ack","ids":[1]})", R"({"op":"list_accounts"})",
          R"({"op":"delete_account","password":"p"})"}) {
        INFO(frame);
        CHECK(code_of(socket.request(frame)) == "not_logged_in");
    }
    CHECK(server.stop() == 0);
}

TEST_CASE("a client that disconnects mid-frame does not disturb others") {
    RunningChatd server;
    LineSocket steady(server.port);
    create_and_login(steady, "steady", "pw");
    {
        LineSocket quitter(server.port);
        create_and_login(quitter, "quitter", "pw");
        quitter.send_raw(R"({"op":"send","to":"steady","bo)");
        quitter.close();
    }
    {
        LineSocket quitter(server.port);
        quitter.send_raw(R"({"op":"hel)");
    }
    auto reply = steady.request(R"({"op":"send","to":"steady","body":"still here","id":1})");
    // The push to ourselves and the reply may come in either order.
    json::object second = steady.read_object();
    bool reply_first = reply.contains("ok");
    const json::object& answer = reply_first ? reply : second;
    CHECK(is_ok(answer));
    CHECK(int_of(answer.at("id")) == 1);
    // The quitter's session ended with its socket: it can log in again elsewhere.
    LineSocket again(server.port);
    CHECK(is_ok(again.request(R"({"op":"login","username":"quitter","password":"pw"})")));
    CHECK(server.stop() == 0);
}

TEST_CASE("full chat flow over raw sockets") {
    RunningChatd server;
    LineSocket alice(server.port);
    LineSocket bob(server.port);
    REQUIRE(is_ok(alice.request(R"({"op":"create_account","username":"Alice","password":"a"})")));
    REQUIRE(is_ok(alice.request(R"({"op":"create_account","username":"bob","password":"b"})")));
    REQUIRE(is_ok(alice.request(R"({"op":"create_account","username":"carol","password":"c"})")));
    CHECK(code_of(alice.request(R"({"op":"create_account","username":"ALICE","password":"x"})")) ==
          "user_exists");
    CHECK(code_of(alice.request(R"({"op":"login","username":"alice","password":"wrong"})")) ==
          "bad_credentials");

    auto alice_login = alice.request(R"({"op":"login","username":"alice","password":"a"})");
    REQUIRE(is_ok(alice_login));
    CHECK(alice_login.at("username") == "Alice");
    CHECK(int_of(alice_login.at("unread")) == 0);
    CHECK(code_of(alice.request(R"({"op":"login","username":"bob","password":"b"})")) ==
          "already_logged_in");
    REQUIRE(is_ok(bob.request(R"({"op":"login","username":"bob","password":"b"})")));

    // Live: bob is online and gets a push without an id.
    auto sent = alice.request(R"({"op":"send","to":"BOB","body":"hi bob \u00e9","id":"s1"})");
    REQUIRE(is_ok(sent));
    CHECK(sent.at("id") == "s1");
    const auto& message = sent.at("message").as_object();
    CHECK(message.at("from") == "Alice");
    CHECK(message.at("to") == "bob");
    CHECK(message.at("body") == "hi bob \xC3\xA9");
    CHECK(int_of(message.at("sent_at")) > 1600000000000);
    auto push = bob.read_object();
    CHECK(push.at("event") == "message");
    CHECK_FALSE(push.contains("id"));
    CHECK(push.at("message") == sent.at("message"));

    CHECK(code_of(alice.request(R"({"op":"send","to":"nobody","body":"x"})")) == "no_such_user");
    CHECK(code_of(alice.request(R"({"op":"send","to":"bob","body":""})")) == "invalid_message");

    // Pushed but not acked: fetch returns it again; ack removes it.
    auto fetched = bob.request(R"({"op":"fetch"})");
    REQUIRE(is_ok(fetched));
    REQUIRE(fetched.at("messages").as_array().size() == 1);
    CHECK(fetched.at("messages").as_array()[0] == sent.at("message"));
    CHECK(int_of(fetched.at("remaining")) == 0);
    auto id = sent.at("message").at("id");
    auto acked = bob.request(R"({"op":"ack","ids":[)" + json::serialize(id) + "]}");
    CHECK(int_of(acked.at("acked")) == 1);
    CHECK(bob.request(R"({"op":"fetch"})").at("messages").as_array().empty());

    // Offline: carol is not logged in; she finds the messages on login.
    REQUIRE(is_ok(alice.request(R"({"op":"send","to":"carol","body":"one"})")));
    REQUIRE(is_ok(alice.request(R"({"op":"send","to":"carol","body":"two"})")));
    LineSocket carol(server.port);
    auto carol_login = carol.request(R"({"op":"login","username":"carol","password":"c"})");
    CHECK(int_of(carol_login.at("unread")) == 2);
    CHECK(carol.nothing_within(200ms));  // login does not push the backlog
    auto first_page = carol.request(R"({"op":"fetch","max":1})");
    REQUIRE(first_page.at("messages").as_array().size() == 1);
    CHECK(first_page.at("messages").as_array()[0].at("body") == "one");
    CHECK(int_of(first_page.at("remaining")) == 1);
    auto both = carol.request(R"({"op":"fetch"})");
    REQUIRE(both.at("messages").as_array().size() == 2);
    auto last_id = both.at("messages").as_array()[1].at("id");
    auto acked_all = carol.request(R"({"op":"ack","up_to":)" + json::serialize(last_id) + "}");
    CHECK(int_of(acked_all.at("acked")) == 2);

    // Listing.
    auto page = alice.request(R"({"op":"list_accounts","pattern":"*","limit":2})");
    REQUIRE(is_ok(page));
    REQUIRE(page.at("accounts").as_array().size() == 2);
    CHECK(page.at("accounts").as_array()[0] == "Alice");
    CHECK(page.at("accounts").as_array()[1] == "bob");
    REQUIRE(page.at("next").is_string());
    auto rest = alice.request(R"({"op":"list_accounts","pattern":"*","limit":2,"after":)" +
                              json::serialize(page.at("next")) + "}");
    REQUIRE(rest.at("accounts").as_array().size() == 1);
    CHECK(rest.at("accounts").as_array()[0] == "carol");
    CHECK(rest.at("next").is_null());
    auto matching = alice.request(R"({"op":"list_accounts","pattern":"?OB"})");
    CHECK(matching.at("accounts") == json::array{"bob"});

    // Logout ends the session on this connection; login works again afterwards.
    CHECK(is_ok(bob.request(R"({"op":"logout"})")));
    CHECK(code_of(bob.request(R"({"op":"fetch"})")) == "not_logged_in");
    CHECK(code_of(bob.request(R"({"op":"logout"})")) == "not_logged_in");
    CHECK(is_ok(bob.request(R"({"op":"login","username":"bob","password":"b"})")));
    CHECK(server.stop() == 0);
}

TEST_CASE("deleting an account logs out every session after the reply") {
    RunningChatd server;
    LineSocket first(server.port);
    LineSocket second(server.port);
    create_and_login(first, "dora", "pw");
    REQUIRE(is_ok(second.request(R"({"op":"login","username":"dora","password":"pw"})")));

    CHECK(code_of(first.request(R"({"op":"delete_account","password":"nope"})")) ==
          "bad_credentials");
    auto reply = first.request(R"({"op":"delete_account","password":"pw","id":"del"})");
    CHECK(is_ok(reply));
    CHECK(reply.at("id") == "del");
    auto event = first.read_object();
    CHECK(event.at("event") == "logged_out");
    CHECK(event.at("reason") == "account_deleted");
    CHECK_FALSE(event.contains("id"));
    auto other_event = second.read_object();
    CHECK(other_event.at("event") == "logged_out");

    // Both connections stay open, without a session; the name is free again.
    CHECK(code_of(first.request(R"({"op":"fetch"})")) == "not_logged_in");
    CHECK(code_of(second.request(R"({"op":"fetch"})")) == "not_logged_in");
    CHECK(code_of(second.request(R"({"op":"login","username":"dora","password":"pw"})")) ==
          "bad_credentials");
    CHECK(is_ok(second.request(R"({"op":"create_account","username":"dora","password":"new"})")));
    CHECK(first.nothing_within(200ms));
    CHECK(server.stop() == 0);
}

TEST_CASE("rate limit answers rate_limited and keeps the connection") {
    RunningChatd server({"--rate-limit", "5"});  // burst 10
    LineSocket socket(server.port);
    std::string burst;
    for (int i = 1; i <= 30; ++i) burst += "{\"op\":\"hello\",\"id\":" + std::to_string(i) + "}\n";
    socket.send_raw(burst);
    int ok = 0;
    int limited = 0;
    for (int i = 1; i <= 30; ++i) {
        auto reply = socket.read_object();
        CHECK(int_of(reply.at("id")) == i);
        if (is_ok(reply)) ++ok;
        if (code_of(reply) == "rate_limited") ++limited;
    }
    CHECK(ok >= 10);
    CHECK(ok < 30);
    CHECK(ok + limited == 30);
    CHECK_FALSE(socket.peer_closed());
    CHECK(server.stop() == 0);
}

TEST_CASE("connections beyond max-connections get server_busy") {
    RunningChatd server({"--max-connections", "2"});
    LineSocket one(server.port);
    LineSocket two(server.port);
    REQUIRE(is_ok(one.request(R"({"op":"hello"})")));
    REQUIRE(is_ok(two.request(R"({"op":"hello"})")));
    LineSocket three(server.port);
    auto busy = three.read_object();
    CHECK(code_of(busy) == "server_busy");
    CHECK(busy.at("id").is_null());
    CHECK(three.wait_closed());
    // A freed slot is usable again.
    one.close();
    REQUIRE(server.process.wait_log("connection closed"));
    LineSocket four(server.port);
    CHECK(is_ok(four.request(R"({"op":"hello"})")));
    CHECK(server.stop() == 0);
}

TEST_CASE("a reader that never reads is dropped and loses nothing") {
    RunningChatd server;
    LineSocket sender(server.port);
    LineSocket sleeper(server.port);
    create_and_login(sender, "writer", "pw");
    create_and_login(sleeper, "sleeper", "pw");
    // Pushes pile up for `sleeper` (who never reads) until the server drops the connection:
    // beyond the kernel's socket buffers and the 4 MiB outbound limit.
    const std::string body(16000, 'z');
    const std::string frame = R"({"op":"send","to":"sleeper","body":")" + body + "\"}\n";
    constexpr int kBatch = 50;
    constexpr int kMaxMessages = 4000;
    int sent = 0;
    bool dropped = false;
    while (sent < kMaxMessages && !dropped) {
        std::string batch;
        for (int i = 0; i < kBatch; ++i) batch += frame;
        sender.send_raw(batch);
        for (int i = 0; i < kBatch; ++i) REQUIRE(is_ok(sender.read_object()));
        sent += kBatch;
        dropped = server.process.log().find("slow reader dropped") != std::string::npos;
    }
    REQUIRE(dropped);
    // Everything sent is still queued for the sleeper.
    LineSocket awake(server.port);
    auto login = awake.request(R"({"op":"login","username":"sleeper","password":"pw"})");
    CHECK(int_of(login.at("unread")) == sent);
    // Pages are bounded in bytes (512 KiB of text by default: 32 of these bodies); page through,
    // acknowledging each, and count every message once.
    int got = 0;
    for (int pages = 0; pages <= sent && got < sent; ++pages) {
        auto fetched = awake.request(R"({"op":"fetch","max":1000})");
        const auto& page = fetched.at("messages").as_array();
        REQUIRE_FALSE(page.empty());
        CHECK(page.size() <= 1000);
        CHECK(static_cast<int>(page.size()) + int_of(fetched.at("remaining")) == sent - got);
        got += static_cast<int>(page.size());
        REQUIRE(is_ok(awake.request(R"({"op":"ack","up_to":)" +
                                    std::to_string(int_of(page.back().at("id"))) + "}")));
    }
    CHECK(got == sent);
    CHECK(server.stop() == 0);
}

TEST_CASE("a half-closed client still gets its replies") {
    RunningChatd server;
    LineSocket socket(server.port);
    socket.send_raw(
        "{\"op\":\"create_account\",\"username\":\"half\",\"password\":\"pw\",\"id\":1}\n"
        "{\"op\":\"hello\",\"id\":2}\n");
    socket.shutdown_send();
    CHECK(int_of(socket.read_object().at("id")) == 1);
    CHECK(int_of(socket.read_object().at("id")) == 2);
    CHECK(socket.wait_closed());
    CHECK(server.stop() == 0);
}

TEST_CASE("sigterm stops chatd cleanly with clients connected") {
    RunningChatd server;
    LineSocket idle(server.port);
    LineSocket busy(server.port);
    create_and_login(busy, "leaving", "pw");
    busy.send_raw(R"({"op":"send","to":"leaving",)");  // half a frame in flight
    CHECK(server.stop() == 0);
    CHECK(idle.wait_closed());
    CHECK(busy.wait_closed());
    CHECK(server.process.log().find("stopped") != std::string::npos);
}

}  // namespace
}  // namespace chat::e2e
