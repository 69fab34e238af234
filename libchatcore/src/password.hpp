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
#include <vector>

namespace chat::detail {

// Initialises libsodium once; throws std::runtime_error if it cannot.
void ensure_sodium();

// crypto_pwhash_str with the given cost; nullopt when libsodium fails (out of memory).
std::optional<std::string> hash_password(std::string_view password, unsigned long long opslimit,
                                         std::size_t memlimit);

// Constant-time verification against a stored hash string.
bool verify_password(const std::string& hash, std::string_view password);

// A fixed set of threads running queued jobs; the queue is bounded so a login storm is refused
// (`server_busy`) instead of exhausting memory. With 0 threads, jobs run inline in submit().
class HashPool final {
   public:
    HashPool(unsigned threads, std::size_t queue_limit);
    ~HashPool();  // runs every queued job, then joins
    HashPool(const HashPool&) = delete;
    HashPool& operator=(const HashPool&) = delete;

    // False when the queue is full (the job is not run).
    bool submit(std::function<void()> job);

   private:
    void run();

    std::size_t queue_limit_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace chat::detail
