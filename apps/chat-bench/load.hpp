// The load of one cell: P senders each keeping W sends in flight (or paced at an offered rate),
// P receivers timing every push. LoadGenerator is the interface the runner drives; ClientLoad
// (chat::Client, the default, same for every transport), LeanJsonLoad (raw JSON Lines, a
// lighter client for when the library is the bottleneck) and RedisLoad (Redis pub/sub, the
// reference) implement it; the last two share EpollLoad's one-thread engine.
//
// Latency: the sender writes the send time (steady clock, ns) at the start of the body; the
// receiver subtracts it from the time its on_message runs. Both ends are in this process, so one
// monotonic clock serves both.
// Thread use: setup/start/stop/close and counters() from the one runner thread; set_phase from
// the runner while the load runs. Receivers and send completions run on the clients' threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench_options.hpp"
#include "latency_histogram.hpp"
#include "socket_bytes.hpp"

namespace chat::bench {

// Before the measured window, inside it, after it.
enum class Phase : int { warmup, measuring, after };

inline std::uint64_t now_nanos() noexcept {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

// The smallest body that still carries a timestamp and its separator.
inline constexpr std::size_t kMinBodySize = 24;

// Writes `size` bytes: the decimal `stamp`, a space, then filler.
void make_body(std::uint64_t stamp, std::size_t size, std::string& out);
// The stamp at the start of `body`; nullopt when there is none.
std::optional<std::uint64_t> body_stamp(std::string_view body) noexcept;

// One receiver's record. Thread use: record() from the receiver's thread; the rest from the
// runner (a mutex makes the two meet safely at window edges).
class ReceiverTally final {
   public:
    void record(std::string_view body, bool measuring) noexcept;
    void begin_window();
    // Adds this window's latencies to `into`; returns its delivered count.
    std::uint64_t end_window(LatencyHistogram& into);
    std::uint64_t total() const noexcept { return total_.load(std::memory_order_relaxed); }
    std::uint64_t window_count() const;

   private:
    mutable std::mutex mutex_;
    LatencyHistogram histogram_;
    std::uint64_t window_ = 0;
    std::atomic<std::uint64_t> total_{0};
};

struct LoadCounters {
    std::uint64_t delivered_total = 0;  // pushes seen since setup
    std::uint64_t sent_ok_total = 0;    // successful send replies since setup
    std::uint64_t sends_ok_window = 0;
    std::uint64_t send_errors = 0;
    std::uint64_t skipped = 0;
    WireBytes senders;    // send requests out, replies in
    WireBytes receivers;  // acks out, pushes and ack replies in
};

class LoadGenerator {
   public:
    virtual ~LoadGenerator() = default;

    // Connects P senders and P receivers, creates fresh accounts and logs them in. Throws
    // std::runtime_error when the server refuses.
    virtual void setup() = 0;
    // Begins sending: W per sender in a closed loop, or paced at BenchOptions::rate.
    virtual void start() = 0;
    // Stops sending and waits (bounded) for the sends in flight and their pushes.
    virtual void stop() = 0;
    // Disconnects everything. Idempotent.
    virtual void close() = 0;

    virtual LoadCounters counters() = 0;
    // Resets the per-window tallies (call before setting Phase::measuring).
    void begin_window();
    // The window's delivered count and merged latencies (after Phase::after).
    std::uint64_t end_window(LatencyHistogram& latencies);

    void set_phase(Phase phase) noexcept { phase_.store(phase, std::memory_order_release); }
    bool measuring() const noexcept {
        return phase_.load(std::memory_order_acquire) == Phase::measuring;
    }

   protected:
    // What every generator counts alike. add_tally/forget_tallies from the runner thread (setup,
    // close: before the receivers holding the tallies go); the count_* calls from any thread.
    void add_tally(ReceiverTally& tally) { tallies_.push_back(&tally); }
    void forget_tallies() { tallies_.clear(); }
    void count_send(bool ok) noexcept;
    void count_skipped() noexcept { skipped_.fetch_add(1, std::memory_order_relaxed); }
    std::uint64_t delivered_total() const noexcept;
    std::uint64_t sent_ok_total() const noexcept { return sent_ok_total_.load(); }
    // LoadCounters with everything counted here; the generator adds its wire bytes.
    LoadCounters shared_counters() const;

   private:
    std::atomic<Phase> phase_{Phase::warmup};
    std::vector<ReceiverTally*> tallies_;
    std::atomic<std::uint64_t> sent_ok_total_{0};
    std::atomic<std::uint64_t> sends_ok_window_{0};
    std::atomic<std::uint64_t> send_errors_{0};
    std::atomic<std::uint64_t> skipped_{0};
};

// Which server a load talks to.
struct LoadTarget {
    std::string transport;
    std::vector<Endpoint> nodes;  // one per chatd node (at least one)
    std::string name_prefix;      // unique per run: account names are <prefix>s<i> / <prefix>r<i>

    // Where pair `pair`'s sender and receiver connect (see sender_node, receiver_node).
    const Endpoint& sender_endpoint(unsigned pair) const {
        return nodes.at(sender_node(pair, static_cast<unsigned>(nodes.size())));
    }
    const Endpoint& receiver_endpoint(unsigned pair) const {
        return nodes.at(receiver_node(pair, static_cast<unsigned>(nodes.size())));
    }
};

std::unique_ptr<LoadGenerator> make_client_load(const BenchOptions& options,
                                                const LoadTarget& target);
std::unique_ptr<LoadGenerator> make_lean_json_load(const BenchOptions& options,
                                                   const LoadTarget& target);
// The reference: Redis pub/sub under the same load shape (target.transport "redis").
std::unique_ptr<LoadGenerator> make_redis_load(const BenchOptions& options,
                                               const LoadTarget& target);

}  // namespace chat::bench
