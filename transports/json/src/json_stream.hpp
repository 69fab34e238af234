// ByteStream: the bytes of one JSON server connection, over plain TCP or TLS behind one
// interface, so the connection above has one read path, one way to write and one way to close.
//
// Plain TCP keeps its cheap read: wait until the socket is readable, then read what is there
// into a buffer of the I/O thread (an idle connection holds no input buffer). TLS reads through
// OpenSSL into the stream's own buffer (one record's payload). Both report the same outcomes:
// bytes, the end of the peer's input (TLS: close_notify, or a bare EOF, which is just as final
// because frames delimit themselves), a failure, or a read cut short by close().
//
// Thread use: the owner's strand only. Every completion runs on that strand; the handlers passed
// in must keep the owner (and so this stream) alive until they run.
#pragma once

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tls_context.hpp"

namespace chat::json_transport {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

class ByteStream final {
   public:
    enum class ReadStatus {
        data,     // some bytes arrived
        eof,      // the peer is done sending
        failed,   // the connection broke
        aborted,  // close() cut the read short
    };
    enum class HandshakeStatus { done, failed, timed_out };
    using HandshakeDone = std::function<void(HandshakeStatus, const boost::system::error_code&)>;
    using LingerDone = std::function<void()>;

    // `tls`: the server's TLS context, or null for plain TCP.
    ByteStream(tcp::socket socket, const Strand& strand, ssl::context* tls);

    bool is_tls() const noexcept { return tls_ != nullptr; }
    bool reading() const noexcept { return reading_; }
    // address:port, or "unknown"; and the address alone, or empty.
    std::string peer() const;
    std::string peer_address() const;

    // TLS only: the server handshake, given up after `timeout` (0: no limit). `done` runs once.
    void handshake(std::chrono::milliseconds timeout, HandshakeDone done);
    // Before serving: TCP_NODELAY (where the socket has it) and non-blocking mode. The error of
    // the latter (the former is only a hint).
    boost::system::error_code prepare();

    // One read: calls `handler(ReadStatus, std::string_view bytes)` once; `bytes` (empty unless
    // the status is data) is valid only during that call. One read at a time.
    template <class Handler>
    void read(Handler handler);
    // Writes all of `bytes`, which must stay valid until `handler(error_code)` runs.
    template <class Handler>
    void write(std::string_view bytes, Handler handler);
    // The half-close after the last reply: shuts our sending side (TLS: close_notify), then
    // discards what the peer still sends until it hangs up, fails, or sends too much. Calls
    // `done` once, when the stream can be closed.
    void linger(LingerDone done);
    void close();

   private:
    // A TLS connection's OpenSSL stream over socket_ (which stays the owner of the socket).
    struct Tls {
        Tls(tcp::socket& socket, ssl::context& context, const Strand& strand)
            : stream(socket, context), handshake_timer(strand) {}
        ssl::stream<tcp::socket&> stream;
        std::array<char, 16 * 1024> buffer;  // one TLS record's payload at most
        asio::steady_timer handshake_timer;
    };

    static ReadStatus status_of(const boost::system::error_code& ec) noexcept;
    // Plain TCP, once readable: one non-blocking read into the thread's buffer. Nullopt when
    // nothing is there after all (wait again).
    std::optional<ReadStatus> read_ready(std::string_view& bytes);
    void discard(LingerDone done, std::size_t discarded);

    tcp::socket socket_;
    Strand strand_;
    std::unique_ptr<Tls> tls_;  // TLS connections only
    bool reading_ = false;      // a read is in flight
};

template <class Handler>
void ByteStream::read(Handler handler) {
    reading_ = true;
    if (tls_) {
        auto on_read = [this, handler = std::move(handler)](boost::system::error_code ec,
                                                            std::size_t n) mutable {
            reading_ = false;
            const ReadStatus status = status_of(ec);
            std::string_view bytes;
            if (status == ReadStatus::data) bytes = std::string_view(tls_->buffer.data(), n);
            handler(status, bytes);
        };
        tls_->stream.async_read_some(asio::buffer(tls_->buffer),
                                     asio::bind_executor(strand_, std::move(on_read)));
        return;
    }
    auto on_readable = [this, handler = std::move(handler)](boost::system::error_code ec) mutable {
        reading_ = false;
        if (ec) return handler(status_of(ec), std::string_view());
        std::string_view bytes;
        const std::optional<ReadStatus> status = read_ready(bytes);
        if (!status) return read(std::move(handler));  // nothing there after all: wait again
        handler(*status, bytes);
    };
    socket_.async_wait(tcp::socket::wait_read,
                       asio::bind_executor(strand_, std::move(on_readable)));
}

template <class Handler>
void ByteStream::write(std::string_view bytes, Handler handler) {
    auto on_done = asio::bind_executor(
        strand_, [handler = std::move(handler)](boost::system::error_code ec, std::size_t) mutable {
            handler(ec);
        });
    if (tls_) {
        asio::async_write(tls_->stream, asio::buffer(bytes), std::move(on_done));
    } else {
        asio::async_write(socket_, asio::buffer(bytes), std::move(on_done));
    }
}

}  // namespace chat::json_transport
