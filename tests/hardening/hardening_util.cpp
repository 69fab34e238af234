// Tools of the hardening tests (see hardening_util.hpp).
#include "hardening_util.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "line_socket.hpp"

namespace chat::hardening {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// The parent pid from /proc/<pid>/stat: the field after the parenthesised command name.
std::optional<pid_t> parent_of(const std::filesystem::path& proc_entry) {
    std::ifstream in(proc_entry / "stat");
    std::string stat;
    if (!std::getline(in, stat)) return std::nullopt;
    auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) return std::nullopt;
    std::istringstream rest(stat.substr(close_paren + 1));
    std::string state;
    long ppid = 0;
    if (!(rest >> state >> ppid)) return std::nullopt;
    return static_cast<pid_t>(ppid);
}

}  // namespace

TempDir::TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "chat-hardening-XXXXXX").string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (mkdtemp(buffer.data()) == nullptr) {
        throw std::runtime_error(std::string("mkdtemp failed: ") + std::strerror(errno));
    }
    path_ = buffer.data();
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::optional<pid_t> find_child_process(const std::string& executable) {
    std::error_code ec;
    const auto wanted = std::filesystem::canonical(executable, ec);
    if (ec) return std::nullopt;
    const pid_t me = getpid();
    std::optional<pid_t> found;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        auto parent = parent_of(entry.path());
        if (!parent || *parent != me) continue;
        std::error_code link_ec;
        auto exe = std::filesystem::read_symlink(entry.path() / "exe", link_ec);
        if (link_ec || exe != wanted) continue;
        if (found) return std::nullopt;  // ambiguous
        found = static_cast<pid_t>(std::stol(name));
    }
    return found;
}

std::optional<std::size_t> resident_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            std::istringstream fields(line.substr(6));
            std::size_t kib = 0;
            if (fields >> kib) return kib;
        }
    }
    return std::nullopt;
}

std::size_t raise_descriptor_limit(std::size_t wanted) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
    if (limit.rlim_cur < wanted) {
        limit.rlim_cur = std::min<rlim_t>(static_cast<rlim_t>(wanted), limit.rlim_max);
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    return static_cast<std::size_t>(limit.rlim_cur);
}

RawSocket::RawSocket(std::uint16_t port, int receive_buffer)
    : fd_(e2e::connect_loopback(port, receive_buffer)) {}

RawSocket::~RawSocket() { close(); }

void RawSocket::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void RawSocket::reset() {
    if (fd_ < 0) return;
    linger hard{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    close();
}

void RawSocket::shutdown_send() { ::shutdown(fd_, SHUT_WR); }

bool RawSocket::send_all(std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::optional<std::string> RawSocket::receive(std::chrono::milliseconds timeout, std::size_t max) {
    if (!buffer_.empty()) {
        std::string out = buffer_.substr(0, max);
        buffer_.erase(0, out.size());
        return out;
    }
    if (closed_by_peer_) return std::nullopt;
    pollfd pfd{fd_, POLLIN, 0};
    int rc = 0;
    do {
        rc = poll(&pfd, 1, static_cast<int>(timeout.count()));
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0) return std::string();
    std::string chunk(max, '\0');
    ssize_t n = 0;
    do {
        n = ::recv(fd_, chunk.data(), chunk.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        closed_by_peer_ = true;
        return std::nullopt;
    }
    chunk.resize(static_cast<std::size_t>(n));
    return chunk;
}

std::optional<std::string> RawSocket::read_line(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string pending = std::move(buffer_);
    buffer_.clear();
    while (true) {
        auto newline = pending.find('\n');
        if (newline != std::string::npos) {
            buffer_ = pending.substr(newline + 1);
            pending.resize(newline);
            return pending;
        }
        auto chunk = receive(std::chrono::milliseconds(remaining_ms(deadline)));
        if (!chunk || chunk->empty()) {
            buffer_ = std::move(pending);  // keep what came for a later read
            return std::nullopt;
        }
        pending += *chunk;
    }
}

bool RawSocket::wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    buffer_.clear();
    while (true) {
        auto chunk = receive(std::chrono::milliseconds(remaining_ms(deadline)));
        if (!chunk) return true;
        if (chunk->empty() && Clock::now() >= deadline) return false;
    }
}

}  // namespace chat::hardening
