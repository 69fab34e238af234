// LatencyHistogram and the body stamp: the arithmetic the latency figures rest on.
#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>

#include "latency_histogram.hpp"
#include "load.hpp"
#include "process_stats.hpp"

using chat::bench::LatencyHistogram;

TEST_CASE("histogram buckets keep values below 128 exact") {
    for (std::uint64_t v = 0; v < 128; ++v) {
        REQUIRE(LatencyHistogram::bucket_upper(LatencyHistogram::bucket_of(v)) == v);
    }
}

TEST_CASE("histogram bucket edges hold their value within 1.6 percent") {
    std::mt19937_64 random(42);
    for (int i = 0; i < 100000; ++i) {
        const std::uint64_t v = random() >> (random() % 40 + 24);
        const std::uint64_t upper = LatencyHistogram::bucket_upper(LatencyHistogram::bucket_of(v));
        REQUIRE(upper >= v);
        REQUIRE(static_cast<double>(upper - v) <= 0.016 * static_cast<double>(v) + 1.0);
    }
}

TEST_CASE("histogram buckets are ordered") {
    std::uint64_t previous = 0;
    for (std::size_t b = 1; b < LatencyHistogram::kBuckets; ++b) {
        const std::uint64_t upper = LatencyHistogram::bucket_upper(b);
        REQUIRE(upper > previous);
        previous = upper;
    }
}

TEST_CASE("histogram percentiles of a uniform spread") {
    LatencyHistogram h;
    for (std::uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);  // 1 us .. 100 ms
    REQUIRE(h.count() == 100000);
    REQUIRE(h.min() == 1000);
    REQUIRE(h.max() == 100000000);
    REQUIRE(h.percentile(0.5) == Approx(50000000).epsilon(0.02));
    REQUIRE(h.percentile(0.99) == Approx(99000000).epsilon(0.02));
    REQUIRE(h.percentile(0.999) == Approx(99900000).epsilon(0.02));
    REQUIRE(h.percentile(1.0) == 100000000);
    REQUIRE(h.mean() == Approx(50000500.0));
}

TEST_CASE("histogram merge equals recording into one") {
    LatencyHistogram a;
    LatencyHistogram b;
    LatencyHistogram both;
    for (std::uint64_t v = 0; v < 5000; ++v) {
        (v % 2 == 0 ? a : b).record(v * 37);
        both.record(v * 37);
    }
    a.merge(b);
    REQUIRE(a.count() == both.count());
    for (double q : {0.1, 0.5, 0.9, 0.99, 0.999}) REQUIRE(a.percentile(q) == both.percentile(q));
    a.clear();
    REQUIRE(a.count() == 0);
    REQUIRE(a.percentile(0.5) == 0);
}

TEST_CASE("histogram takes huge values into its top bucket") {
    LatencyHistogram h;
    h.record(UINT64_MAX);
    REQUIRE(h.count() == 1);
    REQUIRE(h.percentile(0.5) <= UINT64_MAX);
    REQUIRE(h.max() == UINT64_MAX);
}

TEST_CASE("a body carries its stamp and has the asked size") {
    std::string body;
    chat::bench::make_body(123456789012345ULL, 64, body);
    REQUIRE(body.size() == 64);
    REQUIRE(chat::bench::body_stamp(body) == 123456789012345ULL);
    chat::bench::make_body(UINT64_MAX, chat::bench::kMinBodySize, body);
    REQUIRE(body.size() == chat::bench::kMinBodySize);
    REQUIRE(chat::bench::body_stamp(body) == UINT64_MAX);
}

TEST_CASE("a body without a stamp has none") {
    REQUIRE_FALSE(chat::bench::body_stamp("hello").has_value());
    REQUIRE_FALSE(chat::bench::body_stamp("12345").has_value());
    REQUIRE_FALSE(chat::bench::body_stamp(" 12 x").has_value());
    REQUIRE_FALSE(chat::bench::body_stamp("").has_value());
}

TEST_CASE("cpu lists parse like taskset's") {
    using chat::bench::parse_cpu_list;
    REQUIRE(parse_cpu_list("0") == std::vector<int>{0});
    REQUIRE(parse_cpu_list("1,3") == std::vector<int>{1, 3});
    REQUIRE(parse_cpu_list("0-2") == std::vector<int>{0, 1, 2});
    REQUIRE(parse_cpu_list("x").empty());
    REQUIRE(parse_cpu_list("2-1").empty());
    REQUIRE(parse_cpu_list("").empty());
}
