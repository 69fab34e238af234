// LineSocket: a deliberately plain POSIX TCP client that speaks raw JSON Lines, the way a
// foreign client (a script, socat) would; it shares no code with our client library.
// Thread use: one thread per socket.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chat::e2e {

namespace json = boost::json;

// A TCP connection to 127.0.0.1:`port` with TCP_NODELAY; `receive_buffer` > 0 sets SO_RCVBUF
// first (a small one makes a slow reader). Returns the fd; throws std::runtime_error on failure.
int connect_loopback(std::uint16_t port, int receive_buffer = 0);

class LineSocket {
   public:
    explicit LineSocket(std::uint16_t port);
    ~LineSocket();
    LineSocket(const LineSocket&) = delete;
    LineSocket& operator=(const LineSocket&) = delete;

    // Writes exactly these bytes (one write call per invocation).
    void send_raw(std::string_view bytes);
    // Writes `frame` and a '\n'.
    void send_line(std::string_view frame) { send_raw(std::string(frame) + "\n"); }

    // The next line without its '\n'; nullopt on timeout or when the server closed.
    std::optional<std::string> read_line(
        std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // The next line parsed as a JSON object; throws if there is none or it is not an object.
    json::object read_object(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // send_line + read_object.
    json::object request(std::string_view frame);

    // True when the server closes the connection within `timeout` (any data before that is
    // discarded).
    bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // True when nothing arrives within `quiet` (for "no reply to a blank line" checks).
    bool nothing_within(std::chrono::milliseconds quiet);

    bool peer_closed() const noexcept { return peer_closed_; }
    // Half-close: the server sees end of input but may still answer.
    void shutdown_send();
    void close();

   private:
    // Reads what is available (waiting at most `timeout`); false on timeout or close.
    bool fill(std::chrono::milliseconds timeout);

    int fd_ = -1;
    std::string buffer_;
    bool peer_closed_ = false;
};

// Small accessors for asserting on replies.
std::string code_of(const json::object& reply);  // "" when the reply is ok
bool is_ok(const json::object& reply);

}  // namespace chat::e2e
