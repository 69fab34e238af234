// JsonClient: the client half of the JSON Lines transport, over one TCP connection (TLS when
// ClientConfig::tls asks for it: same frames, through OpenSSL).
//
// Two threads per client: the I/O thread owns the socket (reads frames, completes pending
// requests, writes queued frames in one gather), and the callback thread of chat::Delivery runs
// the application's handlers in arrival order (de-duplicating and auto-acking pushes). Keeping
// them apart lets a handler make blocking calls on the same client: the I/O thread goes on
// reading their replies meanwhile.
#include <boost/asio.hpp>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "chat/delivery.hpp"
#include "chat/json/json_transport.hpp"
#include "codec.hpp"
#include "line_framer.hpp"
#include "pending_requests.hpp"
#include "tls_context.hpp"

namespace chat::json_transport {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ReplyHandler = PendingRequests::ReplyHandler;

// Replies are not bounded by the server's max_frame (a fetch of 1000 long messages is large);
// this only guards against a peer that never ends a line.
constexpr std::size_t kMaxReplyBytes = 512u * 1024u * 1024u;

Error malformed_reply() { return make_error(Errc::internal, "malformed reply from server"); }

// Thread use: see chat::Client.
class JsonClient final : public Client {
   public:
    explicit JsonClient(ClientConfig config)
        : config_(std::move(config)),
          socket_(ioc_),
          framer_(kMaxReplyBytes),
          delivery_(config_.auto_ack, "json-callbacks") {
        // One ack for a batch of handed-over pushes; its reply (or failure) ends the batch.
        delivery_.set_ack_sender([this](std::vector<MessageId> ids, std::function<void()> done) {
            submit(request("ack", ack_fields(ids, std::nullopt)),
                   [done = std::move(done)](Result<json::object>) { done(); });
        });
    }

    // The callback thread ends with delivery_ (joined, or left to end by itself when the
    // client is destroyed from inside a handler).
    ~JsonClient() override { close(); }

    Result<void> connect() override {
        std::lock_guard lock(lifecycle_mutex_);
        if (connected_ || closed_) return make_error(Errc::internal, "connect() called twice");
        boost::system::error_code ec;
        tcp::resolver resolver(ioc_);
        auto endpoints = resolver.resolve(config_.host, std::to_string(config_.port), ec);
        if (ec)
            return make_error(Errc::internal,
                              "cannot resolve " + config_.host + ": " + ec.message());
        std::optional<boost::system::error_code> result;
        asio::async_connect(socket_, endpoints,
                            [&result](boost::system::error_code connect_ec, const tcp::endpoint&) {
                                result = connect_ec;
                            });
        ioc_.run_for(config_.timeout);
        if (!result) {
            socket_.close(ec);
            ioc_.run();  // lets the cancelled connect finish
            return make_error(Errc::internal, "timeout connecting to " + address());
        }
        if (*result) {
            return make_error(Errc::internal,
                              "cannot connect to " + address() + ": " + result->message());
        }
        socket_.set_option(tcp::no_delay(true), ec);
        ioc_.restart();
        if (config_.tls) {
            auto secured = start_tls();
            ioc_.restart();
            if (!secured.ok()) {
                socket_.close(ec);
                return secured.error();
            }
        }
        connected_ = true;
        pending_.open();
        work_.emplace(ioc_.get_executor());
        read();
        io_thread_ = std::thread([this] { ioc_.run(); });
        return {};
    }

    void close() override {
        {
            std::lock_guard lock(lifecycle_mutex_);
            if (closed_) return;
            closed_ = true;
            if (!connected_) return;
        }
        asio::post(ioc_, [this] {
            boost::system::error_code ec;
            socket_.shutdown(tcp::socket::shutdown_both, ec);
            socket_.close(ec);
        });
        work_.reset();
        if (io_thread_.joinable()) io_thread_.join();
        // Requests still waiting can no longer be answered.
        pending_.fail_all(make_error(Errc::internal, "client closed"));
        // No handler after this returns (send_async completions still run).
        delivery_.close();
    }

    Result<HelloInfo> hello(int version) override {
        auto reply = call(request("hello", {{"version", version}}));
        if (!reply.ok()) return reply.error();
        FieldReader in(*reply);
        HelloInfo info;
        auto v = in.optional_i64("version");
        auto server = in.optional_string("server");
        auto max_frame = in.optional_u64("max_frame");
        if (!in.ok() || !v || !server || !max_frame) return malformed_reply();
        info.version = static_cast<int>(*v);
        info.server = *server;
        info.max_frame = static_cast<std::size_t>(*max_frame);
        return info;
    }

    Result<void> create_account(std::string_view username, std::string_view password) override {
        return no_fields(
            call(request("create_account", {{"username", username}, {"password", password}})));
    }

    Result<LoginResult> login(std::string_view username, std::string_view password) override {
        auto reply = call(request("login", {{"username", username}, {"password", password}}));
        if (!reply.ok()) return reply.error();
        FieldReader in(*reply);
        LoginResult result;
        result.username = in.required_string("username");
        result.unread = in.required_u64("unread");
        if (!in.ok()) return malformed_reply();
        return result;
    }

    Result<void> logout() override { return no_fields(call(request("logout", {}))); }

    Result<Message> send(std::string_view to, std::string_view body) override {
        return decode_sent(call(request("send", {{"to", to}, {"body", body}})));
    }

    void send_async(std::string_view to, std::string_view body,
                    std::function<void(Result<Message>)> done) override {
        // The pipelined hot path: the frame is written straight out, no json::object first.
        std::string frame;
        frame.reserve(48 + to.size() + body.size());
        frame.append("{\"op\":\"send\",\"to\":");
        append_json_string(frame, to);
        frame.append(",\"body\":");
        append_json_string(frame, body);
        submit_encoded(
            std::move(frame), [this, done = std::move(done)](Result<json::object> reply) mutable {
                if (!done) return;
                delivery_.post([done = std::move(done), reply = std::move(reply)]() mutable {
                    done(decode_sent(std::move(reply)));
                });
            });
    }

    Result<FetchResult> fetch(std::uint64_t max) override {
        json::object fields;
        if (max != 0) fields.emplace("max", max);
        auto reply = call(request("fetch", std::move(fields)));
        if (!reply.ok()) return reply.error();
        FieldReader in(*reply);
        FetchResult result;
        result.remaining = in.required_u64("remaining");
        const auto* messages = in.optional_value("messages");
        if (!in.ok() || messages == nullptr || !messages->is_array()) return malformed_reply();
        for (const auto& value : messages->get_array()) {
            auto message = decode_message(value);
            if (!message) return malformed_reply();
            result.messages.push_back(std::move(*message));
        }
        return result;
    }

    Result<std::uint64_t> ack(const std::vector<MessageId>& ids,
                              std::optional<MessageId> up_to) override {
        auto reply = call(request("ack", ack_fields(ids, up_to)));
        if (!reply.ok()) return reply.error();
        FieldReader in(*reply);
        auto acked = in.required_u64("acked");
        if (!in.ok()) return malformed_reply();
        return acked;
    }

    Result<AccountPage> list_accounts(std::string_view pattern, std::uint64_t limit,
                                      std::string_view after) override {
        json::object fields;
        if (!pattern.empty()) fields.emplace("pattern", pattern);
        if (limit != 0) fields.emplace("limit", limit);
        if (!after.empty()) fields.emplace("after", after);
        auto reply = call(request("list_accounts", std::move(fields)));
        if (!reply.ok()) return reply.error();
        FieldReader in(*reply);
        AccountPage page;
        auto accounts = in.optional_string_array("accounts");
        auto next = in.optional_string("next");
        if (!in.ok() || !accounts) return malformed_reply();
        page.accounts = std::move(*accounts);
        if (next) page.next = std::string(*next);
        return page;
    }

    Result<void> delete_account(std::string_view password) override {
        return no_fields(call(request("delete_account", {{"password", password}})));
    }

    void on_message(MessageHandler handler) override { delivery_.on_message(std::move(handler)); }
    void on_logged_out(LoggedOutHandler handler) override {
        delivery_.on_logged_out(std::move(handler));
    }
    void on_disconnect(DisconnectHandler handler) override {
        delivery_.on_disconnect(std::move(handler));
    }

   private:
    std::string address() const { return config_.host + ":" + std::to_string(config_.port); }

    // Connect time, before the I/O thread exists: the TLS handshake over the connected socket,
    // verifying the server's certificate and name.
    Result<void> start_tls() {
        try {
            tls_context_ = make_client_tls_context(config_);
        } catch (const std::exception& e) {
            return make_error(Errc::internal, e.what());
        }
        tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, *tls_context_);
        const std::string& name =
            config_.tls_server_name.empty() ? config_.host : config_.tls_server_name;
        if (!expect_server_name(tls_->native_handle(), name)) {
            return make_error(Errc::internal, "cannot check a TLS certificate for '" + name + "'");
        }
        std::optional<boost::system::error_code> result;
        tls_->async_handshake(ssl::stream_base::client,
                              [&result](boost::system::error_code ec) { result = ec; });
        ioc_.run_for(config_.timeout);
        if (!result) {
            boost::system::error_code ignored;
            socket_.close(ignored);
            ioc_.restart();
            ioc_.run();  // lets the cancelled handshake finish
            return make_error(Errc::internal, "timeout in the TLS handshake with " + address());
        }
        if (*result) {
            return make_error(Errc::internal,
                              "TLS handshake with " + address() +
                                  " failed: " + handshake_failure(tls_->native_handle(), *result));
        }
        return {};
    }

    static json::object request(std::string_view op, json::object fields) {
        json::object out;
        out.reserve(fields.size() + 2);
        out.emplace("op", op);
        for (auto& field : fields) out.emplace(field.key(), std::move(field.value()));
        return out;
    }

    static json::object ack_fields(const std::vector<MessageId>& ids,
                                   std::optional<MessageId> up_to) {
        json::object fields;
        json::array array;
        array.reserve(ids.size());
        for (auto id : ids) array.emplace_back(id);
        // Naming nothing sends neither field: the server answers bad_request, as gRPC does.
        if (!ids.empty()) fields.emplace("ids", std::move(array));
        if (up_to) fields.emplace("up_to", *up_to);
        return fields;
    }

    static Result<void> no_fields(Result<json::object> reply) {
        if (!reply.ok()) return reply.error();
        return {};
    }

    static Result<Message> decode_sent(Result<json::object> reply) {
        if (!reply.ok()) return reply.error();
        const auto* value = reply->if_contains("message");
        if (value == nullptr) return malformed_reply();
        auto message = decode_message(*value);
        if (!message) return malformed_reply();
        return std::move(*message);
    }

    // --- Requests (any thread) ---

    // Queues `request` with a fresh id; `on_reply` runs on the I/O thread (or at once when the
    // connection is gone). Returns the id, or 0 when not connected.
    std::uint64_t submit(json::object request, ReplyHandler on_reply) {
        // Written field by field and left open: submit_encoded adds the id and closes it.
        std::string frame = "{";
        for (const auto& field : request) {
            if (frame.size() > 1) frame.push_back(',');
            append_json_string(frame, field.key());
            frame.push_back(':');
            frame.append(json::serialize(field.value()));
        }
        return submit_encoded(std::move(frame), std::move(on_reply));
    }

    // `open_frame`: see PendingRequests::submit. Returns the id, or 0 when refused.
    std::uint64_t submit_encoded(std::string open_frame, ReplyHandler on_reply) {
        const auto submitted = pending_.submit(open_frame, std::move(on_reply));
        if (submitted.post_flush) asio::post(ioc_, [this] { flush_outbox(); });
        return submitted.id;
    }

    Result<json::object> call(json::object request) {
        auto promise = std::make_shared<std::promise<Result<json::object>>>();
        auto future = promise->get_future();
        const std::uint64_t id = submit(std::move(request), [promise](Result<json::object> reply) {
            promise->set_value(std::move(reply));
        });
        if (id == 0) return future.get();
        if (future.wait_for(config_.timeout) != std::future_status::ready) {
            pending_.forget(id);
            return make_error(Errc::internal, "timeout");
        }
        return future.get();
    }

    // --- I/O thread ---

    void flush_outbox() {
        pending_.take_outbox(outbound_);
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
            delivery_.hold();
            auto status = framer_.feed(std::string_view(read_buffer_.data(), n),
                                       [this](std::string_view frame) { on_frame(frame); });
            delivery_.release();
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

    void on_broken(const boost::system::error_code& ec) {
        boost::system::error_code ignored;
        socket_.close(ignored);
        bool closing = false;
        {
            std::lock_guard lock(lifecycle_mutex_);
            closing = closed_;
        }
        Error error = make_error(Errc::internal,
                                 closing ? "client closed" : "connection lost: " + ec.message());
        if (auto reason = pending_.closing_error(); !closing && reason) error = *reason;
        pending_.fail_all(error);
        if (!closing) delivery_.disconnected(error);
    }

    void on_frame(std::string_view frame) {
        boost::system::error_code ec;
        parser_.reset();
        parser_.write(frame.data(), frame.size(), ec);
        if (ec) return;  // not a frame we can use; the server never sends these
        json::value value = parser_.release();
        auto* object = value.if_object();
        if (object == nullptr) return;
        if (const auto* event = object->if_contains("event")) {
            if (event->is_string()) on_event(event->get_string(), *object);
            return;
        }
        const auto* id_value = object->if_contains("id");
        auto id = id_value != nullptr ? to_u64(*id_value) : std::nullopt;
        if (!id) {
            // The server could not read the id of a request (frame_too_large) or answers none
            // (server_busy on a full server). Either is the reason for a disconnect that may
            // follow; and as replies come in request order, it answers our oldest request.
            if (const auto* error = object->if_contains("error")) {
                pending_.set_closing_error(decode_error(*error));
            }
        }
        ReplyHandler handler = pending_.take(id);
        if (!handler) return;  // timed out already, or nothing pending
        const auto* ok = object->if_contains("ok");
        if (ok != nullptr && ok->is_bool() && ok->get_bool()) {
            handler(std::move(*object));
        } else if (const auto* error = object->if_contains("error")) {
            handler(decode_error(*error));
        } else {
            handler(malformed_reply());
        }
    }

    void on_event(std::string_view event, const json::object& object) {
        if (event == "message") {
            const auto* value = object.if_contains("message");
            auto message = value != nullptr ? decode_message(*value) : std::nullopt;
            if (!message) return;
            delivery_.message(std::move(*message));
        } else if (event == "logged_out") {
            const auto* reason_value = object.if_contains("reason");
            std::optional<LogoutReason> reason;
            if (reason_value != nullptr && reason_value->is_string()) {
                reason = logout_reason_from_string(reason_value->get_string());
            }
            delivery_.logged_out(reason.value_or(LogoutReason::account_deleted));
        }
        // Unknown events are ignored: a newer server may send more kinds.
    }

    const ClientConfig config_;
    asio::io_context ioc_;
    tcp::socket socket_;
    // TLS only (ClientConfig::tls): the context and the stream over socket_, made by connect().
    std::unique_ptr<ssl::context> tls_context_;
    std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::thread io_thread_;

    std::mutex lifecycle_mutex_;
    bool connected_ = false;
    bool closed_ = false;

    PendingRequests pending_;  // requests waiting for their reply

    // I/O thread only.
    std::array<char, 64 * 1024> read_buffer_{};
    LineFramer framer_;
    json::parser parser_;
    std::string outbound_;
    std::string writing_;
    bool write_in_flight_ = false;

    // Last, so it is destroyed first: posted completions still run while the rest exists.
    Delivery delivery_;
};

}  // namespace

std::unique_ptr<Client> make_client(const ClientConfig& config) {
    // The JSON transport has no settings of its own.
    if (!config.settings.empty()) throw_unknown_setting("json", config.settings.begin()->first, {});
    return std::make_unique<JsonClient>(config);
}

}  // namespace chat::json_transport
