// JsonClient: the client half of the JSON Lines transport, over one TCP connection (TLS when
// ClientConfig::tls asks for it: same frames, through OpenSSL).
//
// Two threads per client: the I/O thread owns the socket (reads frames, completes pending
// requests, writes queued frames in one gather), and the callback thread runs the
// application's handlers in arrival order. Keeping them apart lets a handler make blocking
// calls on the same client: the I/O thread goes on reading their replies meanwhile.
#include <boost/asio.hpp>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "chat/json/json_transport.hpp"
#include "chat/push_dedup.hpp"
#include "codec.hpp"
#include "line_framer.hpp"
#include "tls_context.hpp"

namespace chat::json_transport {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ReplyHandler = std::function<void(Result<json::object>)>;

// Replies are not bounded by the server's max_frame (a fetch of 1000 long messages is large);
// this only guards against a peer that never ends a line.
constexpr std::size_t kMaxReplyBytes = 512u * 1024u * 1024u;

Error malformed_reply() { return make_error(Errc::internal, "malformed reply from server"); }

// The application's handlers run here, one at a time, in the order they were queued.
// Thread use: push() from any thread; the loop runs on its own thread. Shared with that thread
// so the loop never touches the client after the client stops it.
class CallbackQueue final {
   public:
    void push(std::function<void()> task) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
            tasks_.push_back(std::move(task));
        }
        ready_.notify_one();
    }

    // Queues several tasks at once, in order, with one wake-up (empties `tasks`).
    void push_all(std::vector<std::function<void()>>& tasks) {
        if (tasks.empty()) return;
        {
            std::lock_guard lock(mutex_);
            if (!stopping_) {
                for (auto& task : tasks) tasks_.push_back(std::move(task));
            }
        }
        tasks.clear();
        ready_.notify_one();
    }

    // Runs tasks until stop(); `on_idle` runs whenever the queue has just become empty.
    void run(const std::function<void()>& on_idle) {
        std::unique_lock lock(mutex_);
        std::deque<std::function<void()>> batch;
        while (true) {
            ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
            if (tasks_.empty()) return;  // stopping and drained
            // Everything queued so far, taken under one lock.
            batch.swap(tasks_);
            lock.unlock();
            for (auto& task : batch) {
                task();
                task = nullptr;
            }
            batch.clear();
            lock.lock();
            if (tasks_.empty() && !stopping_) {
                lock.unlock();
                on_idle();
                lock.lock();
            }
        }
    }

    // Tasks already queued still run; later pushes are dropped.
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        ready_.notify_all();
    }

   private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
};

// Thread use: see chat::Client.
class JsonClient final : public Client {
   public:
    explicit JsonClient(ClientConfig config)
        : config_(std::move(config)), socket_(ioc_), framer_(kMaxReplyBytes) {}

    ~JsonClient() override {
        close();
        if (callback_thread_.joinable()) {
            if (callback_thread_.get_id() == std::this_thread::get_id()) {
                callback_thread_.detach();  // destroyed from a handler: the loop exits by itself
            } else {
                callback_thread_.join();
            }
        }
    }

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
        {
            std::lock_guard pending_lock(pending_mutex_);
            accepting_ = true;
        }
        work_.emplace(ioc_.get_executor());
        read();
        io_thread_ = std::thread([this] { ioc_.run(); });
        callback_thread_ =
            std::thread([queue = callbacks_, this] { queue->run([this] { flush_acks(); }); });
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
        fail_pending(make_error(Errc::internal, "client closed"));
        callbacks_->stop();
        if (callback_thread_.joinable() &&
            callback_thread_.get_id() != std::this_thread::get_id()) {
            callback_thread_.join();
        }
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
                queue_callback([done = std::move(done), reply = std::move(reply)]() mutable {
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

    void on_message(MessageHandler handler) override { message_handler_ = std::move(handler); }
    void on_logged_out(LoggedOutHandler handler) override {
        logged_out_handler_ = std::move(handler);
    }
    void on_disconnect(DisconnectHandler handler) override {
        disconnect_handler_ = std::move(handler);
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
        if (!ids.empty() || !up_to) fields.emplace("ids", std::move(array));
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
        std::string frame = json::serialize(request);
        frame.pop_back();  // the closing brace: submit_encoded adds the id and closes it
        return submit_encoded(std::move(frame), std::move(on_reply));
    }

    // `open_frame` is a request object without its closing brace (`{"op":"send",...`): the id
    // is added, the frame closed and queued for the I/O thread. Frames queued while a flush is
    // pending leave with it, in one write.
    std::uint64_t submit_encoded(std::string open_frame, ReplyHandler on_reply) {
        std::uint64_t id = 0;
        bool post_flush = false;
        // Why the connection is gone, when the server said so (e.g. server_busy) before we asked.
        std::optional<Error> refused;
        {
            std::lock_guard lock(pending_mutex_);
            if (accepting_) {
                id = next_id_++;
                pending_.emplace(id, std::move(on_reply));
                outbox_.append(open_frame);
                outbox_.append(open_frame.size() > 1 ? ",\"id\":" : "\"id\":");
                char digits[24];
                auto [end, ec] = std::to_chars(digits, digits + sizeof digits, id);
                (void)ec;
                outbox_.append(digits, end);
                outbox_.append("}\n");
                post_flush = !flush_posted_;
                flush_posted_ = true;
            } else {
                refused = closing_error_;
            }
        }
        if (id == 0) {
            if (on_reply) {
                on_reply(refused ? *refused : make_error(Errc::internal, "not connected"));
            }
            return 0;
        }
        if (post_flush) asio::post(ioc_, [this] { flush_outbox(); });
        return id;
    }

    // Hands a completion to the callback thread. Inside a read on the I/O thread, completions
    // are gathered and handed over together when the read is done (one wake-up per read).
    // `in_read_` belongs to the I/O thread: it is looked at only there.
    void queue_callback(std::function<void()> task) {
        if (ioc_.get_executor().running_in_this_thread() && in_read_) {
            staged_.push_back(std::move(task));
        } else {
            callbacks_->push(std::move(task));
        }
    }

    Result<json::object> call(json::object request) {
        auto promise = std::make_shared<std::promise<Result<json::object>>>();
        auto future = promise->get_future();
        const std::uint64_t id = submit(std::move(request), [promise](Result<json::object> reply) {
            promise->set_value(std::move(reply));
        });
        if (id == 0) return future.get();
        if (future.wait_for(config_.timeout) != std::future_status::ready) {
            forget(id);
            return make_error(Errc::internal, "timeout");
        }
        return future.get();
    }

    void forget(std::uint64_t id) {
        std::lock_guard lock(pending_mutex_);
        pending_.erase(id);
    }

    void fail_pending(const Error& error) {
        std::map<std::uint64_t, ReplyHandler> failed;
        {
            std::lock_guard lock(pending_mutex_);
            accepting_ = false;
            failed.swap(pending_);
        }
        for (auto& [id, handler] : failed) {
            if (handler) handler(error);
        }
    }

    // --- I/O thread ---

    void flush_outbox() {
        {
            std::lock_guard lock(pending_mutex_);
            flush_posted_ = false;
            if (outbound_.empty()) {
                outbound_.swap(outbox_);
            } else {
                outbound_.append(outbox_);
                outbox_.clear();
            }
        }
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
            in_read_ = true;
            auto status = framer_.feed(std::string_view(read_buffer_.data(), n),
                                       [this](std::string_view frame) { on_frame(frame); });
            in_read_ = false;
            callbacks_->push_all(staged_);
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
        {
            std::lock_guard lock(pending_mutex_);
            if (!closing && closing_error_) error = *closing_error_;
        }
        fail_pending(error);
        if (!closing && disconnect_handler_) {
            callbacks_->push([this, error] { disconnect_handler_(error); });
        }
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
                auto reason = decode_error(*error);
                std::lock_guard lock(pending_mutex_);
                closing_error_ = std::move(reason);
            }
        }
        ReplyHandler handler;
        {
            std::lock_guard lock(pending_mutex_);
            auto it = id ? pending_.find(*id) : pending_.begin();
            if (it == pending_.end()) return;  // timed out already, or nothing pending
            handler = std::move(it->second);
            pending_.erase(it);
        }
        if (!handler) return;
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
            queue_callback([this, message = std::move(*message)] { hand_over(message); });
        } else if (event == "logged_out") {
            const auto* reason_value = object.if_contains("reason");
            std::optional<LogoutReason> reason;
            if (reason_value != nullptr && reason_value->is_string()) {
                reason = logout_reason_from_string(reason_value->get_string());
            }
            queue_callback([this, reason = reason.value_or(LogoutReason::account_deleted)] {
                if (logged_out_handler_) logged_out_handler_(reason);
            });
        }
        // Unknown events are ignored: a newer server may send more kinds.
    }

    // --- Callback thread ---

    void hand_over(const Message& message) {
        if (!message_handler_) return;  // nobody took it: leave it queued on the server
        if (!config_.auto_ack) {
            message_handler_(message);
            return;
        }
        if (dedup_.first_time(message.id)) message_handler_(message);
        // A repeat is acked again: the server only re-sends what it still holds.
        ack_batch_.push_back(message.id);
    }

    // Runs when the callback queue runs dry: one ack for everything handed over since.
    void flush_acks() {
        if (ack_batch_.empty()) return;
        std::vector<MessageId> ids;
        ids.swap(ack_batch_);
        submit(request("ack", ack_fields(ids, std::nullopt)), nullptr);
    }

    const ClientConfig config_;
    asio::io_context ioc_;
    tcp::socket socket_;
    // TLS only (ClientConfig::tls): the context and the stream over socket_, made by connect().
    std::unique_ptr<ssl::context> tls_context_;
    std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::thread io_thread_;
    std::thread callback_thread_;
    std::shared_ptr<CallbackQueue> callbacks_ = std::make_shared<CallbackQueue>();

    std::mutex lifecycle_mutex_;
    bool connected_ = false;
    bool closed_ = false;

    // Requests waiting for their reply.
    std::mutex pending_mutex_;
    std::map<std::uint64_t, ReplyHandler> pending_;  // by id: oldest first
    std::uint64_t next_id_ = 1;
    bool accepting_ = false;  // connected and not broken or closed
    std::string outbox_;      // frames submitted, not yet taken by the I/O thread
    bool flush_posted_ = false;

    // I/O thread only.
    std::array<char, 64 * 1024> read_buffer_{};
    LineFramer framer_;
    json::parser parser_;
    std::string outbound_;
    std::string writing_;
    bool write_in_flight_ = false;
    bool in_read_ = false;                       // frames of one read are being handled
    std::vector<std::function<void()>> staged_;  // their completions, handed over together
    std::optional<Error> closing_error_;         // guarded by pending_mutex_

    // Callback thread only (set before connect()).
    MessageHandler message_handler_;
    LoggedOutHandler logged_out_handler_;
    DisconnectHandler disconnect_handler_;
    PushDedup dedup_;
    std::vector<MessageId> ack_batch_;
};

}  // namespace

std::unique_ptr<Client> make_client(const ClientConfig& config) {
    return std::make_unique<JsonClient>(config);
}

}  // namespace chat::json_transport
