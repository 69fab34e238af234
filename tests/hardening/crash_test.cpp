// Crash durability: the real chatd on a SQLite database, several senders pipelining sends over
// the JSON client, SIGKILL mid-stream, a restart on the same file. Every send answered ok must be
// fetched by its recipient exactly once with its id and body, nothing unsent may appear, and ids
// given after a restart are larger than every id given before it.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chat/builtin_transports.hpp"
#include "chatd_process.hpp"
#include "hardening_util.hpp"

namespace chat::hardening {
namespace {

using namespace std::chrono_literals;
using e2e::RunningChatd;

constexpr int kSenders = 4;
constexpr int kRecipients = 3;
constexpr std::size_t kWindow = 16;             // sends in flight per sender
constexpr std::size_t kAckedBeforeKill = 1000;  // per crash, once all senders are running
constexpr int kCrashes = 2;
constexpr auto kWait = 30s;
const std::string kPassword = "crash-pw";

// A connected JSON client; null (and `error` set) when connecting fails. No Catch2 assertions
// here: sender threads call it.
std::unique_ptr<Client> connect_json(std::uint16_t port, std::string* error = nullptr) {
    ClientConfig config;
    config.host = "127.0.0.1";
    config.port = port;
    config.timeout = 20s;
    config.auto_ack = false;
    auto client = builtin_transports().find("json")->make_client(config);
    auto connected = client->connect();
    if (!connected) {
        if (error != nullptr) *error = "connect: " + connected.error().message;
        return nullptr;
    }
    return client;
}

std::string sender_name(int i) { return "sender" + std::to_string(i); }
std::string recipient_name(int i) { return "recipient" + std::to_string(i); }

// What every sender saw, shared with the reply callbacks.
// Thread use: `mutex` guards every member.
struct Ledger {
    std::mutex mutex;
    std::condition_variable changed;
    std::map<std::string, Message> acked;  // body -> the stored message the reply carried
    std::set<std::string> attempted;       // every body handed to send_async
    std::size_t acked_this_round = 0;      // counted once every sender is logged in
    int senders_ready = 0;
    std::vector<std::string> sender_errors;  // problems a sender thread met (checked later)
};

// One sender: pipelines sends (at most kWindow in flight) until a send fails (the server died)
// or `stop` is set. Bodies are unique: "<sender>/<round>/<seq>". Runs on its own thread, so it
// reports problems through the ledger instead of Catch2 assertions.
void run_sender(std::uint16_t port, int index, int round, Ledger& ledger,
                const std::atomic<bool>& stop) {
    auto report = [&ledger](std::string problem) {
        std::lock_guard lock(ledger.mutex);
        ledger.sender_errors.push_back(std::move(problem));
    };
    std::string error;
    auto client = connect_json(port, &error);
    if (!client) return report(error);
    auto login = client->login(sender_name(index), kPassword);
    if (!login.ok()) return report("login: " + login.error().message);
    {
        std::lock_guard lock(ledger.mutex);
        ++ledger.senders_ready;
        ledger.changed.notify_all();
    }
    struct Window {
        std::mutex mutex;
        std::condition_variable changed;
        std::size_t in_flight = 0;
        bool failed = false;
    };
    auto window = std::make_shared<Window>();
    for (std::uint64_t seq = 0; seq < 1000000 && !stop.load(); ++seq) {
        {
            std::unique_lock lock(window->mutex);
            window->changed.wait_for(lock, kWait,
                                     [&] { return window->failed || window->in_flight < kWindow; });
            if (window->failed || window->in_flight >= kWindow) break;
            ++window->in_flight;
        }
        const std::string body =
            sender_name(index) + "/" + std::to_string(round) + "/" + std::to_string(seq);
        const std::string to = recipient_name(static_cast<int>(seq % kRecipients));
        {
            std::lock_guard lock(ledger.mutex);
            ledger.attempted.insert(body);
        }
        client->send_async(to, body, [window, &ledger, body](Result<Message> result) {
            if (result.ok()) {
                std::lock_guard lock(ledger.mutex);
                ledger.acked.emplace(body, *result);
                if (ledger.senders_ready == kSenders) ++ledger.acked_this_round;
                ledger.changed.notify_all();
            }
            std::lock_guard lock(window->mutex);
            --window->in_flight;
            if (!result.ok()) window->failed = true;
            window->changed.notify_all();
        });
    }
    // The server is gone (or we were told to stop): every pending send completes with an error.
    std::unique_lock lock(window->mutex);
    if (!window->changed.wait_for(lock, kWait, [&] { return window->in_flight == 0; })) {
        report("sends still pending long after the server died");
    }
    lock.unlock();
    client->close();
}

// Fetches and acknowledges everything queued for `user`, oldest first.
std::vector<Message> drain(std::uint16_t port, const std::string& user) {
    auto client = connect_json(port);
    REQUIRE(client != nullptr);
    auto login = client->login(user, kPassword);
    REQUIRE(login.ok());
    std::vector<Message> all;
    for (int page = 0; page < 1000; ++page) {
        auto fetched = client->fetch(1000);
        REQUIRE(fetched.ok());
        if (fetched->messages.empty()) break;
        all.insert(all.end(), fetched->messages.begin(), fetched->messages.end());
        auto acked = client->ack({}, fetched->messages.back().id);
        REQUIRE(acked.ok());
        CHECK(*acked == fetched->messages.size());
    }
    CHECK(all.size() == login->unread);
    client->close();
    return all;
}

std::vector<std::string> sqlite_flags(const TempDir& dir) {
    return {"--store", "sqlite", "--db", (dir.path() / "chat.db").string(), "--threads", "2"};
}

TEST_CASE("crash: every acknowledged send survives SIGKILL and ids keep increasing",
          "[hardening][crash]") {
    TempDir dir;
    Ledger ledger;
    MessageId max_id_before = 0;

    {
        RunningChatd first(sqlite_flags(dir));
        auto setup = connect_json(first.port);
        REQUIRE(setup != nullptr);
        for (int i = 0; i < kSenders; ++i) {
            REQUIRE(setup->create_account(sender_name(i), kPassword).ok());
        }
        for (int i = 0; i < kRecipients; ++i) {
            REQUIRE(setup->create_account(recipient_name(i), kPassword).ok());
        }
        setup->close();
        CHECK(first.stop() == 0);
    }

    for (int round = 0; round < kCrashes; ++round) {
        INFO("round " << round);
        RunningChatd server(sqlite_flags(dir));
        {
            std::lock_guard lock(ledger.mutex);
            ledger.acked_this_round = 0;
            ledger.senders_ready = 0;
        }
        std::atomic<bool> stop{false};
        std::vector<std::thread> senders;
        for (int i = 0; i < kSenders; ++i) {
            senders.emplace_back([&, i] { run_sender(server.port, i, round, ledger, stop); });
        }
        bool enough = false;
        {
            std::unique_lock lock(ledger.mutex);
            enough = ledger.changed.wait_for(
                lock, kWait, [&] { return ledger.acked_this_round >= kAckedBeforeKill; });
        }
        // Kill mid-stream: the senders keep kWindow sends each in flight.
        const int status = server.process.stop(SIGKILL);
        server.stopped = true;
        stop = true;
        for (auto& t : senders) t.join();
        REQUIRE(enough);
        CHECK(status == 128 + SIGKILL);

        std::lock_guard lock(ledger.mutex);
        for (const auto& problem : ledger.sender_errors) UNSCOPED_INFO("sender: " << problem);
        CHECK(ledger.sender_errors.empty());
        CHECK(ledger.senders_ready == kSenders);
        MessageId round_min = std::numeric_limits<MessageId>::max();
        MessageId round_max = 0;
        for (const auto& [body, message] : ledger.acked) {
            if (body.find("/" + std::to_string(round) + "/") == std::string::npos) continue;
            round_min = std::min(round_min, message.id);
            round_max = std::max(round_max, message.id);
        }
        INFO("ids of this round: " << round_min << ".." << round_max
                                   << ", before: " << max_id_before);
        CHECK(round_min > max_id_before);
        max_id_before = std::max(max_id_before, round_max);
        WARN("crash round " << round << ": " << ledger.acked_this_round
                            << " sends answered ok before SIGKILL");
    }

    // Restart on the same file and account for everything.
    RunningChatd last(sqlite_flags(dir));
    std::map<std::string, Message> found;  // body -> fetched message
    std::set<MessageId> ids;
    MessageId max_fetched = 0;
    for (int r = 0; r < kRecipients; ++r) {
        for (const auto& m : drain(last.port, recipient_name(r))) {
            INFO("fetched id " << m.id << " body " << m.body);
            CHECK(m.to == recipient_name(r));
            CHECK(ids.insert(m.id).second);              // exactly once
            CHECK(ledger.attempted.count(m.body) == 1);  // nothing that was never sent
            CHECK(found.emplace(m.body, m).second);
            max_fetched = std::max(max_fetched, m.id);
        }
    }
    std::size_t missing = 0;
    for (const auto& [body, message] : ledger.acked) {
        auto it = found.find(body);
        if (it == found.end()) {
            ++missing;
            continue;
        }
        CHECK(it->second == message);  // same id, names, body and time
    }
    CHECK(missing == 0);
    // Every id stored in a round, answered or not, is below every id stored in a later round.
    std::vector<MessageId> round_low(kCrashes, std::numeric_limits<MessageId>::max());
    std::vector<MessageId> round_high(kCrashes, 0);
    for (const auto& [body, message] : found) {
        const auto first = body.find('/');
        const int round = std::stoi(body.substr(first + 1, body.find('/', first + 1) - first - 1));
        round_low.at(static_cast<std::size_t>(round)) =
            std::min(round_low.at(static_cast<std::size_t>(round)), message.id);
        round_high.at(static_cast<std::size_t>(round)) =
            std::max(round_high.at(static_cast<std::size_t>(round)), message.id);
    }
    for (std::size_t r = 1; r < round_low.size(); ++r) {
        INFO("round " << r - 1 << " stored up to " << round_high[r - 1] << ", round " << r
                      << " from " << round_low[r]);
        CHECK(round_low[r] > round_high[r - 1]);
    }
    const std::size_t unconfirmed = found.size() - (ledger.acked.size() - missing);
    WARN("crash: " << ledger.acked.size() << " acknowledged sends, " << found.size()
                   << " fetched after restart (" << unconfirmed
                   << " stored without a reply before the kill), " << missing << " lost");

    // New ids after the restarts are larger than every earlier one.
    auto late = connect_json(last.port);
    REQUIRE(late != nullptr);
    REQUIRE(late->login(sender_name(0), kPassword).ok());
    MessageId previous = std::max(max_fetched, max_id_before);
    for (int i = 0; i < 5; ++i) {
        auto sent = late->send(recipient_name(0), "after restart " + std::to_string(i));
        REQUIRE(sent.ok());
        CHECK(sent->id > previous);
        previous = sent->id;
    }
    late->close();
    CHECK(last.stop() == 0);
}

}  // namespace
}  // namespace chat::hardening
