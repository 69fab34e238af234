// Argon2id hashing via libsodium and the hashing worker pool.
#include "password.hpp"

#include <sodium.h>

#include <stdexcept>

namespace chat::detail {

void ensure_sodium() {
    static const bool ok = sodium_init() >= 0;
    if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

std::optional<std::string> hash_password(std::string_view password, unsigned long long opslimit,
                                         std::size_t memlimit) {
    ensure_sodium();
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), opslimit, memlimit,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return std::nullopt;
    }
    return std::string(out);
}

bool verify_password(const std::string& hash, std::string_view password) {
    ensure_sodium();
    return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

HashPool::HashPool(unsigned threads, Limits limits) : limits_(limits) {
    threads_.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

HashPool::~HashPool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
}

HashPool::Admit HashPool::submit(const std::string& connection, const std::string& address,
                                 std::function<void()> job) {
    if (threads_.empty()) {
        job();
        return Admit::ok;
    }
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return Admit::stopping;
        if (queued_ >= limits_.total) return Admit::full;
        auto lane = lanes_.find(connection);
        if (!connection.empty() && limits_.per_connection > 0 && lane != lanes_.end() &&
            lane->second.queued.size() + lane->second.running >= limits_.per_connection) {
            return Admit::connection_full;
        }
        if (!address.empty()) {
            auto held = per_address_.find(address);
            if (limits_.per_address > 0 && held != per_address_.end() &&
                held->second >= limits_.per_address) {
                return Admit::address_full;
            }
            ++per_address_[address];
        }
        if (lane == lanes_.end()) lane = lanes_.try_emplace(connection).first;
        if (lane->second.queued.empty()) ready_.push_back(connection);
        lane->second.queued.push_back(Job{std::move(job), address});
        ++queued_;
    }
    cv_.notify_one();
    return Admit::ok;
}

void HashPool::run() {
    for (;;) {
        Job job;
        std::string key;
        {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
            if (ready_.empty()) return;  // stopping and drained
            key = std::move(ready_.front());
            ready_.pop_front();
            Lane& lane = lanes_.at(key);
            job = std::move(lane.queued.front());
            lane.queued.pop_front();
            ++lane.running;
            --queued_;
            // The lane goes to the back of the line: every other waiting connection is served
            // before its next job.
            if (!lane.queued.empty()) ready_.push_back(key);
        }
        job.run();
        job.run = nullptr;  // release what the job holds before the bookkeeping says it is done
        std::lock_guard lock(mutex_);
        auto lane = lanes_.find(key);
        if (--lane->second.running == 0 && lane->second.queued.empty()) lanes_.erase(lane);
        if (!job.address.empty()) {
            auto held = per_address_.find(job.address);
            if (--held->second == 0) per_address_.erase(held);
        }
    }
}

}  // namespace chat::detail
