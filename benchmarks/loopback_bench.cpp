// The floor under every latency figure of chat-bench: one 64-byte ping-pong over loopback TCP
// between two threads, the echoing one pinned to CPU 0 and the timing one to CPU 1 (as chatd and
// chat-bench are pinned). One iteration is one round trip, i.e. two cross-CPU wake-ups — the
// same two a pushed message needs on its way from sender to receiver through chatd.
// Run: build/release/benchmarks/chat_loopback_bench
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <thread>

namespace {

void pin_to(int cpu) {
    if (static_cast<int>(std::thread::hardware_concurrency()) <= cpu) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

void no_delay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool exchange(int fd, std::array<char, 64>& buffer, bool write_first) {
    auto read_all = [&] {
        std::size_t got = 0;
        while (got < buffer.size()) {
            const ssize_t n = read(fd, buffer.data() + got, buffer.size() - got);
            if (n <= 0) return false;
            got += static_cast<std::size_t>(n);
        }
        return true;
    };
    auto write_all = [&] {
        return write(fd, buffer.data(), buffer.size()) == static_cast<ssize_t>(buffer.size());
    };
    return write_first ? write_all() && read_all() : read_all() && write_all();
}

void BM_LoopbackRoundTrip(benchmark::State& state) {
    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        listen(listener, 1) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        state.SkipWithError("cannot listen on loopback");
        close(listener);
        return;
    }
    std::thread echo([listener] {
        pin_to(0);
        const int peer = accept(listener, nullptr, nullptr);
        if (peer < 0) return;
        no_delay(peer);
        std::array<char, 64> buffer{};
        while (exchange(peer, buffer, false)) {
        }
        close(peer);
    });
    pin_to(1);
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        state.SkipWithError("cannot connect");
    } else {
        no_delay(fd);
        std::array<char, 64> buffer{};
        for (auto _ : state) {
            if (!exchange(fd, buffer, true)) {
                state.SkipWithError("exchange failed");
                break;
            }
        }
    }
    close(fd);  // the echo thread sees EOF and ends
    echo.join();
    close(listener);
}
BENCHMARK(BM_LoopbackRoundTrip)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
