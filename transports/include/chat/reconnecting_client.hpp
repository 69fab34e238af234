// ReconnectingClient: a chat::Client that survives a broken connection, on top of any
// transport's client. Several chatd nodes behind one address share one store, so when the node
// a client talks to dies or restarts, another one (or the same, back again) can carry on.
//
// It forwards every request to its current inner client, made by a ClientFactory. When that
// one reports a disconnect, it tells the application once (on_reconnect, `lost`), then on a
// thread of its own retries with exponential backoff and jitter (ClientConfig::reconnect) until
// close(): a new inner client, connect(), and the login again if one was active. Then
// `restored`, and, with auto_ack, it fetches what arrived meanwhile and hands it to on_message
// like a push (de-duplicated by id across the old and the new inner clients, then acked). A
// refused login (bad_credentials: the account was deleted or its password changed elsewhere)
// ends the retries: `gave_up`, and the client stays connected but logged out.
//
// Requests made while it reconnects fail at once (Errc::internal, "not connected: reconnecting
// to the server"). Requests in flight when the connection broke fail as with the inner client:
// a send whose reply was lost is reported failed although the server may have stored it, so
// sending it again can deliver it twice. With auto_ack off nothing is fetched: the application
// fetches and acks itself, and `restored` tells it how many messages wait.
//
// The username and password of the last successful login are kept in memory only, to log in
// again; they are overwritten and dropped on logout(), on a successful delete_account(), when
// the server ends the session (logged_out), when the login again is refused, and on close().
// on_disconnect is never called: on_reconnect reports the loss instead.
//
// Thread use: as chat::Client. Every callback, the reconnect events included, runs on this
// client's own callback thread (a chat::Delivery), in order. close() returns promptly while it
// waits between attempts; during an attempt it waits for that attempt (at most about
// ClientConfig::timeout per step). After close() has returned no callback runs.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "chat/delivery.hpp"
#include "chat/transport.hpp"

namespace chat {

class ReconnectingClient final : public Client {
   public:
    // Inner clients are made by `factory` with `config`, with auto_ack and reconnect off (this
    // client does both); `config.reconnect` gives the backoff (whether or not it is enabled:
    // this client always reconnects). The first inner client is made here, so what `factory`
    // throws (std::invalid_argument for an unknown setting) comes from the constructor.
    ReconnectingClient(ClientFactory factory, const ClientConfig& config);
    // close().
    ~ReconnectingClient() override;
    ReconnectingClient(const ReconnectingClient&) = delete;
    ReconnectingClient& operator=(const ReconnectingClient&) = delete;

    Result<void> connect() override;
    void close() override;

    Result<HelloInfo> hello(int version = 1) override;
    Result<void> create_account(std::string_view username, std::string_view password) override;
    Result<LoginResult> login(std::string_view username, std::string_view password) override;
    Result<void> logout() override;
    Result<Message> send(std::string_view to, std::string_view body) override;
    void send_async(std::string_view to, std::string_view body,
                    std::function<void(Result<Message>)> done) override;
    Result<FetchResult> fetch(std::uint64_t max = 0) override;
    Result<std::uint64_t> ack(const std::vector<MessageId>& ids,
                              std::optional<MessageId> up_to = std::nullopt) override;
    Result<AccountPage> list_accounts(std::string_view pattern = {}, std::uint64_t limit = 0,
                                      std::string_view after = {}) override;
    Result<void> delete_account(std::string_view password) override;

    void on_message(MessageHandler handler) override;
    void on_logged_out(LoggedOutHandler handler) override;
    // Dropped: see above.
    void on_disconnect(DisconnectHandler handler) override;
    void on_reconnect(ReconnectHandler handler) override;

   private:
    struct Credentials;
    enum class State { idle, connected, reconnecting, closed };
    enum class Attempt { done, retry, closed };

    std::shared_ptr<Client> make_inner(std::uint64_t generation);
    // The inner client requests go to, or why there is none.
    Result<std::shared_ptr<Client>> current() const;
    void forget_credentials();  // under mu_

    // From the inner clients' callback threads.
    void inner_logged_out(std::uint64_t generation, LogoutReason reason);
    void inner_disconnected(std::uint64_t generation, const Error& error);

    // The reconnect thread.
    void run();
    void reconnect(std::unique_lock<std::mutex>& lock);
    Attempt attempt(std::unique_lock<std::mutex>& lock);
    void catch_up(Client& client);
    bool wait_handed_over();

    void post_event(ReconnectEvent event);

    const ClientFactory factory_;
    const ClientConfig inner_config_;  // auto_ack and reconnect off
    const bool auto_ack_;
    const std::chrono::milliseconds min_backoff_;
    const std::chrono::milliseconds max_backoff_;

    mutable std::mutex mu_;
    std::condition_variable wake_;  // the reconnect thread: work to do, close(), a hand-over
    State state_ = State::idle;
    std::shared_ptr<Client> inner_;
    std::uint64_t generation_ = 1;  // of inner_; an attempt's candidate is generation_ + 1
    bool candidate_broken_ = false;
    std::unique_ptr<Credentials> credentials_;  // of the last successful login
    std::uint64_t credentials_version_ = 0;     // bumped whenever credentials_ changes
    std::uint64_t marks_posted_ = 0;            // wait_handed_over()
    std::uint64_t marks_done_ = 0;
    std::thread worker_;       // started at the first loss; ends in close()
    std::minstd_rand random_;  // the reconnect thread's jitter

    // Set before connect(); read on the callback thread.
    ReconnectHandler reconnect_handler_;
    bool has_message_handler_ = false;

    // Last, so it is destroyed first: its remaining tasks still see the members above.
    Delivery delivery_;
};

}  // namespace chat
