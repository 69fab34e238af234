// PostgreSQL stopping and starting again under two real chatd nodes, while a sender on node1
// keeps sending to a receiver on node2: every send made while the database is down is answered
// with an error (never a false success), nothing acknowledged is lost, and once the database is
// back, sends succeed again and reach the receiver on the other node live (pushed, the
// receiver's connection never breaks).
// Thread use: one sender thread; the receiver records on its client's callback thread; the test
// thread stops and starts PostgreSQL and checks.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster_harness.hpp"
#include "pg_server.hpp"

namespace chat::cluster {
namespace {

using namespace std::chrono_literals;

const std::string kPassword = "cluster-restart-pw";
constexpr int kOkBefore = 50;     // sends answered ok before the database goes down
constexpr int kFailedDuring = 5;  // failed sends, made while it is down, before it comes back
constexpr int kOkAfter = 50;      // sends answered ok after it is back
constexpr int kMaxSends = 20000;  // bound on the sender's loop
constexpr auto kPhaseWait = 60s;

// Where the database is when a send starts and when its reply comes.
enum class Phase { up = 0, down = 1, starting = 2, back = 3 };

struct Sent {
    std::string body;
    Phase began = Phase::up;
    Phase ended = Phase::up;
    std::optional<Message> stored;  // the reply's message when ok
    std::optional<Error> error;
};

// Thread use: `mutex` guards every member but `phase` and `stop` (atomics).
struct Ledger {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<Sent> sends;
    std::atomic<Phase> phase{Phase::up};
    std::atomic<bool> stop{false};

    int count(Phase began, bool ok) const {
        return static_cast<int>(std::count_if(sends.begin(), sends.end(), [&](const Sent& s) {
            return s.began == began && s.ended == began && s.stored.has_value() == ok;
        }));
    }
};

void run_sender(Peer& peer, Ledger& ledger) {
    for (int seq = 0; seq < kMaxSends && !ledger.stop; ++seq) {
        Sent sent;
        sent.body = "m" + std::to_string(seq);
        sent.began = ledger.phase;
        auto reply = peer.client().send("bob", sent.body);
        sent.ended = ledger.phase;
        if (reply) {
            sent.stored = *reply;
        } else {
            sent.error = reply.error();
        }
        {
            std::lock_guard lock(ledger.mutex);
            ledger.sends.push_back(std::move(sent));
            ledger.changed.notify_all();
        }
        // While the database is down replies come fast: do not spin on them.
        if (!reply) std::this_thread::sleep_for(20ms);
    }
}

TEST_CASE("PostgreSQL restarting under two nodes: errors while down and nothing acked lost") {
    REQUIRE(test::PgServer::available());
    test::PgServer pg;
    const std::string url = pg.create_database();
    Node node1("node1", url);
    Node node2("node2", url);
    create_account(node1.json_port(), "alice", kPassword);
    create_account(node1.json_port(), "bob", kPassword);

    // Straight to the nodes and without reconnecting: the connections must survive the outage.
    Peer alice(Peer::Options{.transport = "json", .port = node1.json_port()});
    Peer bob(Peer::Options{.transport = "json", .port = node2.json_port()});
    REQUIRE(alice.client().login("alice", kPassword));
    REQUIRE(bob.client().login("bob", kPassword));

    Ledger ledger;
    std::thread sender([&] { run_sender(alice, ledger); });
    struct Stopper {
        Ledger& ledger;
        std::thread& sender;
        ~Stopper() {
            ledger.stop = true;
            if (sender.joinable()) sender.join();
        }
    } stopper{ledger, sender};

    auto wait_for = [&](Phase phase, bool ok, int count) {
        std::unique_lock lock(ledger.mutex);
        return ledger.changed.wait_for(lock, kPhaseWait,
                                       [&] { return ledger.count(phase, ok) >= count; });
    };
    REQUIRE(wait_for(Phase::up, true, kOkBefore));
    pg.stop();
    ledger.phase = Phase::down;
    REQUIRE(wait_for(Phase::down, false, kFailedDuring));
    ledger.phase = Phase::starting;
    pg.start();
    ledger.phase = Phase::back;
    // The nodes reconnect to the database by themselves (with backoff).
    REQUIRE(wait_for(Phase::back, true, kOkAfter));
    ledger.stop = true;
    sender.join();

    std::lock_guard lock(ledger.mutex);
    std::string logs = "node1:\n" + node1.log() + "node2:\n" + node2.log();
    INFO(logs);
    std::vector<Message> acked;
    std::set<std::string> failed;
    for (const auto& sent : ledger.sends) {
        INFO("send " << sent.body);
        // Made entirely while the database was down: it cannot have been stored.
        if (sent.began == Phase::down && sent.ended == Phase::down) CHECK(!sent.stored);
        if (sent.stored) {
            acked.push_back(*sent.stored);
        } else {
            failed.insert(sent.body);
        }
    }
    WARN(acked.size() << " sends ok, " << failed.size() << " failed");
    for (std::size_t k = 1; k < acked.size(); ++k) CHECK(acked[k - 1].id < acked[k].id);

    // Every acknowledged message reaches bob on the other node, pushed: his client never
    // reconnects or fetches.
    const bool all_arrived = bob.wait_until(
        [&](const Peer::State& state) {
            std::set<MessageId> seen;
            for (const auto& message : state.received) seen.insert(message.id);
            return std::all_of(acked.begin(), acked.end(),
                               [&](const Message& m) { return seen.count(m.id) == 1; });
        },
        30s);
    CHECK(all_arrived);
    const auto state = bob.state();
    CHECK(!state.disconnected);
    CHECK(!alice.state().disconnected);
    std::map<MessageId, Message> first_seen;
    std::vector<MessageId> order;
    for (const auto& message : state.received) {
        if (first_seen.emplace(message.id, message).second) order.push_back(message.id);
    }
    for (const auto& message : acked) {
        auto at = first_seen.find(message.id);
        CHECK(at != first_seen.end());
        if (at != first_seen.end()) CHECK(at->second.body == message.body);
    }
    for (const auto& [id, message] : first_seen) {
        const bool was_acked =
            std::any_of(acked.begin(), acked.end(), [&](const Message& m) { return m.id == id; });
        if (!was_acked) CHECK(failed.count(message.body) == 1);
    }
    CHECK(std::is_sorted(order.begin(), order.end()));
    // The sends after the restart went through live, not by a later fetch.
    CHECK(ledger.count(Phase::back, true) >= kOkAfter);
}

}  // namespace
}  // namespace chat::cluster
