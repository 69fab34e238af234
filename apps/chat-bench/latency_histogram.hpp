// LatencyHistogram: a fixed-size log-linear histogram of durations in nanoseconds (the layout of
// HdrHistogram with ~1.6 % relative precision), so a receiver can record every delivery in O(1)
// without allocating, and several receivers' histograms merge into one for the percentiles.
// Thread use: not thread-safe; each receiver owns one, merged after its thread has stopped.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace chat::bench {

class LatencyHistogram final {
   public:
    // Each power of two is split into this many linear sub-buckets.
    static constexpr unsigned kSubBits = 6;
    static constexpr std::size_t kSubBuckets = std::size_t{1} << kSubBits;
    // Values up to 2^kMaxExponent ns (about 18 minutes) are kept exactly by bucket; larger ones
    // land in the top bucket.
    static constexpr unsigned kMaxExponent = 40;
    static constexpr std::size_t kBuckets = (kMaxExponent - kSubBits + 2) * kSubBuckets;

    void record(std::uint64_t nanos) noexcept;
    void merge(const LatencyHistogram& other) noexcept;
    void clear() noexcept;

    std::uint64_t count() const noexcept { return count_; }
    std::uint64_t max() const noexcept { return max_; }
    std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    double mean() const noexcept;
    // The smallest recorded bucket value v such that at least `quantile` of the samples are
    // <= v (reported as the bucket's upper edge, never above the true maximum). 0 when empty.
    std::uint64_t percentile(double quantile) const noexcept;

    // Bucket arithmetic, public for the tests.
    static std::size_t bucket_of(std::uint64_t nanos) noexcept;
    static std::uint64_t bucket_upper(std::size_t bucket) noexcept;

   private:
    std::array<std::uint64_t, kBuckets> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
    std::uint64_t min_ = UINT64_MAX;
    long double sum_ = 0;
};

}  // namespace chat::bench
