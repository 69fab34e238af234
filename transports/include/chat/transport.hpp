// The seam between the core and the wire protocols.
//   ServerTransport: serves one wire protocol on top of a ChatService.
//   Client: the operations of docs/protocol.md seen from a client, implemented once per
//           protocol, so the CLI, the benchmark and the conformance suite are written once
//           against it. With ClientConfig::reconnect it survives a broken connection
//           (chat/reconnecting_client.hpp) and reports that through on_reconnect.
//   TransportRegistry: transport name -> factories, so apps choose a protocol at run time.
// Thread use: see each class.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_service.hpp"
#include "chat/error.hpp"
#include "chat/limits.hpp"
#include "chat/outbound_budget.hpp"
#include "chat/types.hpp"

namespace chat {

// Settings that only one transport has (what only its wire needs, e.g. how long the gRPC
// transport keeps an unused session token), by name -> value text. The names and their meaning
// are the transport's own: TransportInfo lists the ones each transport accepts, and its
// factories throw std::invalid_argument for a name not in that list or a value they cannot read.
// The core and the rest of the seam know none of them.
using TransportSettings = std::map<std::string, std::string, std::less<>>;

struct ServerConfig {
    std::string listen = "127.0.0.1";
    std::uint16_t port = 0;  // 0 = ephemeral (tests); see local_port()
    unsigned threads = 0;    // I/O threads; 0 = one per CPU this process may use (chat/cpus.hpp)
    // TLS: PEM files of the certificate chain (leaf first) and its private key. Both empty:
    // plain TCP. Both set: every connection of this transport is TLS. One without the other is
    // a configuration error (start() throws).
    std::string tls_cert_file{};
    std::string tls_key_file{};
    // A TLS connection that has not completed its handshake by then is closed.
    std::chrono::milliseconds tls_handshake_timeout{10000};
    // The process-wide bound on bytes waiting to go out, shared by every transport given the
    // same one (chatd gives all its transports one). Null: the transport makes its own from
    // Limits::max_outbound_memory.
    std::shared_ptr<OutboundBudget> outbound_budget{};
    // Settings of this transport alone (see TransportSettings and TransportInfo).
    TransportSettings settings{};
};

// Thread use: start() and stop() from one controlling thread; local_port() from any thread
// after start().
class ServerTransport {
   public:
    virtual ~ServerTransport() = default;
    // Binds and begins serving. Throws std::runtime_error when it cannot (start-up only).
    virtual void start() = 0;
    // Stops accepting, closes every connection (their sessions log out) and joins its threads.
    // Idempotent.
    virtual void stop() = 0;
    virtual std::uint16_t local_port() const = 0;
    virtual std::string_view name() const = 0;
};

// Whether and how a client reconnects when its connection breaks (chat/reconnecting_client.hpp).
// A transport's own client never does; TransportInfo::make_client of a registered transport
// gives a chat::ReconnectingClient around it when `enabled` is set.
struct ReconnectPolicy {
    bool enabled = false;
    // Waits between attempts: from min_backoff, doubling up to max_backoff, each one drawn at
    // random from its upper half (jitter, so that the clients of a failed node do not all come
    // back at the same instant).
    std::chrono::milliseconds min_backoff{100};
    std::chrono::milliseconds max_backoff{5000};
};

// What a reconnecting client reports through Client::on_reconnect.
struct ReconnectEvent {
    enum class Kind {
        lost,      // the connection broke; requests fail until `restored` (or `gave_up`)
        restored,  // connected again, and logged in again if a login was active
        gave_up,   // connected again, but the login was refused: logged out, no more retries
    };
    Kind kind = Kind::lost;
    Error error{};  // lost: why the connection broke; gave_up: why the login was refused
    // restored after logging in again: the new session (its `unread` counts what waits).
    std::optional<LoginResult> login{};
};

struct ClientConfig {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::chrono::milliseconds timeout{10000};  // per request
    // When true, every pushed message is acked after on_message returns (and pushes seen before
    // are not handed over twice). Tests of raw delivery turn it off.
    bool auto_ack = true;
    // TLS: when true the connection is TLS and the server certificate is verified, against the
    // PEM CA certificates in tls_ca_file or, when that is empty, the system's trusted CAs. The
    // certificate must name tls_server_name, or `host` when that is empty (also sent as SNI).
    bool tls = false;
    std::string tls_ca_file{};
    std::string tls_server_name{};
    // Settings of this transport alone (see TransportSettings and TransportInfo).
    TransportSettings settings{};
    // Off by default: see ReconnectPolicy.
    ReconnectPolicy reconnect{};
};

// Thread use: the request methods may be called from any thread (calls are serialised per
// client where the protocol requires it). Every callback (on_message, on_logged_out,
// on_disconnect, send_async's `done`) runs on the client's own callback thread (its
// chat::Delivery, chat/delivery.hpp), one at a time and in arrival order, never on the thread
// that reads the connection. So a callback may call any method of the same client, blocking ones
// included, and close(): called from a callback, close() does not wait for that callback. Once
// close() has returned no on_message, on_logged_out or on_disconnect callback runs; send_async
// completions still run while the client exists.
// Implementations: decode pushes into a chat::Delivery (de-duplication and auto-ack batching
// are there, docs/protocol.md `ack`), post send_async completions to it, close it in close().
class Client {
   public:
    using MessageHandler = std::function<void(const Message&)>;
    using LoggedOutHandler = std::function<void(LogoutReason)>;
    // The connection or push stream broke (not called after close()). A client that reconnects
    // never calls it: on_reconnect reports the loss instead.
    using DisconnectHandler = std::function<void(const Error&)>;
    // Runs on the callback thread like the others, in order with them.
    using ReconnectHandler = std::function<void(const ReconnectEvent&)>;

    virtual ~Client() = default;

    // Connects to the server. Call once before anything else.
    virtual Result<void> connect() = 0;
    // Closes the connection (a logout for the server). Idempotent.
    virtual void close() = 0;

    virtual Result<HelloInfo> hello(int version = 1) = 0;
    virtual Result<void> create_account(std::string_view username, std::string_view password) = 0;
    // On success, pushes start arriving at on_message (for gRPC: once the stream is registered,
    // before login returns).
    virtual Result<LoginResult> login(std::string_view username, std::string_view password) = 0;
    virtual Result<void> logout() = 0;
    virtual Result<Message> send(std::string_view to, std::string_view body) = 0;
    // Pipelined send: returns at once, `done` runs on the callback thread when the reply comes.
    virtual void send_async(std::string_view to, std::string_view body,
                            std::function<void(Result<Message>)> done) = 0;
    virtual Result<FetchResult> fetch(std::uint64_t max = 0) = 0;
    virtual Result<std::uint64_t> ack(const std::vector<MessageId>& ids,
                                      std::optional<MessageId> up_to = std::nullopt) = 0;
    virtual Result<AccountPage> list_accounts(std::string_view pattern = {},
                                              std::uint64_t limit = 0,
                                              std::string_view after = {}) = 0;
    virtual Result<void> delete_account(std::string_view password) = 0;

    // Set before connect(); not thread-safe against concurrent pushes otherwise.
    virtual void on_message(MessageHandler handler) = 0;
    virtual void on_logged_out(LoggedOutHandler handler) = 0;
    virtual void on_disconnect(DisconnectHandler handler) = 0;
    // Set before connect(). Only a client that reconnects (ClientConfig::reconnect) reports
    // anything here; every other keeps the default, which drops the handler.
    virtual void on_reconnect(ReconnectHandler handler) { (void)handler; }
};

using ServerFactory =
    std::function<std::unique_ptr<ServerTransport>(ChatService&, const ServerConfig&)>;
using ClientFactory = std::function<std::unique_ptr<Client>(const ClientConfig&)>;

// One name a transport accepts in ServerConfig::settings or ClientConfig::settings.
struct TransportSetting {
    std::string name;
    std::string help;  // one line: what it does, its unit and its default
};

// Throws std::invalid_argument for the setting `name` that `transport` does not know, listing
// the names it does know. Every transport's factories report unknown settings through it.
[[noreturn]] void throw_unknown_setting(std::string_view transport, std::string_view name,
                                        const std::vector<TransportSetting>& known);

struct TransportInfo {
    std::string name;
    std::uint16_t default_port = 0;
    ServerFactory make_server;
    // Once registered (TransportRegistry::add), it gives a chat::ReconnectingClient around the
    // transport's client when ClientConfig::reconnect.enabled is set.
    ClientFactory make_client;
    // The settings its server and its client accept (none: they accept no setting), so apps
    // can check and show them before building anything.
    std::vector<TransportSetting> server_settings{};
    std::vector<TransportSetting> client_settings{};
};

// Thread use: register at start-up from one thread; lookups from any thread afterwards.
class TransportRegistry final {
   public:
    // Keeps `info`, its make_client wrapped as TransportInfo::make_client says.
    void add(TransportInfo info);
    const TransportInfo* find(std::string_view name) const;
    std::vector<std::string> names() const;

   private:
    std::map<std::string, TransportInfo, std::less<>> transports_;
};

}  // namespace chat
