// Tests of the gRPC chat::Client beyond the conformance suite: how many sends it keeps on the wire
// (the max_sends_in_flight setting) and what that means for the order of stored messages, and
// that it enforces its request timeout itself.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "chat/chat_service.hpp"
#include "chat/grpc/grpc_transport.hpp"
#include "chat/memory_store.hpp"

namespace chat::grpc_transport {
namespace {

using namespace std::chrono_literals;

ServiceConfig test_config() {
    ServiceConfig config;
    config.limits.rate_limit = 0;
    config.hash_threads = 1;
    config.pwhash_opslimit = 1;  // libsodium's minimum cost: tests need no real hashing
    config.pwhash_memlimit = 8192;
    return config;
}

// Counts what arrives at a client's on_message, and lets a test wait for a number of them.
class Inbox {
   public:
    void add(const Message& m) {
        {
            std::lock_guard lock(mu_);
            messages_.push_back(m);
        }
        cv_.notify_all();
    }
    std::vector<Message> wait_for(std::size_t count) {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, 20s, [&] { return messages_.size() >= count; });
        return messages_;
    }

   private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Message> messages_;
};

// A server on an in-process core, and logged-in clients of it.
class Fixture {
   public:
    Fixture() : service_(store_, test_config()) {
        server_ = make_server(service_, ServerConfig{.listen = "127.0.0.1", .port = 0});
        server_->start();
    }
    ~Fixture() {
        for (auto& c : clients_) c->close();
        server_->stop();
    }

    Client& client(const std::string& name, unsigned max_sends_in_flight = 1,
                   Inbox* inbox = nullptr) {
        ClientConfig config;
        config.port = server_->local_port();
        config.settings[std::string(kMaxSendsInFlight)] = std::to_string(max_sends_in_flight);
        auto c = make_client(config);
        if (inbox != nullptr) c->on_message([inbox](const Message& m) { inbox->add(m); });
        REQUIRE(c->connect().ok());
        REQUIRE(c->create_account(name, "pw-" + name).ok());
        REQUIRE(c->login(name, "pw-" + name).ok());
        clients_.push_back(std::move(c));
        return *clients_.back();
    }

   private:
    MemoryStore store_;
    ChatService service_;
    std::unique_ptr<ServerTransport> server_;
    std::vector<std::unique_ptr<Client>> clients_;
};

// Sends `count` messages with send_async ("m0", "m1", ...) and waits for every reply; returns
// the stored messages in call order.
std::vector<Message> send_all(Client& sender, const std::string& to, int count) {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::optional<Message>> stored(static_cast<std::size_t>(count));
    int answered = 0;
    for (int i = 0; i < count; ++i) {
        sender.send_async(to, "m" + std::to_string(i), [&, i](Result<Message> r) {
            std::lock_guard lock(mu);
            if (r) stored[static_cast<std::size_t>(i)] = *r;
            ++answered;
            cv.notify_all();
        });
    }
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 20s, [&] { return answered == count; }));
    std::vector<Message> out;
    for (auto& m : stored) {
        REQUIRE(m.has_value());
        out.push_back(*m);
    }
    return out;
}

TEST_CASE("grpc client: by default sends are stored in call order", "[grpc][client]") {
    Inbox inbox;  // outlives the clients: pushes may still arrive until they close
    Fixture f;
    f.client("bob", 1, &inbox);
    Client& alice = f.client("alice");
    constexpr int kCount = 200;
    const auto stored = send_all(alice, "bob", kCount);
    for (int i = 0; i < kCount; ++i) {
        CHECK(stored[static_cast<std::size_t>(i)].body == "m" + std::to_string(i));
        if (i > 0) CHECK(stored[static_cast<std::size_t>(i)].id > stored[i - 1U].id);
    }
    const auto pushed = inbox.wait_for(kCount);
    REQUIRE(pushed.size() == kCount);
    for (int i = 0; i < kCount; ++i)
        CHECK(pushed[static_cast<std::size_t>(i)].body == "m" + std::to_string(i));
}

TEST_CASE("grpc client: pipelined sends all arrive once", "[grpc][client]") {
    Inbox inbox;  // outlives the clients: pushes may still arrive until they close
    Fixture f;
    f.client("bob", 1, &inbox);
    Client& alice = f.client("alice", 16);
    constexpr int kCount = 500;
    const auto stored = send_all(alice, "bob", kCount);
    std::set<MessageId> ids;
    for (int i = 0; i < kCount; ++i) {
        CHECK(stored[static_cast<std::size_t>(i)].body == "m" + std::to_string(i));
        ids.insert(stored[static_cast<std::size_t>(i)].id);
    }
    CHECK(ids.size() == kCount);  // every send stored once, under its own id
    const auto pushed = inbox.wait_for(kCount);
    REQUIRE(pushed.size() == kCount);
    std::set<std::string> bodies;
    for (const auto& m : pushed) bodies.insert(m.body);
    CHECK(bodies.size() == kCount);
    // A blocking send still works between pipelined ones.
    auto one = alice.send("bob", "last");
    REQUIRE(one.ok());
    CHECK(one->body == "last");
}

TEST_CASE("grpc client: a window of 0 behaves as 1", "[grpc][client]") {
    Fixture f;
    f.client("bob");
    Client& alice = f.client("alice", 0);
    const auto stored = send_all(alice, "bob", 20);
    for (std::size_t i = 1; i < stored.size(); ++i) CHECK(stored[i].id > stored[i - 1].id);
}

TEST_CASE("grpc client: a request times out even when the server never answers", "[grpc][client]") {
    // A gRPC server that accepts connections and calls but never serves one, and does not end
    // them at their deadline either: only the client can.
    grpc::AsyncGenericService service;
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.AddChannelArgument(GRPC_ARG_ENABLE_DEADLINE_CHECKS, 0);
    builder.RegisterAsyncGenericService(&service);
    auto cq = builder.AddCompletionQueue();
    auto server = builder.BuildAndStart();
    REQUIRE(server);
    REQUIRE(port > 0);

    ClientConfig config;
    config.port = static_cast<std::uint16_t>(port);
    config.timeout = 300ms;
    auto client = make_client(config);
    REQUIRE(client->connect().ok());
    const auto start = std::chrono::steady_clock::now();
    auto hello = client->hello();
    CHECK_FALSE(hello.ok());
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    client->close();
    server->Shutdown(std::chrono::system_clock::now());
    cq->Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq->Next(&tag, &ok)) {
    }
}

}  // namespace
}  // namespace chat::grpc_transport
