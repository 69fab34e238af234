// ByteStream: plain TCP or TLS under one JSON server connection (see json_stream.hpp).
#include "json_stream.hpp"

#include <sstream>

namespace chat::json_transport {

namespace {

// While lingering: how much of what the peer still sends is read and thrown away at most.
constexpr std::size_t kMaxLingerDiscard = 1024 * 1024;

}  // namespace

ByteStream::ByteStream(tcp::socket socket, const Strand& strand, ssl::context* tls)
    : socket_(std::move(socket)), strand_(strand) {
    if (tls != nullptr) tls_ = std::make_unique<Tls>(socket_, *tls, strand_);
}

std::string ByteStream::peer() const {
    boost::system::error_code ec;
    auto endpoint = socket_.remote_endpoint(ec);
    if (ec) return "unknown";
    std::ostringstream out;
    out << endpoint;
    return out.str();
}

std::string ByteStream::peer_address() const {
    boost::system::error_code ec;
    auto endpoint = socket_.remote_endpoint(ec);
    if (ec) return {};
    return endpoint.address().to_string(ec);
}

void ByteStream::handshake(std::chrono::milliseconds timeout, HandshakeDone done) {
    // Shared by the timer and the handshake, so that either keeps `done` (and with it the
    // owner) alive until both have run.
    struct Attempt {
        HandshakeDone done;
        bool over = false;       // the handshake has completed
        bool timed_out = false;  // the timer closed the stream first
    };
    auto attempt = std::make_shared<Attempt>(Attempt{std::move(done)});
    if (timeout.count() > 0) {
        tls_->handshake_timer.expires_after(timeout);
        tls_->handshake_timer.async_wait(
            asio::bind_executor(strand_, [this, attempt](boost::system::error_code ec) {
                if (ec || attempt->over) return;
                attempt->timed_out = true;
                close();  // ends the handshake, which reports the timeout
            }));
    }
    tls_->stream.async_handshake(
        ssl::stream_base::server,
        asio::bind_executor(strand_, [this, attempt](boost::system::error_code ec) {
            attempt->over = true;
            tls_->handshake_timer.cancel();
            HandshakeStatus status = HandshakeStatus::done;
            if (attempt->timed_out) {
                status = HandshakeStatus::timed_out;
            } else if (ec) {
                status = HandshakeStatus::failed;
            }
            attempt->done(status, ec);
        }));
}

boost::system::error_code ByteStream::prepare() {
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    socket_.non_blocking(true, ec);
    return ec;
}

ByteStream::ReadStatus ByteStream::status_of(const boost::system::error_code& ec) noexcept {
    if (!ec) return ReadStatus::data;
    if (ec == asio::error::eof || ec == ssl::error::stream_truncated) return ReadStatus::eof;
    if (ec == asio::error::operation_aborted) return ReadStatus::aborted;
    return ReadStatus::failed;
}

std::optional<ByteStream::ReadStatus> ByteStream::read_ready(std::string_view& bytes) {
    // One read buffer per I/O thread: an idle connection then holds no input buffer at all.
    thread_local std::array<char, 64 * 1024> buffer;
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(buffer), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return std::nullopt;
    if (!ec) bytes = std::string_view(buffer.data(), n);
    return status_of(ec);
}

void ByteStream::linger(LingerDone done) {
    if (reading_) {
        // Never two reads at once (serving leaves none behind when it winds down): give up.
        done();
        return;
    }
    if (tls_) {
        // Our close_notify is the TLS form of the half-close; OpenSSL discards what the peer
        // still sends until its own close_notify or EOF ends the shutdown.
        tls_->stream.async_shutdown(asio::bind_executor(
            strand_, [done = std::move(done)](boost::system::error_code) { done(); }));
        return;
    }
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
        done();
        return;
    }
    discard(std::move(done), 0);
}

void ByteStream::discard(LingerDone done, std::size_t discarded) {
    read([this, done = std::move(done), discarded](ReadStatus status,
                                                   std::string_view bytes) mutable {
        discarded += bytes.size();
        if (status != ReadStatus::data || discarded > kMaxLingerDiscard) return done();
        discard(std::move(done), discarded);
    });
}

void ByteStream::close() {
    boost::system::error_code ec;
    if (tls_) tls_->handshake_timer.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
}

}  // namespace chat::json_transport
