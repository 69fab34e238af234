// LatencyHistogram: bucket arithmetic and percentiles (see latency_histogram.hpp).
#include "latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace chat::bench {

std::size_t LatencyHistogram::bucket_of(std::uint64_t nanos) noexcept {
    if (nanos < kSubBuckets) return static_cast<std::size_t>(nanos);
    const unsigned exponent = static_cast<unsigned>(std::bit_width(nanos)) - 1;  // >= kSubBits
    if (exponent > kMaxExponent) return kBuckets - 1;
    const std::uint64_t sub = (nanos >> (exponent - kSubBits)) & (kSubBuckets - 1);
    return (exponent - kSubBits + 1) * kSubBuckets + static_cast<std::size_t>(sub);
}

std::uint64_t LatencyHistogram::bucket_upper(std::size_t bucket) noexcept {
    if (bucket < kSubBuckets) return bucket;
    const unsigned exponent = static_cast<unsigned>(bucket / kSubBuckets) - 1 + kSubBits;
    const std::uint64_t sub = bucket % kSubBuckets;
    const unsigned shift = exponent - kSubBits;
    // Bucket covers [(64 + sub) << shift, (64 + sub + 1) << shift).
    return ((kSubBuckets + sub + 1) << shift) - 1;
}

void LatencyHistogram::record(std::uint64_t nanos) noexcept {
    ++counts_[bucket_of(nanos)];
    ++count_;
    max_ = std::max(max_, nanos);
    min_ = std::min(min_, nanos);
    sum_ += static_cast<long double>(nanos);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    max_ = std::max(max_, other.max_);
    min_ = std::min(min_, other.min_);
    sum_ += other.sum_;
}

void LatencyHistogram::clear() noexcept { *this = LatencyHistogram{}; }

double LatencyHistogram::mean() const noexcept {
    return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::uint64_t LatencyHistogram::percentile(double quantile) const noexcept {
    if (count_ == 0) return 0;
    quantile = std::clamp(quantile, 0.0, 1.0);
    // The rank of the sample we want, 1-based: at least one sample.
    const auto rank = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::ceil(quantile * static_cast<double>(count_))));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::min(bucket_upper(i), max_);
    }
    return max_;
}

}  // namespace chat::bench
