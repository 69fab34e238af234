// Bytes on the wire as the kernel counts them per TCP socket: tcpi_bytes_acked (payload bytes
// this end sent that the peer acknowledged) and tcpi_bytes_received (payload bytes received),
// read with getsockopt(TCP_INFO) on the client's own sockets. Payload only: TCP/IP headers are
// not counted. The same method serves every transport, so JSON and gRPC are compared alike.
//
// Clients do not expose their sockets, so chat-bench notes which socket descriptors appear while
// a client connects (SocketSet::new_since) and keeps those that lead to the server's port.
// Thread use: free functions and plain values; safe from any thread.
#pragma once

#include <cstdint>
#include <set>
#include <vector>

namespace chat::bench {

struct WireBytes {
    std::uint64_t sent = 0;
    std::uint64_t received = 0;

    WireBytes& operator+=(const WireBytes& other) {
        sent += other.sent;
        received += other.received;
        return *this;
    }
    friend WireBytes operator-(WireBytes a, const WireBytes& b) {
        return {a.sent - b.sent, a.received - b.received};
    }
};

// The open socket descriptors of this process.
std::set<int> open_sockets();

// The descriptors in `after` but not in `before` that are TCP connections to 127.0.0.1 (or ::1)
// port `server_port`.
std::vector<int> new_server_sockets(const std::set<int>& before, const std::set<int>& after,
                                    std::uint16_t server_port);

// The kernel's counters of `fds`, summed. A descriptor that is no longer a socket counts 0.
WireBytes wire_bytes(const std::vector<int>& fds);

}  // namespace chat::bench
