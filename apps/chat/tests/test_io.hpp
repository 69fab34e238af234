// Pipes and pseudo-terminals for the client's tests, with bounded waits for output.
// Thread use: a Pipe or Pty is used by one test; its two ends may be used from two threads.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>

namespace chat::cli::test {

inline void write_fd(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n <= 0) throw std::runtime_error("write failed");
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Reads from `fd` into `seen` until `needle` appears in it or `timeout` passes.
inline bool read_until(int fd, std::string& seen, std::string_view needle,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (seen.find(needle) == std::string::npos) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[4096];
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return seen.find(needle) != std::string::npos;
        seen.append(buf, static_cast<std::size_t>(n));
    }
    return true;
}

// Reads whatever arrives until the writer closes or `timeout` passes.
inline std::string read_rest(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::string seen;
    read_until(fd, seen, std::string_view("\0never\0", 7), timeout);
    return seen;
}

class Pipe {
   public:
    Pipe() {
        if (::pipe2(fds_, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    }
    ~Pipe() {
        close_read();
        close_write();
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    int read_fd() const { return fds_[0]; }
    int write_fd() const { return fds_[1]; }
    void close_read() { close_end(0); }
    void close_write() { close_end(1); }

   private:
    void close_end(int i) {
        if (fds_[i] >= 0) ::close(fds_[i]);
        fds_[i] = -1;
    }
    int fds_[2] = {-1, -1};
};

class Pty {
   public:
    explicit Pty(unsigned short columns = 80) {
        winsize ws{};
        ws.ws_col = columns;
        ws.ws_row = 24;
        if (::openpty(&master_, &slave_, nullptr, nullptr, &ws) != 0) {
            throw std::runtime_error("openpty failed");
        }
    }
    ~Pty() {
        ::close(master_);
        ::close(slave_);
    }
    Pty(const Pty&) = delete;
    Pty& operator=(const Pty&) = delete;
    int master() const { return master_; }
    int slave() const { return slave_; }

   private:
    int master_ = -1;
    int slave_ = -1;
};

}  // namespace chat::cli::test
