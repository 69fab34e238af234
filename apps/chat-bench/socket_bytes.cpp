// Per-socket byte counters from TCP_INFO (see socket_bytes.hpp).
#include "socket_bytes.hpp"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <string>

namespace chat::bench {

std::set<int> open_sockets() {
    std::set<int> fds;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        const std::string name = entry.path().filename().string();
        const int fd = std::stoi(name);
        struct stat info {};
        if (fstat(fd, &info) == 0 && S_ISSOCK(info.st_mode)) fds.insert(fd);
    }
    return fds;
}

std::vector<int> new_server_sockets(const std::set<int>& before, const std::set<int>& after,
                                    std::uint16_t server_port) {
    std::vector<int> out;
    for (int fd : after) {
        if (before.contains(fd)) continue;
        sockaddr_storage peer{};
        socklen_t length = sizeof peer;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) continue;
        std::uint16_t port = 0;
        if (peer.ss_family == AF_INET) {
            port = ntohs(reinterpret_cast<const sockaddr_in*>(&peer)->sin_port);
        } else if (peer.ss_family == AF_INET6) {
            port = ntohs(reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_port);
        }
        if (port == server_port) out.push_back(fd);
    }
    return out;
}

WireBytes wire_bytes(const std::vector<int>& fds) {
    WireBytes total;
    for (int fd : fds) {
        tcp_info info{};
        socklen_t length = sizeof info;
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) continue;
        // Older kernels return a shorter struct without the byte counters.
        if (length < offsetof(tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received) {
            continue;
        }
        total.sent += info.tcpi_bytes_acked;
        total.received += info.tcpi_bytes_received;
    }
    return total;
}

}  // namespace chat::bench
