// A node crash behind HAProxy: three real chatd nodes on one PostgreSQL database, HAProxy in
// front (TCP mode, health checks), sender/receiver pairs of reconnecting clients going through
// it. One node is killed with SIGKILL mid-stream; its clients reconnect through HAProxy to a
// survivor and log in again. At the end every send answered ok has reached its recipient exactly
// once (after de-duplication by id), with its body, in increasing id order; a failed send may or
// may not have been stored (its reply was lost), nothing else may arrive.
// Thread use: one sender thread per pair; receivers record on their clients' callback threads;
// the test thread starts, kills and checks.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
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

constexpr int kPairs = 4;
constexpr int kPerSender = 200;
constexpr int kNodes = 3;
// The kill comes once this many sends (of all senders) were answered ok.
constexpr int kOkBeforeKill = kPairs * kPerSender / 3;
constexpr auto kReconnectWait = 20s;
constexpr auto kLossReportWait = 2s;
constexpr auto kDeliveryWait = 30s;
const std::string kPassword = "cluster-crash-pw";

std::string sender_name(int i) { return "sender" + std::to_string(i); }
std::string receiver_name(int i) { return "receiver" + std::to_string(i); }
std::string body_of(int sender, int seq) { return sender_name(sender) + "/" + std::to_string(seq); }

// What the senders saw. Thread use: `mutex` guards every member.
struct Ledger {
    std::mutex mutex;
    std::condition_variable changed;
    int ok_total = 0;
    std::vector<std::vector<Message>> ok = std::vector<std::vector<Message>>(kPairs);
    std::vector<std::set<std::string>> failed = std::vector<std::set<std::string>>(kPairs);
    std::vector<std::string> failures;  // "sender/seq: code message", reported at the end
    std::vector<std::string> problems;  // a sender thread's own trouble (checked at the end)
};

// Sends kPerSender messages one after the other. After a failure it waits for its client to be
// connected again before the next one. Runs on its own thread: reports through the ledger.
void run_sender(Peer& peer, int index, Ledger& ledger) {
    for (int seq = 0; seq < kPerSender; ++seq) {
        const std::string body = body_of(index, seq);
        const int lost_before = peer.state().lost;
        auto sent = peer.client().send(receiver_name(index), body);
        std::unique_lock lock(ledger.mutex);
        if (sent) {
            ledger.ok[index].push_back(*sent);
            ++ledger.ok_total;
            ledger.changed.notify_all();
            continue;
        }
        ledger.failed[index].insert(body);
        ledger.failures.push_back(body + ": " + std::string(to_string(sent.error().code)) + " " +
                                  sent.error().message);
        lock.unlock();
        // A broken connection fails the send before the client's `lost` report comes (on its
        // callback thread): wait for that report, then for the reconnect. A failure that is no
        // loss of the connection gets no report and the next send goes after that short wait.
        peer.wait_until([&](const Peer::State& s) { return s.lost > lost_before || !s.up; },
                        kLossReportWait);
        const bool up = peer.wait_up(kReconnectWait);
        lock.lock();
        if (!up) {
            ledger.problems.push_back(sender_name(index) + " not reconnected within 20 s");
            return;
        }
    }
}

void run_crash_case(const std::string& transport) {
    REQUIRE(test::PgServer::available());
    test::PgServer pg;
    const std::string url = pg.create_database();

    std::vector<std::unique_ptr<Node>> nodes;
    std::vector<Haproxy::Backend> backends;
    for (int n = 1; n <= kNodes; ++n) {
        nodes.push_back(std::make_unique<Node>("node" + std::to_string(n), url));
        backends.push_back(
            {nodes.back()->name(), nodes.back()->json_port(), nodes.back()->grpc_port()});
    }
    TempDir dir;
    Haproxy proxy(dir.path(), backends);

    for (int i = 0; i < kPairs; ++i) {
        create_account(proxy.port("json"), sender_name(i), kPassword);
        create_account(proxy.port("json"), receiver_name(i), kPassword);
    }
    const Peer::Options options{
        .transport = transport, .port = proxy.port(transport), .reconnect = true};
    std::vector<std::unique_ptr<Peer>> senders;
    std::vector<std::unique_ptr<Peer>> receivers;
    for (int i = 0; i < kPairs; ++i) {
        receivers.push_back(std::make_unique<Peer>(options));
        REQUIRE(receivers.back()->client().login(receiver_name(i), kPassword));
        senders.push_back(std::make_unique<Peer>(options));
        REQUIRE(senders.back()->client().login(sender_name(i), kPassword));
    }

    Ledger ledger;
    std::vector<std::thread> threads;
    for (int i = 0; i < kPairs; ++i) {
        threads.emplace_back([&, i] { run_sender(*senders[i], i, ledger); });
    }
    struct Joiner {
        std::vector<std::thread>& threads;
        ~Joiner() {
            for (auto& thread : threads) thread.join();
        }
    } joiner{threads};

    {
        std::unique_lock lock(ledger.mutex);
        const bool progressed = ledger.changed.wait_for(lock, 60s, [&] {
            return ledger.ok_total >= kOkBeforeKill || !ledger.problems.empty();
        });
        REQUIRE(progressed);
        REQUIRE(ledger.problems.empty());
    }
    // leastconn spreads the eight connections over the three nodes, so node1 holds some.
    nodes[0]->kill9();

    for (auto& thread : threads) thread.join();
    threads.clear();

    std::lock_guard lock(ledger.mutex);
    // Shown with any failed check below.
    std::string logs = "haproxy:\n" + proxy.log();
    for (const auto& node : nodes) logs += node->name() + ":\n" + node->log();
    INFO(logs);
    for (const auto& problem : ledger.problems) FAIL_CHECK(problem);
    // The failures by reason (the text after "sender/seq: ").
    std::map<std::string, int> reasons;
    for (const auto& failure : ledger.failures) ++reasons[failure.substr(failure.find(": ") + 2)];
    std::string summary;
    for (const auto& [reason, count] : reasons) {
        summary += "\n  " + std::to_string(count) + " x " + reason;
    }
    WARN(transport << ": " << ledger.ok_total << " sends ok, " << ledger.failures.size()
                   << " failed" << summary);

    int lost = 0;
    for (int i = 0; i < kPairs; ++i) {
        INFO("pair " << i);
        const auto& ok = ledger.ok[i];
        // One sender, one send at a time: the ids it is given increase.
        for (std::size_t k = 1; k < ok.size(); ++k) CHECK(ok[k - 1].id < ok[k].id);

        std::set<MessageId> wanted;
        for (const auto& message : ok) wanted.insert(message.id);
        const bool all_arrived = receivers[i]->wait_until(
            [&](const Peer::State& state) {
                std::set<MessageId> seen;
                for (const auto& message : state.received) seen.insert(message.id);
                return std::includes(seen.begin(), seen.end(), wanted.begin(), wanted.end());
            },
            kDeliveryWait);
        const auto state = receivers[i]->state();
        std::map<MessageId, Message> first_seen;
        // First arrivals on the first connection, and after it.
        std::vector<MessageId> first_connection;
        std::vector<MessageId> later;
        for (std::size_t k = 0; k < state.received.size(); ++k) {
            const auto& message = state.received[k];
            auto [at, fresh] = first_seen.emplace(message.id, message);
            if (!fresh) {
                CHECK(at->second == message);  // a duplicate is the same message
            } else if (state.epoch[k] == 0) {
                first_connection.push_back(message.id);
            } else {
                later.push_back(message.id);
            }
        }
        // Shown with a failed check: every arrival as id@connection, and the ledger's ids.
        std::string arrivals;
        for (std::size_t k = 0; k < state.received.size(); ++k) {
            arrivals +=
                " " + std::to_string(state.received[k].id) + "@" + std::to_string(state.epoch[k]);
        }
        std::string acked_ids;
        for (const auto& message : ok) acked_ids += " " + std::to_string(message.id);
        INFO("receiver lost " << state.lost << " restored " << state.restored << ", sender lost "
                              << senders[i]->state().lost << "\narrivals:" << arrivals
                              << "\nacked:" << acked_ids);
        std::size_t missing = 0;
        for (const auto& message : ok) {
            auto at = first_seen.find(message.id);
            if (at == first_seen.end()) {
                ++missing;
                continue;
            }
            CHECK(at->second.body == message.body);
            CHECK(at->second.from == sender_name(i));
        }
        CHECK(all_arrived);
        CHECK(missing == 0);
        // Anything beyond the acknowledged sends must be a send whose reply was lost.
        for (const auto& [id, message] : first_seen) {
            if (wanted.count(id) == 0) CHECK(ledger.failed[i].count(message.body) == 1);
        }
        // Pushes on one connection come in id order, and what the first connection did not
        // deliver comes later. After a reconnect the client hands over new pushes as they come
        // and what it fetched once the fetch returns, so there ids may interleave: counted.
        CHECK(std::is_sorted(first_connection.begin(), first_connection.end()));
        if (!first_connection.empty() && !later.empty()) {
            CHECK(first_connection.back() < *std::min_element(later.begin(), later.end()));
        }
        std::size_t out_of_order = 0;
        for (std::size_t k = 1; k < later.size(); ++k) out_of_order += later[k - 1] > later[k];
        if (out_of_order > 0) {
            WARN(receiver_name(i) << ": " << out_of_order
                                  << " messages arrived after a later one, after a reconnect");
        }

        for (const auto* peer : {senders[i].get(), receivers[i].get()}) {
            const auto peer_state = peer->state();
            lost += peer_state.lost;
            CHECK(peer_state.gave_up == 0);
            CHECK(peer_state.restored == peer_state.lost);
            CHECK(!peer_state.logged_out);
        }
    }
    // The kill must have hit someone, or this test checked nothing about reconnecting.
    CHECK(lost > 0);
}

TEST_CASE("a killed node's JSON clients reconnect through HAProxy and lose nothing") {
    run_crash_case("json");
}

TEST_CASE("a killed node's gRPC clients reconnect through HAProxy and lose nothing") {
    run_crash_case("grpc");
}

}  // namespace
}  // namespace chat::cluster
