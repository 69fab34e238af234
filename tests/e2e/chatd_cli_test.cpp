// End-to-end tests of the chatd program itself: flags, environment, exit codes, shutdown and
// a restart over the SQLite store.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "chatd_process.hpp"
#include "line_socket.hpp"
#include "one_cpu.hpp"

namespace chat::e2e {
namespace {

// A fresh directory removed again at the end of the test.
class TempDir {
   public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "chatd-e2e-XXXXXX");
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }

   private:
    std::filesystem::path path_;
};

TEST_CASE("chatd help describes itself and its flags") {
    ChatdProcess process({"--help"});
    CHECK(process.wait_exit() == 0);
    auto text = process.log();
    CHECK(text.find("chat server") != std::string::npos);
    for (const char* flag :
         {"--transport", "--listen", "--json-port", "--grpc-port", "--store", "--db", "--sync",
          "--max-frame", "--max-connections", "--rate-limit", "--login-failures", "--threads",
          "--hash-threads", "--log-level", "CHATD_JSON_PORT", "=7400"}) {
        INFO(flag);
        CHECK(text.find(flag) != std::string::npos);
    }
}

TEST_CASE("chatd rejects a bad flag with exit code 2") {
    {
        ChatdProcess process({"--no-such-flag"});
        CHECK(process.wait_exit() == 2);
        CHECK(process.log().find("no-such-flag") != std::string::npos);
    }
    {
        ChatdProcess process({"--store=paper"});
        CHECK(process.wait_exit() == 2);
        CHECK(process.log().find("--store") != std::string::npos);
    }
    {
        ChatdProcess process({"--json-port", "99999"});
        CHECK(process.wait_exit() == 2);
    }
}

TEST_CASE("chatd rejects an unknown transport and lists the known ones") {
    ChatdProcess process({"--store=memory", "--transport", "json,carrier-pigeon"});
    CHECK(process.wait_exit() == 2);
    auto log = process.log();
    CHECK(log.find("carrier-pigeon") != std::string::npos);
    CHECK(log.find("json") != std::string::npos);
}

TEST_CASE("chatd reports an unusable database path with exit code 1") {
    TempDir dir;
    auto db = dir.path() / "missing-directory" / "chat.db";
    ChatdProcess process({"--store=sqlite", "--db", db.string(), "--json-port", "0"});
    CHECK(process.wait_exit() == 1);
    CHECK(process.log().find("database") != std::string::npos);
}

TEST_CASE("chatd reports a port in use with exit code 1") {
    RunningChatd first;
    ChatdProcess second(
        {"--store=memory", "--json-port", std::to_string(first.port), "--transport", "json"});
    CHECK(second.wait_exit() == 1);
    CHECK(second.log().find("cannot start transport") != std::string::npos);
    CHECK(first.stop() == 0);
}

TEST_CASE("chatd reads its flags from CHATD_ environment variables") {
    ChatdProcess process({}, {"CHATD_STORE=memory", "CHATD_JSON_PORT=0", "CHATD_MAX_FRAME=2048",
                              "CHATD_LOG_LEVEL=debug", "CHATD_TRANSPORT=json"});
    auto port = process.wait_port();
    REQUIRE(port);
    LineSocket socket(*port);
    auto reply = socket.request(R"({"op":"hello"})");
    CHECK(reply.at("max_frame").to_number<std::int64_t>() == 2048);
    CHECK(code_of(socket.request(R"({"op":"nope"})")) == "unknown_op");  // logged at debug
    CHECK(process.wait_log(" debug "));
    CHECK(process.stop(SIGTERM) == 0);
}

TEST_CASE("chatd --login-failures sets how many failed logins lock a name") {
    const std::string create = R"({"op":"create_account","username":"u","password":"p"})";
    const std::string wrong = R"({"op":"login","username":"u","password":"wrong"})";
    const std::string right = R"({"op":"login","username":"u","password":"p"})";
    {
        RunningChatd server({"--login-failures", "2"});
        LineSocket socket(server.port);
        REQUIRE(is_ok(socket.request(create)));
        CHECK(code_of(socket.request(wrong)) == "bad_credentials");
        CHECK(code_of(socket.request(wrong)) == "bad_credentials");
        CHECK(code_of(socket.request(right)) == "rate_limited");
        CHECK(server.process.wait_log("failed logins: account name locked user=u"));
        CHECK(server.stop() == 0);
    }
    {
        RunningChatd server({"--login-failures=0"});
        LineSocket socket(server.port);
        REQUIRE(is_ok(socket.request(create)));
        for (int i = 0; i < 7; ++i) CHECK(code_of(socket.request(wrong)) == "bad_credentials");
        CHECK(is_ok(socket.request(right)));
        CHECK(server.stop() == 0);
    }
}

TEST_CASE("chatd sizes its threads by the CPUs it may use, not the machine's") {
    // Started pinned to one CPU (as taskset would): the child inherits the mask.
    chat::test::OneCpu one;
    // Without --threads and --hash-threads (which RunningChatd passes).
    ChatdProcess pinned({"--store", "memory", "--json-port", "0", "--transport", "json"});
    REQUIRE(one.restore());
    REQUIRE(pinned.wait_port());
    CHECK(pinned.wait_log("threads cpus=1 affinity=1 "));
    CHECK(pinned.wait_log(" io_per_transport=1 hash=1"));
    CHECK(pinned.stop(SIGTERM) == 0);

    // Flags still win.
    RunningChatd flagged({"--threads", "3", "--hash-threads", "0"});
    CHECK(flagged.process.wait_log(" io_per_transport=3 hash=0"));
    CHECK(flagged.stop() == 0);
}

TEST_CASE("sigint stops chatd cleanly") {
    RunningChatd server;
    LineSocket socket(server.port);
    REQUIRE(is_ok(socket.request(R"({"op":"hello"})")));
    server.stopped = true;
    CHECK(server.process.stop(SIGINT) == 0);
    CHECK(socket.wait_closed());
}

TEST_CASE("messages survive a restart with the sqlite store") {
    TempDir dir;
    const std::string db = (dir.path() / "chat.db").string();
    std::string body = "kept across restarts";
    {
        RunningChatd server({"--store=sqlite", "--db", db});
        LineSocket socket(server.port);
        REQUIRE(is_ok(socket.request(R"({"op":"create_account","username":"w","password":"p"})")));
        REQUIRE(is_ok(socket.request(R"({"op":"create_account","username":"r","password":"p"})")));
        REQUIRE(is_ok(socket.request(R"({"op":"login","username":"w","password":"p"})")));
        REQUIRE(is_ok(socket.request(R"({"op":"send","to":"r","body":")" + body + R"("})")));
        CHECK(server.stop() == 0);
    }
    RunningChatd server({"--store=sqlite", "--db", db});
    LineSocket socket(server.port);
    auto login = socket.request(R"({"op":"login","username":"r","password":"p"})");
    REQUIRE(is_ok(login));
    CHECK(login.at("unread").to_number<std::int64_t>() == 1);
    auto fetched = socket.request(R"({"op":"fetch"})");
    REQUIRE(fetched.at("messages").as_array().size() == 1);
    CHECK(fetched.at("messages").as_array()[0].at("body").as_string() == body);
    CHECK(server.stop() == 0);
}

}  // namespace
}  // namespace chat::e2e
