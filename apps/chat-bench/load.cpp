// Pieces shared by every load generator (see load.hpp).
#include "load.hpp"

#include <charconv>

namespace chat::bench {

void make_body(std::uint64_t stamp, std::size_t size, std::string& out) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, stamp);
    (void)ec;  // 24 bytes always hold a 64-bit number
    out.assign(digits, end);
    out.push_back(' ');
    if (out.size() < size) out.append(size - out.size(), 'x');
}

std::optional<std::uint64_t> body_stamp(std::string_view body) noexcept {
    std::uint64_t stamp = 0;
    auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), stamp);
    if (ec != std::errc() || end == body.data() || end == body.data() + body.size() ||
        *end != ' ') {
        return std::nullopt;
    }
    return stamp;
}

void ReceiverTally::record(std::string_view body, bool measuring) noexcept {
    const std::uint64_t now = now_nanos();
    total_.fetch_add(1, std::memory_order_relaxed);
    if (!measuring) return;
    const auto stamp = body_stamp(body);
    std::lock_guard lock(mutex_);
    ++window_;
    if (stamp && *stamp <= now) histogram_.record(now - *stamp);
}

void ReceiverTally::begin_window() {
    std::lock_guard lock(mutex_);
    histogram_.clear();
    window_ = 0;
}

std::uint64_t ReceiverTally::end_window(LatencyHistogram& into) {
    std::lock_guard lock(mutex_);
    into.merge(histogram_);
    return window_;
}

std::uint64_t ReceiverTally::window_count() const {
    std::lock_guard lock(mutex_);
    return window_;
}

void LoadGenerator::begin_window() {
    sends_ok_window_ = 0;
    for (auto* tally : tallies_) tally->begin_window();
}

std::uint64_t LoadGenerator::end_window(LatencyHistogram& latencies) {
    std::uint64_t delivered = 0;
    for (auto* tally : tallies_) delivered += tally->end_window(latencies);
    return delivered;
}

void LoadGenerator::count_send(bool ok) noexcept {
    if (ok) {
        sent_ok_total_.fetch_add(1, std::memory_order_relaxed);
        if (measuring()) sends_ok_window_.fetch_add(1, std::memory_order_relaxed);
    } else {
        send_errors_.fetch_add(1, std::memory_order_relaxed);
    }
}

std::uint64_t LoadGenerator::delivered_total() const noexcept {
    std::uint64_t total = 0;
    for (const auto* tally : tallies_) total += tally->total();
    return total;
}

LoadCounters LoadGenerator::shared_counters() const {
    LoadCounters c;
    c.delivered_total = delivered_total();
    c.sent_ok_total = sent_ok_total_.load();
    c.sends_ok_window = sends_ok_window_.load();
    c.send_errors = send_errors_.load();
    c.skipped = skipped_.load();
    return c;
}

}  // namespace chat::bench
