// FrameClient: the request/reply half of a chat::Client that speaks the JSON frames of
// docs/protocol.md, whatever carries them: each operation encoded as a request frame, each
// reply and push decoded, requests matched to replies (PendingRequests), pushes handed to a
// chat::Delivery. The subclass owns the connection (JSON Lines over TCP: json_client.cpp;
// WebSocket: transports/websocket) and calls on_frame() for every frame it reads.
//
// Two threads per client: the I/O thread runs io_context() (the subclass's reads and writes;
// on_frame() completes pending requests there), and the callback thread of chat::Delivery runs
// the application's handlers in arrival order. Keeping them apart lets a handler make blocking
// calls on the same client: the I/O thread goes on reading their replies meanwhile.
// Thread use: see chat::Client; the hooks say where they run.
#pragma once

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "chat/delivery.hpp"
#include "chat/transport.hpp"
#include "codec.hpp"
#include "pending_requests.hpp"

namespace chat::json_transport {

class FrameClient : public Client {
   public:
    // `callback_thread`: the name of the Delivery's thread. `text_only`: the wire carries only
    // valid UTF-8 (WebSocket text messages), so text that is not is never sent: a stand-in that
    // breaks the same rule goes instead, and the server answers with the code it gives such
    // text over JSON Lines (docs/protocol.md, "Requests").
    FrameClient(ClientConfig config, const char* callback_thread, bool text_only = false);
    // A subclass must call close() in its own destructor: the hooks are gone after it.
    ~FrameClient() override = default;
    FrameClient(const FrameClient&) = delete;
    FrameClient& operator=(const FrameClient&) = delete;

    Result<void> connect() final;
    void close() final;

    Result<HelloInfo> hello(int version) override;
    Result<void> create_account(std::string_view username, std::string_view password) override;
    Result<LoginResult> login(std::string_view username, std::string_view password) override;
    Result<void> logout() override;
    Result<Message> send(std::string_view to, std::string_view body) override;
    void send_async(std::string_view to, std::string_view body,
                    std::function<void(Result<Message>)> done) override;
    Result<FetchResult> fetch(std::uint64_t max) override;
    Result<std::uint64_t> ack(const std::vector<MessageId>& ids,
                              std::optional<MessageId> up_to) override;
    Result<AccountPage> list_accounts(std::string_view pattern, std::uint64_t limit,
                                      std::string_view after) override;
    Result<void> delete_account(std::string_view password) override;

    void on_message(MessageHandler handler) override { delivery_.on_message(std::move(handler)); }
    void on_logged_out(LoggedOutHandler handler) override {
        delivery_.on_logged_out(std::move(handler));
    }
    void on_disconnect(DisconnectHandler handler) override {
        delivery_.on_disconnect(std::move(handler));
    }

   protected:
    // --- Hooks. ---
    // connect(), before the I/O thread exists: opens the connection, running io_context() on
    // the calling thread as needed (restart() it before returning). On failure it leaves
    // nothing open.
    virtual Result<void> open_connection() = 0;
    // connect(), once open, before the I/O thread runs: starts the first read.
    virtual void start_reading() = 0;
    // I/O thread: frames were submitted; write what take_outbox() gives.
    virtual void flush_outbox() = 0;
    // I/O thread, from close(): closes the connection (reads then fail, ending in on_broken()).
    virtual void shut_connection() = 0;

    // --- For the subclass. ---
    boost::asio::io_context& io_context() noexcept { return ioc_; }
    const ClientConfig& config() const noexcept { return config_; }
    std::string address() const { return config_.host + ":" + std::to_string(config_.port); }
    Delivery& delivery() noexcept { return delivery_; }
    // I/O thread: appends every frame submitted since the last call to `out` (each ending in
    // '\n').
    void take_outbox(std::string& out) { pending_.take_outbox(out); }
    // I/O thread: one frame from the server (a reply or a push).
    void on_frame(std::string_view frame);
    // I/O thread: the connection broke (or close() closed it); fails every waiting request.
    void on_broken(const boost::system::error_code& ec);

   private:
    using ReplyHandler = PendingRequests::ReplyHandler;

    // What goes on the wire for a text argument (see text_only).
    std::string_view text(std::string_view field) const;
    json::value text_value(std::string_view field) const;
    static json::object request(std::string_view op, json::object fields);
    static json::object ack_fields(const std::vector<MessageId>& ids,
                                   std::optional<MessageId> up_to);
    // Queues `request` with a fresh id; `on_reply` runs on the I/O thread (or at once when the
    // connection is gone). Returns the id, or 0 when not connected.
    std::uint64_t submit(json::object request, ReplyHandler on_reply);
    // `open_frame`: see PendingRequests::submit. Returns the id, or 0 when refused.
    std::uint64_t submit_encoded(std::string open_frame, ReplyHandler on_reply);
    Result<json::object> call(json::object request);
    void on_event(std::string_view event, const json::object& object);

    const ClientConfig config_;
    const bool text_only_;
    boost::asio::io_context ioc_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::thread io_thread_;

    std::mutex lifecycle_mutex_;
    bool connected_ = false;
    bool closed_ = false;

    PendingRequests pending_;  // requests waiting for their reply
    json::parser parser_;      // I/O thread only

    // Last, so it is destroyed first: posted completions still run while the rest exists.
    Delivery delivery_;
};

}  // namespace chat::json_transport
