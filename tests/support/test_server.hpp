// Test fixtures shared by the suites that talk to a real server over the wire:
//   TestServer  a ChatService on a store set-up (a MemoryStore, or one or three nodes on one
//               PostgreSQL database), served by built-in transports on 127.0.0.1 with ephemeral
//               ports, with cheap password hashing so tests stay fast;
//   PushInbox   collects a client's pushes (messages, logged_out, disconnects) so a test awaits
//               them instead of sleeping;
//   TestClient  a Client together with the PushInbox its callbacks feed.
#pragma once

#include <atomic>
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

// The store set-ups a TestServer can run on:
//   "memory"  one node on a MemoryStore (the default);
//   "pg1"     one node on a PostgresStore in a fresh database of a private PostgreSQL server;
//   "pg3"     three nodes (each its own ChatService and transports) on one such database; the
//             clients a test makes go to the nodes in turn, so two users of a test are served by
//             different nodes and everything between them crosses nodes.
// The default is the environment variable CHAT_TEST_STORE (the build sets it per suite), else
// "memory".
std::string default_store_setup();

struct TestServerOptions {
    std::string store = default_store_setup();
    // A test of one node's own limits (connection counts, per-connection rate) sets this: every
    // client then goes to the first node.
    bool one_node = false;
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

    // How many nodes serve (1, or 3 with "pg3").
    std::size_t nodes() const noexcept { return nodes_.size(); }
    // The main transport (the one named at construction).
    const std::string& transport() const noexcept { return transports_.front(); }
    // Every transport served, the main one first.
    const std::vector<std::string>& transports() const noexcept { return transports_; }
    // The port of `transport` (default: the main one) on `node`.
    std::uint16_t port(std::string_view transport = {}, std::size_t node = 0) const;
    // The core of the first node.
    ChatService& service() noexcept;
    const TestServerOptions& options() const noexcept { return options_; }

    // A client of `transport` (default: the main one) for this server, its callbacks wired to a
    // new inbox, not yet connected. With several nodes, each call picks the next node.
    TestClient make_client(bool auto_ack = true, std::string_view transport = {}) const;
    // As make_client, then connected. Throws std::runtime_error when connect() fails.
    TestClient connect_client(bool auto_ack = true, std::string_view transport = {}) const;

    // Stops every transport (their connections close). Idempotent.
    void stop();

   private:
    std::size_t index_of(std::string_view transport) const;

    struct Node;

    std::vector<std::string> transports_;
    TestServerOptions options_;
    std::vector<std::unique_ptr<Node>> nodes_;
    mutable std::atomic<std::size_t> next_node_{0};
};

}  // namespace chat::test
