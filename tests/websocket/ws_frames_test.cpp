// The WebSocket wire of docs/protocol.md against the real chatd, with a raw Beast client: one
// JSON frame per text message, bad frames, binary and non-UTF-8 messages, oversized messages,
// many requests in flight, and a client that never reads.
#include <catch2/catch.hpp>
#include <csignal>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "chat/transport.hpp"
#include "raw_ws.hpp"

namespace chat::ws_test {
namespace {

using Kind = WsRead::Kind;

std::optional<json::object> parse(const WsRead& r) {
    if (r.kind != Kind::message) return std::nullopt;
    boost::system::error_code ec;
    json::value value = json::parse(r.text, ec);
    if (ec || !value.is_object()) return std::nullopt;
    return value.as_object();
}

void create_and_login(RawWs& ws, const std::string& name) {
    REQUIRE(error_code(ws.call(request("create_account", 1,
                                       {{"username", name}, {"password", "pw-" + name}}))) == "");
    REQUIRE(error_code(ws.call(
                request("login", 2, {{"username", name}, {"password", "pw-" + name}}))) == "");
}

TEST_CASE("A text message is one frame: replies carry the op's fields and echo the id") {
    WsChatd chatd;
    RawWs ws;
    REQUIRE(ws.connect(chatd.port) == "");
    CHECK(ws.http_status() == 101);
    auto hello = ws.call(request("hello", 7));
    REQUIRE(hello);
    CHECK(error_code(hello) == "");
    CHECK(hello->at("id").as_int64() == 7);
    CHECK(hello->at("version").as_int64() == 1);
    CHECK(hello->at("max_frame").as_int64() == 65536);
    // Newlines between tokens do not split a message: it is still one frame.
    REQUIRE(ws.send_text("{\"op\":\n\"hello\",\n\"id\":\"multi\"}"));
    auto multi = ws.read_json();
    REQUIRE(multi);
    CHECK(multi->at("id").as_string() == "multi");
    CHECK(error_code(multi) == "");
    // chatd shuts down cleanly with a WebSocket (and a logged-in one) still open.
    RawWs logged_in;
    REQUIRE(logged_in.connect(chatd.port) == "");
    REQUIRE(error_code(logged_in.call(
                request("create_account", 1, {{"username", "stays"}, {"password", "pw"}}))) == "");
    REQUIRE(error_code(logged_in.call(
                request("login", 2, {{"username", "stays"}, {"password", "pw"}}))) == "");
    CHECK(chatd.process.stop(SIGTERM) == 0);
    CHECK(logged_in.read().kind != Kind::message);
}

TEST_CASE("Bad frames get the JSON transport's errors and the connection stays open") {
    WsChatd chatd;
    RawWs ws;
    REQUIRE(ws.connect(chatd.port) == "");
    REQUIRE(ws.send_text("{not json"));
    auto bad = ws.read_json();
    CHECK(error_code(bad) == "bad_request");
    CHECK(bad->at("id").is_null());
    REQUIRE(ws.send_text("[1,2,3]"));
    CHECK(error_code(ws.read_json()) == "bad_request");
    CHECK(error_code(ws.call(request("teleport", 3))) == "unknown_op");
    CHECK(error_code(ws.call(request("send", 4, {{"to", "x"}, {"body", "y"}}))) == "not_logged_in");
    // Two frames in one message are not a frame.
    REQUIRE(ws.send_text("{\"op\":\"hello\"}\n{\"op\":\"hello\"}"));
    CHECK(error_code(ws.read_json()) == "bad_request");
    // Blank messages are skipped like blank lines: the next reply answers the next request.
    REQUIRE(ws.send_text("  "));
    auto hello = ws.call(request("hello", 5));
    CHECK(error_code(hello) == "");
    CHECK(hello->at("id").as_int64() == 5);
}

TEST_CASE("A binary message gets bad_request then close 1003") {
    WsChatd chatd;
    RawWs ws;
    REQUIRE(ws.connect(chatd.port) == "");
    REQUIRE(error_code(ws.call(request("hello", 1))) == "");
    REQUIRE(ws.send_binary("{\"op\":\"hello\",\"id\":2}"));
    auto reply = parse(ws.read());
    CHECK(error_code(reply) == "bad_request");
    CHECK(reply->at("id").is_null());
    const WsRead end = ws.read();
    CHECK(end.kind == Kind::closed);
    CHECK(end.close_code == 1003);
    // The server is still up for others.
    RawWs other;
    REQUIRE(other.connect(chatd.port) == "");
    CHECK(error_code(other.call(request("hello", 1))) == "");
}

TEST_CASE("A text message that is not UTF-8 is closed with 1007") {
    WsChatd chatd;
    RawWs ws;
    REQUIRE(ws.connect(chatd.port) == "");
    create_and_login(ws, "utf8_victim");
    REQUIRE(ws.send_text("{\"op\":\"hello\",\"id\":\"\xff\xfe\"}"));
    const WsRead end = ws.read();
    CHECK(end.kind == Kind::closed);
    CHECK(end.close_code == 1007);
    // The session ended with the connection: the name can log in again elsewhere.
    RawWs other;
    REQUIRE(other.connect(chatd.port) == "");
    CHECK(error_code(other.call(request(
              "login", 1, {{"username", "utf8_victim"}, {"password", "pw-utf8_victim"}}))) == "");
}

TEST_CASE("A message over max_frame gets frame_too_large after the replies before it then 1009") {
    WsChatd chatd({"--max-frame", "1024"});
    RawWs ws;
    REQUIRE(ws.connect(chatd.port) == "");
    // Exactly max_frame bytes is still a frame.
    std::string exact = "{\"op\":\"hello\",\"id\":1}";
    exact.append(1024 - exact.size(), ' ');
    REQUIRE(exact.size() == 1024);
    REQUIRE(ws.send_text(exact));
    CHECK(error_code(ws.read_json()) == "");
    // A request in flight, then the oversized message: its reply comes first.
    REQUIRE(ws.send_json(request("hello", 2)));
    REQUIRE(ws.send_text(std::string(1025, ' ')));
    auto first = ws.read_json();
    REQUIRE(first);
    CHECK(first->at("id").as_int64() == 2);
    auto too_large = ws.read_json();
    CHECK(error_code(too_large) == "frame_too_large");
    CHECK(too_large->at("id").is_null());
    const WsRead end = ws.read();
    CHECK(end.kind == Kind::closed);
    CHECK(end.close_code == 1009);
    // A message far beyond the limit is not buffered whole: the answer is the same.
    RawWs big;
    REQUIRE(big.connect(chatd.port) == "");
    REQUIRE(big.send_text(std::string(4u * 1024u * 1024u, 'x')));
    CHECK(error_code(big.read_json()) == "frame_too_large");
    CHECK(big.read().close_code == 1009);
}

TEST_CASE("Many requests in flight are answered in request order") {
    WsChatd chatd;
    RawWs ws;
    REQUIRE(ws.connect(chatd.port) == "");
    create_and_login(ws, "pipeliner");
    constexpr int kRequests = 500;
    for (int i = 0; i < kRequests; ++i) {
        // Sends to oneself (pipelined by the server) mixed with other ops (barriers).
        if (i % 10 == 9) {
            REQUIRE(ws.send_json(request("hello", 1000 + i)));
        } else {
            REQUIRE(ws.send_json(request(
                "send", 1000 + i, {{"to", "pipeliner"}, {"body", "m" + std::to_string(i)}})));
        }
    }
    int replies = 0;
    int pushes = 0;
    std::uint64_t last_message_id = 0;
    while (replies < kRequests) {
        auto frame = ws.read_json();
        REQUIRE(frame);
        if (frame->contains("event")) {
            ++pushes;
            continue;
        }
        REQUIRE(error_code(frame) == "");
        CHECK(frame->at("id").as_int64() == 1000 + replies);
        if (frame->contains("message")) {
            const auto id = frame->at("message").at("id").to_number<std::uint64_t>();
            CHECK(id > last_message_id);  // stored in request order
            last_message_id = id;
        }
        ++replies;
    }
    // Every send was pushed to the (same) session too.
    while (pushes < kRequests - kRequests / 10) {
        auto frame = ws.read_json();
        REQUIRE(frame);
        CHECK(frame->at("event").as_string() == "message");
        ++pushes;
    }
}

TEST_CASE("Messages of every length arrive whole: the 7-, 16- and 64-bit length forms") {
    WsChatd chatd;
    RawWs ws;
    REQUIRE(ws.connect(chatd.port) == "");
    create_and_login(ws, "sizes");
    // Pushes of 1..16 KiB bodies cross 125 bytes and several KiB; the fetch reply of them all
    // is past 65 535 bytes. Sent back to back, they leave in few socket writes together.
    const std::vector<std::size_t> sizes = {1,     40,    100,   126,   1000, 8000,
                                            16384, 16384, 16384, 16384, 16384};
    const auto body = [&](std::size_t i) {
        return std::string(sizes[i], static_cast<char>('a' + i));
    };
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        REQUIRE(ws.send_json(request("send", 100 + static_cast<std::int64_t>(i),
                                     {{"to", "sizes"}, {"body", body(i)}})));
    }
    std::size_t replies = 0;
    std::vector<std::string> pushed;
    while (replies < sizes.size() || pushed.size() < sizes.size()) {
        auto frame = ws.read_json();
        REQUIRE(frame);
        if (frame->contains("event")) {
            pushed.emplace_back(frame->at("message").at("body").as_string());
        } else {
            REQUIRE(error_code(frame) == "");
            ++replies;
        }
    }
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        CHECK(pushed[i] == body(i));
    }
    const WsRead fetched = [&] {
        REQUIRE(ws.send_json(request("fetch", 200, {{"limit", 1000}})));
        return ws.read();
    }();
    REQUIRE(fetched.kind == Kind::message);
    CHECK(fetched.text.size() > 65535);
    auto reply = parse(fetched);
    REQUIRE(reply);
    const auto& messages = reply->at("messages").as_array();
    REQUIRE(messages.size() == sizes.size());
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        CHECK(messages[i].at("body").as_string() == body(i));
    }
}

// A client frame written by hand (masked, as a client must), so that it can arrive in pieces.
// `first_byte`: FIN and the opcode (0x81: a whole text message; 0x01 its first fragment, 0x80
// the last continuation).
std::string masked_text_frame(std::string_view payload, unsigned char first_byte = 0x81) {
    std::string frame;
    frame.push_back(static_cast<char>(first_byte));
    if (payload.size() < 126) {
        frame.push_back(static_cast<char>(0x80 | payload.size()));
    } else {
        frame.push_back(static_cast<char>(0x80 | 126));
        frame.push_back(static_cast<char>(payload.size() >> 8));
        frame.push_back(static_cast<char>(payload.size() & 0xff));
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    frame.append(mask, 4);
    for (std::size_t i = 0; i < payload.size(); ++i) frame.push_back(payload[i] ^ mask[i % 4]);
    return frame;
}

TEST_CASE("A message that arrives in pieces, its header alone first, is read whole") {
    WsChatd chatd;
    RawWs ws;
    REQUIRE(ws.connect(chatd.port) == "");
    create_and_login(ws, "pieces");
    ws.socket().set_option(tcp::no_delay(true));
    for (const std::size_t size : {10u, 300u, 5000u}) {
        const std::string text =
            json::serialize(request("send", static_cast<std::int64_t>(size),
                                    {{"to", "pieces"}, {"body", std::string(size, 'p')}}));
        const std::string frame = masked_text_frame(text);
        const std::size_t header = text.size() < 126 ? 6 : 8;
        // The pauses are the input's shape (separate TCP segments), not synchronisation.
        const std::vector<std::string_view> pieces = {std::string_view(frame).substr(0, header),
                                                      std::string_view(frame).substr(header, 5),
                                                      std::string_view(frame).substr(header + 5)};
        for (const std::string_view piece : pieces) {
            REQUIRE(asio::write(ws.socket(), asio::buffer(piece.data(), piece.size())) ==
                    piece.size());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        bool replied = false;
        bool pushed = false;
        while (!replied || !pushed) {
            auto frame_in = ws.read_json();
            REQUIRE(frame_in);
            if (frame_in->contains("event")) {
                CHECK(frame_in->at("message").at("body").as_string().size() == size);
                pushed = true;
            } else {
                REQUIRE(error_code(frame_in) == "");
                CHECK(frame_in->at("id").as_int64() == static_cast<std::int64_t>(size));
                replied = true;
            }
        }
    }
}

TEST_CASE("A client message in fragments is put together before it is read") {
    WsChatd chatd;
    RawWs ws;
    REQUIRE(ws.connect(chatd.port) == "");
    const std::string text = json::serialize(request("hello", 77));
    const std::size_t cut = text.size() / 2;
    const std::string frames = masked_text_frame(std::string_view(text).substr(0, cut), 0x01) +
                               masked_text_frame(std::string_view(text).substr(cut), 0x80);
    REQUIRE(asio::write(ws.socket(), asio::buffer(frames)) == frames.size());
    auto reply = ws.read_json();
    REQUIRE(reply);
    CHECK(error_code(reply) == "");
    CHECK(reply->at("id").as_int64() == 77);
    CHECK(reply->contains("max_frame"));
}

TEST_CASE("A client that never reads is dropped with its queue bounded and nothing acked is lost") {
    WsChatd chatd({"--max-outbound-bytes", "65536", "--write-stall-timeout", "2"});
    RawWs bob;
    // A small receive buffer, so that the server's outbound queue is what fills up.
    WsOptions small;
    small.receive_buffer = 4096;
    REQUIRE(bob.connect(chatd.port, small) == "");
    create_and_login(bob, "never_reads");

    RawWs alice;
    REQUIRE(alice.connect(chatd.port) == "");
    create_and_login(alice, "sender");
    constexpr int kMessages = 1500;
    const std::string body(4000, 'b');
    std::set<std::uint64_t> acked;
    int in_flight = 0;
    int sent = 0;
    while (sent < kMessages || in_flight > 0) {
        while (sent < kMessages && in_flight < 64) {
            REQUIRE(
                alice.send_json(request("send", sent, {{"to", "never_reads"}, {"body", body}})));
            ++sent;
            ++in_flight;
        }
        auto reply = alice.read_json();
        REQUIRE(reply);
        REQUIRE(error_code(reply) == "");
        acked.insert(reply->at("message").at("id").to_number<std::uint64_t>());
        --in_flight;
    }
    REQUIRE(acked.size() == kMessages);

    // The server dropped bob as a slow reader, holding no more than its bound for him.
    REQUIRE(chatd.process.wait_log("slow reader dropped"));
    const std::string log = chatd.process.log();
    // The number after outbound_bytes= on the "slow reader dropped" line.
    const auto line = log.find("slow reader dropped");
    REQUIRE(line != std::string::npos);
    const auto field = log.find("outbound_bytes=", line);
    REQUIRE(field != std::string::npos);
    REQUIRE(field < log.find('\n', line));
    CHECK(std::stoul(log.substr(field + std::strlen("outbound_bytes="))) <= 65536u + 8192u);
    // Alice's connection was never in danger.
    CHECK(error_code(alice.call(request("hello", 9999))) == "");

    // Bob comes back and fetches every message that was acknowledged to alice.
    RawWs again;
    REQUIRE(again.connect(chatd.port) == "");
    REQUIRE(error_code(again.call(request(
                "login", 1, {{"username", "never_reads"}, {"password", "pw-never_reads"}}))) == "");
    std::set<std::uint64_t> fetched;
    for (int page = 0; page < 100 && fetched.size() < acked.size(); ++page) {
        auto reply = again.call(request("fetch", 100 + page, {{"max", 1000}}));
        REQUIRE(error_code(reply) == "");
        const auto& messages = reply->at("messages").as_array();
        REQUIRE(!messages.empty());
        std::uint64_t highest = 0;
        for (const auto& message : messages) {
            highest = message.at("id").to_number<std::uint64_t>();
            fetched.insert(highest);
        }
        REQUIRE(error_code(again.call(request("ack", 200 + page, {{"up_to", highest}}))) == "");
    }
    CHECK(fetched == acked);
}

}  // namespace
}  // namespace chat::ws_test
