// Helpers for setting up a load: the password of every bench account, and running setup steps
// (which wait on the server's password hashing) side by side.
// Thread use: run_parallel calls `step` from several threads at once.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace chat::bench {

inline constexpr std::string_view kBenchPassword = "bench-password";

// Runs step(0) .. step(count - 1) on up to `threads` threads and waits for all of them. The
// first exception thrown by a step is rethrown here (the other steps still finish).
void run_parallel(std::size_t count, const std::function<void(std::size_t)>& step,
                  unsigned threads = 8);

}  // namespace chat::bench
