// Hardening: clients that ask for much and read nothing, and clients that open many connections,
// against the real chatd. chatd's memory stays within its outbound budget, the hoarders are
// dropped (their messages stay queued), and a normal user keeps chatting meanwhile.
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "chatd_process.hpp"
#include "hardening_util.hpp"
#include "line_socket.hpp"

using namespace std::chrono_literals;
using chat::e2e::code_of;
using chat::e2e::is_ok;
using chat::e2e::LineSocket;
using chat::e2e::RunningChatd;
using namespace chat::hardening;
namespace json = boost::json;

namespace {

std::string account_frame(std::string_view op, std::string_view user) {
    return R"({"op":")" + std::string(op) + R"(","username":")" + std::string(user) +
           R"(","password":"pw"})";
}

}  // namespace

TEST_CASE("json: fetchers that never read stay within the outbound budget",
          "[hardening][json][memory]") {
    // Bodies of control characters are escaped sixfold on the wire: the most a reply can swell.
    RunningChatd chatd({"--max-outbound-memory", "8000000", "--write-stall-timeout", "0",
                        "--max-connections-per-address", "0"});
    auto pid = find_child_process(chat::e2e::chatd_path());
    REQUIRE(pid.has_value());
    LineSocket setup(chatd.port);
    for (const char* user : {"hoard", "alice", "bob"}) {
        REQUIRE(is_ok(setup.request(account_frame("create_account", user))));
    }
    REQUIRE(is_ok(setup.request(account_frame("login", "alice"))));
    const std::string body(10000, '\x01');  // 60 KB escaped: within the 64 KiB frame
    const std::string frame =
        R"({"op":"send","to":"hoard","body":)" + json::serialize(json::string(body)) + "}\n";
    std::string batch;
    for (int i = 0; i < 25; ++i) batch += frame;
    for (int round = 0; round < 8; ++round) {  // 200 messages, ~12 MB of JSON as one reply
        setup.send_raw(batch);
        for (int i = 0; i < 25; ++i) REQUIRE(is_ok(setup.read_object()));
    }
    const std::size_t start_kib = resident_kib(*pid).value_or(0);

    // 20 connections log in as hoard, ask for full pages again and again, and never read.
    constexpr int kHoarders = 20;
    std::vector<std::unique_ptr<RawSocket>> hoarders;
    std::string asks = account_frame("login", "hoard") + "\n";
    for (int i = 0; i < 10; ++i)
        asks += R"({"op":"fetch","max":1000})"
                "\n";
    for (int i = 0; i < kHoarders; ++i) {
        hoarders.push_back(std::make_unique<RawSocket>(chatd.port, 4096));
        REQUIRE(hoarders.back()->send_all(asks));
    }
    // Meanwhile alice and bob chat, and every request is answered within a second.
    // Bob's login waits its turn behind the hoarders' password checks, which a sanitizer build
    // on a busy machine makes slow: the wait is generous, and the one-second bound on each send
    // holds only for a plain build.
    LineSocket bob(chatd.port);
    bob.send_line(account_frame("login", "bob"));
    REQUIRE(is_ok(bob.read_object(60s)));
    for (int i = 0; i < 50; ++i) {
        const auto asked = std::chrono::steady_clock::now();
        setup.send_line(R"({"op":"send","to":"bob","body":"hi"})");
        REQUIRE(is_ok(setup.read_object(60s)));
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
        CHECK(std::chrono::steady_clock::now() - asked < 1s);
#else
        (void)asked;
#endif
    }
    const std::size_t peak_kib = resident_kib(*pid).value_or(0);
    INFO("chatd RSS " << start_kib << " KiB before the hoarders, " << peak_kib << " KiB with them");
    // The budget is 8 MB of outbound bytes; allow the kernel, allocator slack and the store
    // (without the budget the replies alone are 20 x 3 MB and more). Sanitizer builds keep freed
    // memory in quarantine and shadow every byte, so their RSS says nothing about the budget.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    CHECK(peak_kib < start_kib + 64 * 1024);
#endif
    CHECK(chatd.process.wait_log("outbound memory budget spent", 10s));
    // Nothing the hoarders were sent is lost: every message is still queued for hoard.
    hoarders.clear();
    LineSocket late(chatd.port);
    auto login = late.request(account_frame("login", "hoard"));
    REQUIRE(is_ok(login));
    CHECK(login.at("unread").to_number<int>() == 200);
    CHECK(chatd.stop() == 0);
}

TEST_CASE("json: connections from one address are limited, others still get in",
          "[hardening][json][limits]") {
    RunningChatd chatd({"--max-connections-per-address", "3"});
    std::vector<std::unique_ptr<LineSocket>> open;
    for (int i = 0; i < 3; ++i) {
        open.push_back(std::make_unique<LineSocket>(chatd.port));
        REQUIRE(is_ok(open.back()->request(R"({"op":"hello"})")));
    }
    {
        LineSocket fourth(chatd.port);
        auto refused = fourth.read_object();
        CHECK(code_of(refused) == "server_busy");
        CHECK(refused.at("error").at("message").as_string().find("address") != json::string::npos);
    }
    // A slot comes free when one closes (the server notices the close: retry, bounded).
    open.pop_back();
    bool served = false;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!served && std::chrono::steady_clock::now() < deadline) {
        LineSocket probe(chatd.port);
        served = is_ok(probe.request(R"({"op":"hello"})"));
    }
    CHECK(served);
    CHECK(chatd.stop() == 0);
}

TEST_CASE("json: a logged-in connection whose writes stall is closed, its messages kept",
          "[hardening][json][memory]") {
    // The outbound queue bound is raised out of the way: only the stall is under test.
    RunningChatd chatd({"--write-stall-timeout", "1", "--max-outbound-bytes", "67108864"});
    LineSocket setup(chatd.port);
    REQUIRE(is_ok(setup.request(account_frame("create_account", "sleeper"))));
    REQUIRE(is_ok(setup.request(account_frame("create_account", "talker"))));
    REQUIRE(is_ok(setup.request(account_frame("login", "talker"))));
    RawSocket sleeper(chatd.port, 4096);
    REQUIRE(sleeper.send_all(account_frame("login", "sleeper") + "\n"));
    REQUIRE(sleeper.read_line(10s).has_value());
    // 9.6 MB of pushes: more than the kernel's socket buffers take (4 MiB at most each way).
    const std::string frame =
        R"({"op":"send","to":"sleeper","body":")" + std::string(8000, 'z') + "\"}\n";
    std::string batch;
    for (int i = 0; i < 30; ++i) batch += frame;
    for (int round = 0; round < 40; ++round) {
        setup.send_raw(batch);
        for (int i = 0; i < 30; ++i) REQUIRE(is_ok(setup.read_object()));
    }
    CHECK(chatd.process.wait_log("write stalled", 10s));
    LineSocket awake(chatd.port);
    auto login = awake.request(account_frame("login", "sleeper"));
    REQUIRE(is_ok(login));
    CHECK(login.at("unread").to_number<int>() == 1200);
    CHECK(chatd.stop() == 0);
}
