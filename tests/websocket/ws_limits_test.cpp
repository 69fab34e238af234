// chatd's WebSocket port under TLS (wss) and its limits: connections in total and per address,
// keepalive pings with a dead-peer timeout.
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <string>

#include "chat/builtin_transports.hpp"
#include "chat/transport.hpp"
#include "raw_ws.hpp"

namespace chat::ws_test {
namespace {

using Kind = WsRead::Kind;

TEST_CASE("wss: chat::Client and a raw client talk to a TLS port that verifies as 127.0.0.1") {
    TestCertificate certificate;
    WsChatd chatd({"--tls-cert", certificate.cert, "--tls-key", certificate.key});

    RawWss raw;
    WsOptions options;
    options.ca_file = certificate.cert;
    REQUIRE(raw.connect(chatd.port, options) == "");
    REQUIRE(error_code(raw.call(request("create_account", 1,
                                        {{"username", "tls_bob"}, {"password", "pw"}}))) == "");
    REQUIRE(error_code(raw.call(
                request("login", 2, {{"username", "tls_bob"}, {"password", "pw"}}))) == "");

    ClientConfig config;
    config.port = chatd.port;
    config.tls = true;
    config.tls_ca_file = certificate.cert;
    auto alice = builtin_transports().find("ws")->make_client(config);
    REQUIRE(alice->connect().ok());
    REQUIRE(alice->create_account("tls_alice", "pw").ok());
    REQUIRE(alice->login("tls_alice", "pw").ok());
    auto sent = alice->send("tls_bob", "over wss");
    REQUIRE(sent.ok());
    auto push = raw.read_json();
    REQUIRE(push);
    CHECK(push->at("event").as_string() == "message");
    CHECK(push->at("message").at("body").as_string() == "over wss");
    alice->close();

    // A client that does not speak TLS gets nowhere, and the port keeps serving.
    RawWs plain;
    CHECK(plain.connect(chatd.port) != "");
    ClientConfig wrong_ca = config;
    wrong_ca.tls_ca_file = {};
    auto unverified = builtin_transports().find("ws")->make_client(wrong_ca);
    CHECK(!unverified->connect().ok());
    RawWss again;
    REQUIRE(again.connect(chatd.port, options) == "");
    CHECK(error_code(again.call(request("hello", 3))) == "");
}

TEST_CASE("Connections beyond --max-connections get server_busy and close 1013") {
    WsChatd chatd({"--max-connections", "2"});
    RawWs first;
    RawWs second;
    REQUIRE(first.connect(chatd.port) == "");
    REQUIRE(second.connect(chatd.port) == "");
    REQUIRE(error_code(first.call(request("hello", 1))) == "");
    REQUIRE(error_code(second.call(request("hello", 1))) == "");
    RawWs third;
    REQUIRE(third.connect(chatd.port) == "");
    auto busy = third.read_json();
    CHECK(error_code(busy) == "server_busy");
    CHECK(busy->at("id").is_null());
    CHECK(third.read().close_code == 1013);
    // A plain GET on a full server is told so too.
    auto page = http_request(chatd.port, http::verb::get, "/");
    REQUIRE(page);
    CHECK(page->result_int() == 503);
    // A slot freed is a slot for the next one.
    REQUIRE(first.close());
    REQUIRE(chatd.process.wait_log("connection closed"));
    RawWs fourth;
    REQUIRE(fourth.connect(chatd.port) == "");
    CHECK(error_code(fourth.call(request("hello", 4))) == "");
}

TEST_CASE("Connections beyond --max-connections-per-address get server_busy") {
    WsChatd chatd({"--max-connections-per-address", "1"});
    RawWs first;
    REQUIRE(first.connect(chatd.port) == "");
    REQUIRE(error_code(first.call(request("hello", 1))) == "");
    RawWs second;
    REQUIRE(second.connect(chatd.port) == "");
    auto busy = second.read_json();
    CHECK(error_code(busy) == "server_busy");
    CHECK(busy->at("error").at("message").as_string().find("address") != json::string::npos);
    CHECK(second.read().close_code == 1013);
}

TEST_CASE("Keepalive: a peer that answers no ping is dropped while a reading one stays") {
    WsChatd chatd({"--transport-setting", "idle_timeout_ms=600"});
    // This one never reads, so it never answers the server's pings.
    RawWs silent;
    REQUIRE(silent.connect(chatd.port) == "");
    REQUIRE(silent.send_json(request("hello", 1)));
    // A reading client answers pings (Beast does while a read is pending) and outlives the
    // timeout several times over.
    RawWs alive;
    REQUIRE(alive.connect(chatd.port) == "");
    auto reply = alive.call_after_quiet(request("hello", 2), std::chrono::milliseconds(2000));
    CHECK(error_code(reply) == "");
    CHECK(chatd.process.wait_log("keepalive timeout"));
}

TEST_CASE("The ws client's settings are checked") {
    ClientConfig config;
    config.settings["path"] = "no-slash";
    CHECK_THROWS_AS(builtin_transports().find("ws")->make_client(config), std::invalid_argument);
    config.settings = {{"bogus", "1"}};
    CHECK_THROWS_AS(builtin_transports().find("ws")->make_client(config), std::invalid_argument);
}

}  // namespace
}  // namespace chat::ws_test
