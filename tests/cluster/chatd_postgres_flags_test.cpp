// chatd's PostgreSQL flags through the real binary: --store=postgres needs a URL, the password
// in the URL shows nowhere (log, error message, process list), the start-up line names the
// store, the redacted URL and the node.
// Thread use: the test thread.
#include <dirent.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "chatd_process.hpp"
#include "cluster_harness.hpp"
#include "pg_server.hpp"

namespace chat::cluster {
namespace {

using namespace std::chrono_literals;
using e2e::ChatdProcess;

const std::string kSecret = "pg-Secret-4711";

// `url` (a libpq URI without user info) with user postgres and kSecret as its password.
std::string with_password(const std::string& url) {
    const std::string scheme = "postgresql://";
    REQUIRE(url.rfind(scheme, 0) == 0);
    return scheme + "postgres:" + kSecret + "@" + url.substr(scheme.size());
}

// The command line of this process's only child, as /proc shows it (NULs as spaces).
std::optional<std::string> child_command_line() {
    DIR* proc = opendir("/proc");
    if (proc == nullptr) return std::nullopt;
    std::optional<std::string> found;
    while (dirent* entry = readdir(proc)) {
        const std::string pid = entry->d_name;
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat("/proc/" + pid + "/stat");
        std::string line;
        std::getline(stat, line);
        // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
        const auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(line.substr(close + 1));
        std::string state;
        long ppid = 0;
        rest >> state >> ppid;
        if (ppid != getpid()) continue;
        std::ifstream cmdline("/proc/" + pid + "/cmdline");
        std::string text((std::istreambuf_iterator<char>(cmdline)), {});
        for (auto& c : text) {
            if (c == '\0') c = ' ';
        }
        found = text;
    }
    closedir(proc);
    return found;
}

TEST_CASE("chatd --store=postgres without a URL is a usage error") {
    ChatdProcess process({"--store=postgres", "--json-port=0"});
    CHECK(process.wait_exit() == 2);
    CHECK(process.log().find("--pg-url") != std::string::npos);
    CHECK(process.log().find("CHATD_PG_URL") != std::string::npos);
}

TEST_CASE("chatd on PostgreSQL logs the store and node and never the password") {
    REQUIRE(test::PgServer::available());
    test::PgServer pg;
    const std::string url = with_password(pg.create_database());

    SECTION("given on the command line") {
        ChatdProcess process({"--store=postgres", "--pg-url", url, "--node-name", "chat-a",
                              "--json-port=0", "--transport=json"});
        REQUIRE(process.wait_log(" chatd ready ", 30s));
        const auto log = process.log();
        INFO(log);
        CHECK(log.find("store opened store=postgres url=postgresql://postgres:***@") !=
              std::string::npos);
        CHECK(log.find("node=chat-a") != std::string::npos);
        CHECK(log.find(kSecret) == std::string::npos);
        // Overwritten in the arguments once read.
        const auto command_line = child_command_line();
        REQUIRE(command_line);
        INFO(*command_line);
        CHECK(command_line->find("--pg-url") != std::string::npos);
        CHECK(command_line->find(kSecret) == std::string::npos);
        CHECK(process.stop(SIGTERM) == 0);
    }
    SECTION("given in CHATD_PG_URL, with the default node name") {
        ChatdProcess process({"--json-port=0", "--transport=json"},
                             {"CHATD_STORE=postgres", "CHATD_PG_URL=" + url});
        REQUIRE(process.wait_log(" chatd ready ", 30s));
        const auto log = process.log();
        INFO(log);
        CHECK(log.find("store=postgres") != std::string::npos);
        CHECK(log.find(kSecret) == std::string::npos);
        char host[256] = {};
        REQUIRE(gethostname(host, sizeof host - 1) == 0);
        CHECK(log.find("node=" + std::string(host) + ":") != std::string::npos);
        CHECK(process.stop(SIGTERM) == 0);
    }
}

TEST_CASE("chatd that cannot reach PostgreSQL exits 1 without showing the password") {
    // Nothing listens on port 1; the store gives up after its start-up timeout (10 s).
    ChatdProcess process({"--store=postgres", "--json-port=0", "--pg-url",
                          "postgresql://chat:" + kSecret + "@127.0.0.1:1/chat"});
    CHECK(process.wait_exit(30s) == 1);
    const auto log = process.log();
    INFO(log);
    CHECK(log.find("PostgreSQL") != std::string::npos);
    CHECK(log.find("chat:***@127.0.0.1:1") != std::string::npos);
    CHECK(log.find(kSecret) == std::string::npos);
}

}  // namespace
}  // namespace chat::cluster
