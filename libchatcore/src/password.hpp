// Password hashing (libsodium Argon2id) and the bounded worker pool that runs it off the
// transports' I/O threads. Private to libchatcore.
// Thread use: the free functions are thread-safe; HashPool may be used from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace chat::detail {

// Initialises libsodium once; throws std::runtime_error if it cannot.
void ensure_sodium();

// crypto_pwhash_str with the given cost; nullopt when libsodium fails (out of memory).
std::optional<std::string> hash_password(std::string_view password, unsigned long long opslimit,
                                         std::size_t memlimit);

// Constant-time verification against a stored hash string.
bool verify_password(const std::string& hash, std::string_view password);

// A fixed set of threads running queued hash jobs. The queue is bounded in all (a login storm
// is refused with `server_busy` instead of exhausting memory) and per key: each job names the
// connection and the peer address it came from, and neither may hold more than its share of jobs
// queued or running at once. Workers take jobs round-robin over the connections that have some
// waiting, so one client with many calls in flight delays another client by at most one job per
// busy connection, not by its whole backlog. With 0 threads, jobs run inline in submit().
class HashPool final {
   public:
    struct Limits {
        std::size_t total = 1024;        // jobs queued in all
        std::size_t per_connection = 4;  // queued or running, per non-empty connection key; 0: any
        std::size_t per_address = 32;    // queued or running, per non-empty address key; 0: any
    };
    enum class Admit { ok, full, connection_full, address_full, stopping };

    HashPool(unsigned threads, Limits limits);
    ~HashPool();  // runs every queued job, then joins
    HashPool(const HashPool&) = delete;
    HashPool& operator=(const HashPool&) = delete;

    // Queues `job` for the given connection and address (either may be empty: not limited by
    // that key). Anything but ok means the job was not queued and will not run.
    Admit submit(const std::string& connection, const std::string& address,
                 std::function<void()> job);

   private:
    struct Job {
        std::function<void()> run;
        std::string address;
    };
    struct Lane {
        std::deque<Job> queued;
        std::size_t running = 0;
    };
    void run();

    Limits limits_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::unordered_map<std::string, Lane> lanes_;  // by connection key; "" is one shared lane
    std::deque<std::string> ready_;                // lanes with queued jobs, in serving order
    std::unordered_map<std::string, std::size_t> per_address_;
    std::size_t queued_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace chat::detail
