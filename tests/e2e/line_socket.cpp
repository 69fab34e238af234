// LineSocket: a plain POSIX JSON Lines client for the end-to-end tests (see line_socket.hpp).
#include "line_socket.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace chat::e2e {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

int connect_loopback(std::uint16_t port, int receive_buffer) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket failed: ") + std::strerror(errno));
    if (receive_buffer > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        std::string why = std::strerror(errno);
        ::close(fd);
        throw std::runtime_error("connect failed: " + why);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

LineSocket::LineSocket(std::uint16_t port) : fd_(connect_loopback(port)) {}

LineSocket::~LineSocket() { close(); }

void LineSocket::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void LineSocket::shutdown_send() { ::shutdown(fd_, SHUT_WR); }

void LineSocket::send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error(std::string("send failed: ") + std::strerror(errno));
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

bool LineSocket::fill(std::chrono::milliseconds timeout) {
    if (peer_closed_) return false;
    pollfd pfd{fd_, POLLIN, 0};
    int rc = 0;
    do {
        rc = poll(&pfd, 1, static_cast<int>(timeout.count()));
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0) return false;
    char chunk[65536];
    ssize_t n = 0;
    do {
        n = ::recv(fd_, chunk, sizeof chunk, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        peer_closed_ = true;  // EOF or reset
        return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
}

std::optional<std::string> LineSocket::read_line(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
        auto newline = buffer_.find('\n');
        if (newline != std::string::npos) {
            std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            return line;
        }
        if (!fill(std::chrono::milliseconds(remaining_ms(deadline)))) return std::nullopt;
    }
}

json::object LineSocket::read_object(std::chrono::milliseconds timeout) {
    auto line = read_line(timeout);
    if (!line) {
        throw std::runtime_error(peer_closed_ ? "server closed the connection"
                                              : "no reply in time");
    }
    json::value value = json::parse(*line);
    if (!value.is_object()) throw std::runtime_error("reply is not an object: " + *line);
    return value.get_object();
}

json::object LineSocket::request(std::string_view frame) {
    send_line(frame);
    return read_object();
}

bool LineSocket::wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!peer_closed_) {
        buffer_.clear();
        if (!fill(std::chrono::milliseconds(remaining_ms(deadline))) && !peer_closed_) {
            return false;
        }
    }
    return true;
}

bool LineSocket::nothing_within(std::chrono::milliseconds quiet) {
    if (!buffer_.empty()) return false;
    return !fill(quiet) && !peer_closed_;
}

std::string code_of(const json::object& reply) {
    const auto* error = reply.if_contains("error");
    if (error == nullptr || !error->is_object()) return "";
    const auto* code = error->get_object().if_contains("code");
    if (code == nullptr || !code->is_string()) return "";
    return std::string(code->get_string());
}

bool is_ok(const json::object& reply) {
    const auto* ok = reply.if_contains("ok");
    return ok != nullptr && ok->is_bool() && ok->get_bool();
}

}  // namespace chat::e2e
