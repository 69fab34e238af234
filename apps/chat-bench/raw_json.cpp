// Blocking JSON Lines helpers (see raw_json.hpp).
#include "raw_json.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace chat::bench {

namespace {
constexpr int kReplyTimeoutSeconds = 120;  // a login may wait behind a long hashing queue
}

int connect_tcp(const Endpoint& endpoint) {
    sockaddr_storage address{};
    socklen_t length = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    const std::string host = endpoint.host == "localhost" ? "127.0.0.1" : endpoint.host;
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(endpoint.port);
        length = sizeof *v4;
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(endpoint.port);
        length = sizeof *v6;
    } else {
        throw std::runtime_error("not a numeric address: " + endpoint.host);
    }
    const int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
        const int error = errno;
        close(fd);
        throw std::runtime_error("connect to " + host + ":" + std::to_string(endpoint.port) + ": " +
                                 std::strerror(error));
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval timeout{kReplyTimeoutSeconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return fd;
}

std::string json_request(int fd, std::string& pending, std::string_view line) {
    while (!line.empty()) {
        const ssize_t n = write(fd, line.data(), line.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw std::runtime_error(std::string("write: ") + std::strerror(errno));
        line.remove_prefix(static_cast<std::size_t>(n));
    }
    for (;;) {
        if (auto newline = pending.find('\n'); newline != std::string::npos) {
            std::string reply = pending.substr(0, newline);
            pending.erase(0, newline + 1);
            return reply;
        }
        char buffer[4096];
        const ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw std::runtime_error("no reply from the server");
        pending.append(buffer, static_cast<std::size_t>(n));
    }
}

std::string credentials_request(std::string_view op, std::string_view name,
                                std::string_view password) {
    std::string out = "{\"op\":\"";
    out.append(op);
    out.append("\",\"id\":0,\"username\":\"");
    out.append(name);
    out.append("\",\"password\":\"");
    out.append(password);
    out.append("\"}\n");
    return out;
}

}  // namespace chat::bench
