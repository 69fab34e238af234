// JsonClient: the client half of the JSON Lines transport, over one TCP connection (TLS when
// ClientConfig::tls asks for it: same frames, through OpenSSL). The requests, replies and pushes
// are FrameClient's (frame_client.hpp); this is the connection: lines in, lines out.
//
// The I/O thread owns the socket: it reads lines (completing pending requests) and writes the
// queued frames in one gather.
#include <boost/asio.hpp>
#include <optional>

#include "chat/json/json_transport.hpp"
#include "frame_client.hpp"
#include "line_framer.hpp"
#include "tls_context.hpp"

namespace chat::json_transport {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Replies are not bounded by the server's max_frame (a fetch of 1000 long messages is large);
// this only guards against a peer that never ends a line.
constexpr std::size_t kMaxReplyBytes = 512u * 1024u * 1024u;

// Thread use: see chat::Client.
class JsonClient final : public FrameClient {
   public:
    explicit JsonClient(const ClientConfig& config)
        : FrameClient(config, "json-callbacks"), socket_(io_context()), framer_(kMaxReplyBytes) {}

    // The callback thread ends with the Delivery (joined, or left to end by itself when the
    // client is destroyed from inside a handler).
    ~JsonClient() override { close(); }

   private:
    Result<void> open_connection() override {
        auto& ioc = io_context();
        const ClientConfig& conf = config();
        boost::system::error_code ec;
        tcp::resolver resolver(ioc);
        auto endpoints = resolver.resolve(conf.host, std::to_string(conf.port), ec);
        if (ec)
            return make_error(Errc::internal, "cannot resolve " + conf.host + ": " + ec.message());
        std::optional<boost::system::error_code> result;
        asio::async_connect(socket_, endpoints,
                            [&result](boost::system::error_code connect_ec, const tcp::endpoint&) {
                                result = connect_ec;
                            });
        ioc.run_for(conf.timeout);
        if (!result) {
            socket_.close(ec);
            ioc.run();  // lets the cancelled connect finish
            return make_error(Errc::internal, "timeout connecting to " + address());
        }
        if (*result) {
            return make_error(Errc::internal,
                              "cannot connect to " + address() + ": " + result->message());
        }
        socket_.set_option(tcp::no_delay(true), ec);
        ioc.restart();
        if (conf.tls) {
            auto secured = start_tls();
            ioc.restart();
            if (!secured.ok()) {
                socket_.close(ec);
                return secured.error();
            }
        }
        return {};
    }

    void start_reading() override { read(); }

    void shut_connection() override {
        boost::system::error_code ec;
        socket_.shutdown(tcp::socket::shutdown_both, ec);
        socket_.close(ec);
    }

    // Connect time, before the I/O thread exists: the TLS handshake over the connected socket,
    // verifying the server's certificate and name.
    Result<void> start_tls() {
        try {
            tls_context_ = make_client_tls_context(config());
        } catch (const std::exception& e) {
            return make_error(Errc::internal, e.what());
        }
        tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, *tls_context_);
        const std::string& name =
            config().tls_server_name.empty() ? config().host : config().tls_server_name;
        if (!expect_server_name(tls_->native_handle(), name)) {
            return make_error(Errc::internal, "cannot check a TLS certificate for '" + name + "'");
        }
        std::optional<boost::system::error_code> result;
        tls_->async_handshake(ssl::stream_base::client,
                              [&result](boost::system::error_code ec) { result = ec; });
        io_context().run_for(config().timeout);
        if (!result) {
            boost::system::error_code ignored;
            socket_.close(ignored);
            io_context().restart();
            io_context().run();  // lets the cancelled handshake finish
            return make_error(Errc::internal, "timeout in the TLS handshake with " + address());
        }
        if (*result) {
            return make_error(Errc::internal,
                              "TLS handshake with " + address() +
                                  " failed: " + handshake_failure(tls_->native_handle(), *result));
        }
        return {};
    }

    // --- I/O thread ---

    void flush_outbox() override {
        take_outbox(outbound_);
        if (!socket_.is_open()) return;
        if (!write_in_flight_ && !outbound_.empty()) start_write();
    }

    void start_write() {
        writing_.swap(outbound_);
        outbound_.clear();
        write_in_flight_ = true;
        auto on_done = [this](boost::system::error_code ec, std::size_t) {
            write_in_flight_ = false;
            writing_.clear();
            if (ec) return;  // the reader sees the broken connection too
            if (!outbound_.empty()) start_write();
        };
        if (tls_) {
            asio::async_write(*tls_, asio::buffer(writing_), std::move(on_done));
        } else {
            asio::async_write(socket_, asio::buffer(writing_), std::move(on_done));
        }
    }

    void read() {
        auto on_read = [this](boost::system::error_code ec, std::size_t n) {
            if (ec) return on_broken(ec);
            // The events of one read wake the callback thread once.
            delivery().hold();
            auto status = framer_.feed(std::string_view(read_buffer_.data(), n),
                                       [this](std::string_view frame) { on_frame(frame); });
            delivery().release();
            if (status != LineFramer::Status::ok) {
                return on_broken(asio::error::message_size);
            }
            read();
        };
        if (tls_) {
            tls_->async_read_some(asio::buffer(read_buffer_), std::move(on_read));
        } else {
            socket_.async_read_some(asio::buffer(read_buffer_), std::move(on_read));
        }
    }

    tcp::socket socket_;
    // TLS only (ClientConfig::tls): the context and the stream over socket_, made by connect().
    std::unique_ptr<ssl::context> tls_context_;
    std::unique_ptr<ssl::stream<tcp::socket&>> tls_;

    // I/O thread only.
    std::array<char, 64 * 1024> read_buffer_{};
    LineFramer framer_;
    std::string outbound_;
    std::string writing_;
    bool write_in_flight_ = false;
};

}  // namespace

std::unique_ptr<Client> make_client(const ClientConfig& config) {
    // The JSON transport has no settings of its own.
    if (!config.settings.empty()) throw_unknown_setting("json", config.settings.begin()->first, {});
    return std::make_unique<JsonClient>(config);
}

}  // namespace chat::json_transport
