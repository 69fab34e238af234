// End-to-end tests of chat::ReconnectingClient over every built-in transport: a real server is
// stopped and a new one started on the same port over the same store (one ChatService on one
// MemoryStore outlives both), as when one chatd node of several restarts. The client must
// report the loss, refuse requests meanwhile, log in again, hand over what it missed exactly
// once, give up when its account is gone, and stop at once when closed.
// Thread use: the test's thread drives; the clients' callbacks feed a Recorder.
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chat/builtin_transports.hpp"
#include "chat/chat_service.hpp"
#include "chat/memory_store.hpp"
#include "chat/reconnecting_client.hpp"

namespace chat {
namespace {

using namespace std::chrono_literals;
using Kind = ReconnectEvent::Kind;

constexpr auto kWait = 10s;       // for what must come; only a broken build waits this long
constexpr auto kQuiet = 300ms;    // to see that nothing more comes
constexpr auto kPrompt = 1500ms;  // what "returns promptly" allows

ServiceConfig cheap_service() {
    ServiceConfig config;
    config.limits.rate_limit = 0;
    config.hash_threads = 1;
    // The cheapest Argon2id cost libsodium accepts: the tests log in many times.
    config.pwhash_opslimit = 1;
    config.pwhash_memlimit = 8192;
    return config;
}

std::unique_ptr<ServerTransport> serve(const TransportInfo& transport, ChatService& service,
                                       std::uint16_t port) {
    ServerConfig config;
    config.port = port;
    config.threads = 1;
    auto server = transport.make_server(service, config);
    server->start();
    return server;
}

ClientConfig reconnecting(std::uint16_t port, std::chrono::milliseconds min_backoff = 20ms,
                          std::chrono::milliseconds max_backoff = 200ms) {
    ClientConfig config;
    config.port = port;
    config.timeout = 5s;
    config.reconnect.enabled = true;
    config.reconnect.min_backoff = min_backoff;
    config.reconnect.max_backoff = max_backoff;
    return config;
}

// What a client's callbacks saw.
// Thread use: fed on the client's callback thread; read and awaited from the test's thread.
class Recorder {
   public:
    // Runs on the callback thread before a message is recorded (may block, bounded).
    std::function<void(const Message&)> hook;

    void attach(Client& client) {
        client.on_message([this](const Message& m) {
            if (hook) hook(m);
            std::lock_guard lock(mu_);
            messages_.push_back(m);
            if (closed_) ++after_close_;
            changed_.notify_all();
        });
        client.on_reconnect([this](const ReconnectEvent& e) {
            std::lock_guard lock(mu_);
            events_.push_back(e);
            if (closed_) ++after_close_;
            changed_.notify_all();
        });
        client.on_disconnect([this](const Error&) {
            std::lock_guard lock(mu_);
            ++disconnects_;
            changed_.notify_all();
        });
    }

    std::optional<ReconnectEvent> wait_event(Kind kind, std::chrono::milliseconds timeout = kWait) {
        std::unique_lock lock(mu_);
        std::optional<ReconnectEvent> found;
        changed_.wait_for(lock, timeout, [&] {
            for (const auto& e : events_) {
                if (e.kind == kind) {
                    found = e;
                    return true;
                }
            }
            return false;
        });
        return found;
    }
    bool wait_body(const std::string& body, std::chrono::milliseconds timeout = kWait) {
        std::unique_lock lock(mu_);
        return changed_.wait_for(lock, timeout, [&] { return count_body_locked(body) > 0; });
    }
    // True when no event or message beyond the ones seen so far arrives within `window`.
    bool stays_quiet(std::chrono::milliseconds window = kQuiet) {
        std::unique_lock lock(mu_);
        const auto events = events_.size();
        const auto messages = messages_.size();
        return !changed_.wait_for(
            lock, window, [&] { return events_.size() != events || messages_.size() != messages; });
    }
    std::size_t count_body(const std::string& body) {
        std::lock_guard lock(mu_);
        return count_body_locked(body);
    }
    std::size_t count_kind(Kind kind) {
        std::lock_guard lock(mu_);
        std::size_t n = 0;
        for (const auto& e : events_) n += e.kind == kind ? 1 : 0;
        return n;
    }
    std::size_t disconnects() {
        std::lock_guard lock(mu_);
        return disconnects_;
    }
    // From now on every callback counts as one after close().
    void mark_closed() {
        std::lock_guard lock(mu_);
        closed_ = true;
    }
    std::size_t after_close() {
        std::lock_guard lock(mu_);
        return after_close_;
    }

   private:
    std::size_t count_body_locked(const std::string& body) const {
        std::size_t n = 0;
        for (const auto& m : messages_) n += m.body == body ? 1 : 0;
        return n;
    }

    std::mutex mu_;
    std::condition_variable changed_;
    std::vector<Message> messages_;
    std::vector<ReconnectEvent> events_;
    std::size_t disconnects_ = 0;
    bool closed_ = false;
    std::size_t after_close_ = 0;
};

// One account, created and checked through the core.
void add_account(ChatService& service, const std::string& name, const std::string& password) {
    REQUIRE(service.create_account_sync(name, password).ok());
}

// Sends through the core as `from` (no server needed).
void send_via_core(ChatService& service, const std::string& from, const std::string& password,
                   const std::string& to, const std::string& body) {
    auto session = service.login_sync(from, password);
    REQUIRE(session.ok());
    REQUIRE(service.send_sync(session->session, to, body).ok());
    REQUIRE(service.logout(session->session).ok());
}

TEST_CASE("reconnecting client: restores the login and hands over what it missed once",
          "[reconnect]") {
    for (const auto& name : builtin_transports().names()) {
        DYNAMIC_SECTION(name) {
            const TransportInfo& transport = *builtin_transports().find(name);
            MemoryStore store;
            ChatService service(store, cheap_service());
            add_account(service, "alice", "alice-pw");
            add_account(service, "bob", "bob-pw");
            auto server = serve(transport, service, 0);
            const std::uint16_t port = server->local_port();

            // Holds alice's handler on the message pushed just before the drop, so its ack
            // cannot reach the server: the message stays queued and comes back in the fetch.
            std::promise<void> entered;
            std::promise<void> release;
            auto released = release.get_future().share();
            Recorder seen;
            bool held = false;  // callback thread only
            seen.hook = [&](const Message& m) {
                if (m.body != "before the drop" || held) return;
                held = true;
                entered.set_value();
                released.wait_for(kWait);
            };
            auto alice = transport.make_client(reconnecting(port));
            REQUIRE(dynamic_cast<ReconnectingClient*>(alice.get()) != nullptr);
            seen.attach(*alice);
            REQUIRE(alice->connect().ok());
            auto login = alice->login("alice", "alice-pw");
            REQUIRE(login.ok());

            {
                ClientConfig plain;
                plain.port = port;
                auto bob = transport.make_client(plain);
                REQUIRE(bob->connect().ok());
                REQUIRE(bob->login("bob", "bob-pw").ok());
                REQUIRE(bob->send("alice", "before the drop").ok());
                bob->close();
            }
            REQUIRE(entered.get_future().wait_for(kWait) == std::future_status::ready);
            server->stop();
            release.set_value();

            auto lost = seen.wait_event(Kind::lost);
            REQUIRE(lost);
            CHECK(lost->kind == Kind::lost);
            CHECK_FALSE(lost->login);
            auto refused = alice->send("bob", "while down");
            REQUIRE_FALSE(refused.ok());
            CHECK(refused.code() == Errc::internal);
            CHECK(refused.error().message == "not connected: reconnecting to the server");
            CHECK(alice->fetch().error().message == "not connected: reconnecting to the server");

            // Bob writes while alice's node is down; then the node comes back on its port.
            send_via_core(service, "bob", "bob-pw", "alice", "while you were away");
            server = serve(transport, service, port);

            auto restored = seen.wait_event(Kind::restored);
            REQUIRE(restored);
            REQUIRE(restored->login);
            CHECK(restored->login->username == "alice");
            CHECK(restored->login->unread == 2);  // the unacked one and the new one
            CHECK(seen.wait_body("while you were away"));

            // Live pushes work again, and requests go through.
            ClientConfig plain;
            plain.port = port;
            auto bob = transport.make_client(plain);
            REQUIRE(bob->connect().ok());
            REQUIRE(bob->login("bob", "bob-pw").ok());
            REQUIRE(bob->send("alice", "live again").ok());
            CHECK(seen.wait_body("live again"));
            CHECK(alice->send("bob", "back").ok());

            CHECK(seen.stays_quiet());
            CHECK(seen.count_body("before the drop") == 1);
            CHECK(seen.count_body("while you were away") == 1);
            CHECK(seen.count_body("live again") == 1);
            CHECK(seen.count_kind(Kind::lost) == 1);
            CHECK(seen.count_kind(Kind::restored) == 1);
            CHECK(seen.count_kind(Kind::gave_up) == 0);
            CHECK(seen.disconnects() == 0);

            // Everything handed over was acked (the last auto-ack may still be on its way).
            bool drained = false;
            for (int attempt = 0; attempt < 200 && !drained; ++attempt) {
                auto fetched = alice->fetch();
                REQUIRE(fetched.ok());
                drained = fetched->messages.empty();
                if (!drained) std::this_thread::sleep_for(10ms);
            }
            CHECK(drained);

            alice->close();
            bob->close();
            server->stop();
        }
    }
}

TEST_CASE("reconnecting client: gives up when the account is gone", "[reconnect]") {
    for (const auto& name : builtin_transports().names()) {
        DYNAMIC_SECTION(name) {
            const TransportInfo& transport = *builtin_transports().find(name);
            MemoryStore store;
            ChatService service(store, cheap_service());
            add_account(service, "alice", "alice-pw");
            auto server = serve(transport, service, 0);
            const std::uint16_t port = server->local_port();

            Recorder seen;
            auto alice = transport.make_client(reconnecting(port));
            seen.attach(*alice);
            REQUIRE(alice->connect().ok());
            REQUIRE(alice->login("alice", "alice-pw").ok());
            server->stop();
            REQUIRE(seen.wait_event(Kind::lost));

            // Deleted elsewhere while this node is down.
            auto other = service.login_sync("alice", "alice-pw");
            REQUIRE(other.ok());
            REQUIRE(service.delete_account_sync(other->session, "alice-pw").ok());
            server = serve(transport, service, port);

            auto gave_up = seen.wait_event(Kind::gave_up);
            REQUIRE(gave_up);
            CHECK(gave_up->error.code == Errc::bad_credentials);
            CHECK_FALSE(gave_up->login);
            // No retries after that: nothing more is reported, and the client is connected
            // (a reconnecting one would refuse the request) and logged out.
            CHECK(seen.stays_quiet());
            CHECK(seen.count_kind(Kind::restored) == 0);
            CHECK(alice->hello().ok());
            CHECK(alice->fetch().code() == Errc::not_logged_in);
            // The connection is usable for a new login.
            REQUIRE(alice->create_account("alice", "new-pw").ok());
            CHECK(alice->login("alice", "new-pw").ok());

            const auto start = std::chrono::steady_clock::now();
            alice->close();
            CHECK(std::chrono::steady_clock::now() - start < kPrompt);
            server->stop();
        }
    }
}

TEST_CASE("reconnecting client: close during the backoff returns promptly", "[reconnect]") {
    for (const auto& name : builtin_transports().names()) {
        DYNAMIC_SECTION(name) {
            const TransportInfo& transport = *builtin_transports().find(name);
            MemoryStore store;
            ChatService service(store, cheap_service());
            add_account(service, "alice", "alice-pw");
            add_account(service, "bob", "bob-pw");
            auto server = serve(transport, service, 0);
            const std::uint16_t port = server->local_port();

            Recorder seen;
            // The first wait is 0.5 to 1 s: close() comes well within it.
            auto alice = transport.make_client(reconnecting(port, 1000ms, 2000ms));
            seen.attach(*alice);
            REQUIRE(alice->connect().ok());
            REQUIRE(alice->login("alice", "alice-pw").ok());
            server->stop();
            REQUIRE(seen.wait_event(Kind::lost));

            const auto start = std::chrono::steady_clock::now();
            alice->close();
            CHECK(std::chrono::steady_clock::now() - start < 400ms);
            seen.mark_closed();

            // Were an attempt still to run, it would now succeed and report it.
            server = serve(transport, service, port);
            send_via_core(service, "bob", "bob-pw", "alice", "after close");
            CHECK(seen.stays_quiet(2000ms));
            CHECK(seen.after_close() == 0);
            CHECK(alice->hello().error().message == "client is closed");
            server->stop();
        }
    }
}

TEST_CASE("reconnecting client: a connection without a login comes back too", "[reconnect]") {
    // The gRPC client reports no loss without a login (no push stream to break; its channel
    // reconnects by itself), so this is the JSON transport's case.
    const TransportInfo* transport = builtin_transports().find("json");
    REQUIRE(transport != nullptr);
    MemoryStore store;
    ChatService service(store, cheap_service());
    add_account(service, "alice", "alice-pw");
    auto server = serve(*transport, service, 0);
    const std::uint16_t port = server->local_port();

    Recorder seen;
    auto client = transport->make_client(reconnecting(port));
    seen.attach(*client);
    REQUIRE(client->connect().ok());
    server->stop();
    REQUIRE(seen.wait_event(Kind::lost));
    server = serve(*transport, service, port);
    auto restored = seen.wait_event(Kind::restored);
    REQUIRE(restored);
    CHECK_FALSE(restored->login);
    CHECK(client->login("alice", "alice-pw").ok());
    client->close();
    server->stop();
}

TEST_CASE("reconnecting client: off unless asked for", "[reconnect]") {
    for (const auto& name : builtin_transports().names()) {
        ClientConfig config;
        auto client = builtin_transports().find(name)->make_client(config);
        CHECK(dynamic_cast<ReconnectingClient*>(client.get()) == nullptr);
    }
}

}  // namespace
}  // namespace chat
