// Test fixtures shared by the suites that talk to a real server over the wire:
//   TestServer  a ChatService on a MemoryStore, served by built-in transports on 127.0.0.1 with
//               ephemeral ports, with cheap password hashing so tests stay fast;
//   PushInbox   collects a client's pushes (messages, logged_out, disconnects) so a test awaits
//               them instead of sleeping;
//   TestClient  a Client together with the PushInbox its callbacks feed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_service.hpp"
#include "chat/error.hpp"
#include "chat/limits.hpp"
#include "chat/memory_store.hpp"
#include "chat/transport.hpp"
#include "chat/types.hpp"

namespace chat::test {

// How long a test waits for an event that must come; only a broken build ever waits this long.
inline constexpr std::chrono::milliseconds kEventTimeout{10000};
// How long a test watches to assert that nothing arrives. Short, and to be used sparingly.
inline constexpr std::chrono::milliseconds kQuietWindow{200};

// A username no earlier call in this process returned: `<tag>_<n>`, the tag shortened so the
// result stays within the 32-byte limit. `tag` must consist of allowed username characters.
std::string unique_name(std::string_view tag);

// Collects the callbacks of one client.
// Thread use: the client's reader thread feeds it; any thread may wait on it. One mutex guards it.
class PushInbox final {
   public:
    // Wires `client`'s on_message / on_logged_out / on_disconnect to `inbox` (which the callbacks
    // keep alive). Call before client.connect().
    static void attach(const std::shared_ptr<PushInbox>& inbox, Client& client);

    // The next message not yet taken, waiting up to `timeout` for it.
    std::optional<Message> wait_message(std::chrono::milliseconds timeout = kEventTimeout);
    // The next `count` messages; fewer when `timeout` passes first.
    std::vector<Message> wait_messages(std::size_t count,
                                       std::chrono::milliseconds timeout = kEventTimeout);
    std::optional<LogoutReason> wait_logged_out(std::chrono::milliseconds timeout = kEventTimeout);
    std::optional<Error> wait_disconnect(std::chrono::milliseconds timeout = kEventTimeout);

    // True when no message is pending and none arrives within `window`.
    bool expect_no_message(std::chrono::milliseconds window = kQuietWindow);

    // Messages that arrived and were not taken yet (does not wait).
    std::size_t pending_messages() const;
    // Messages that arrived after a logged_out event (the contract says none may).
    std::size_t messages_after_logged_out() const;

   private:
    void add_message(const Message& message);
    void add_logged_out(LogoutReason reason);
    void add_disconnect(const Error& error);

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Message> messages_;
    std::deque<LogoutReason> logged_out_;
    std::deque<Error> disconnects_;
    bool saw_logged_out_ = false;
    std::size_t after_logged_out_ = 0;
};

// A client and the inbox its callbacks feed. The client holds the inbox alive through its
// callbacks, so the two may be destroyed in any order.
// Thread use: as Client and PushInbox.
struct TestClient {
    std::unique_ptr<Client> client;
    std::shared_ptr<PushInbox> inbox;

    Client* operator->() const noexcept { return client.get(); }
    Client& operator*() const noexcept { return *client; }
};

// Limits for tests: the contract's defaults with the per-connection rate limit off.
Limits test_limits();

struct TestServerOptions {
    Limits limits = test_limits();
    unsigned io_threads = 2;
    std::chrono::milliseconds client_timeout{10000};
    // Further transports served from the same core (a JSON user can message a gRPC user).
    std::vector<std::string> also_serve;
};

// Starts at construction, stops in the destructor (or earlier with stop()).
// Thread use: construct, stop and destroy on one thread; the other methods from any thread.
class TestServer final {
   public:
    // Throws std::runtime_error when `transport` is not built in or cannot start.
    explicit TestServer(std::string transport, TestServerOptions options = {});
    ~TestServer();
    TestServer(const TestServer&) = delete;
    TestServer& operator=(const TestServer&) = delete;

    // The main transport (the one named at construction).
    const std::string& transport() const noexcept { return transports_.front(); }
    // Every transport served, the main one first.
    const std::vector<std::string>& transports() const noexcept { return transports_; }
    // The port of `transport` (default: the main one).
    std::uint16_t port(std::string_view transport = {}) const;
    ChatService& service() noexcept { return service_; }
    const TestServerOptions& options() const noexcept { return options_; }

    // A client of `transport` (default: the main one) for this server, its callbacks wired to a
    // new inbox, not yet connected.
    TestClient make_client(bool auto_ack = true, std::string_view transport = {}) const;
    // As make_client, then connected. Throws std::runtime_error when connect() fails.
    TestClient connect_client(bool auto_ack = true, std::string_view transport = {}) const;

    // Stops every transport (their connections close). Idempotent.
    void stop();

   private:
    std::size_t index_of(std::string_view transport) const;

    std::vector<std::string> transports_;
    TestServerOptions options_;
    MemoryStore store_;
    ChatService service_;
    std::vector<std::unique_ptr<ServerTransport>> servers_;  // parallel to transports_
};

}  // namespace chat::test
