// End-to-end tests of the JSON client library against the real chatd: pushes, auto-ack and
// de-duplication, pipelined sends, logged_out and disconnect notifications.
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

#include "chat/json/json_transport.hpp"
#include "chatd_process.hpp"
#include "line_socket.hpp"

namespace chat::e2e {
namespace {

using namespace std::chrono_literals;

// Collects what the client's callbacks see, so a test can wait for it.
struct Inbox {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<Message> messages;
    std::vector<LogoutReason> logouts;
    std::vector<Error> disconnects;

    void attach(Client& client) {
        client.on_message([this](const Message& m) {
            std::lock_guard lock(mutex);
            messages.push_back(m);
            changed.notify_all();
        });
        client.on_logged_out([this](LogoutReason r) {
            std::lock_guard lock(mutex);
            logouts.push_back(r);
            changed.notify_all();
        });
        client.on_disconnect([this](const Error& e) {
            std::lock_guard lock(mutex);
            disconnects.push_back(e);
            changed.notify_all();
        });
    }

    // Reads under the lock (callbacks may still be running on the client's thread).
    template <class Read>
    auto read(Read reader) {
        std::lock_guard lock(mutex);
        return reader(*this);
    }

    template <class Pred>
    bool wait(Pred pred, std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, timeout, [&] { return pred(*this); });
    }
};

std::unique_ptr<Client> connect_client(std::uint16_t port, bool auto_ack = true) {
    ClientConfig config;
    config.port = port;
    config.auto_ack = auto_ack;
    config.timeout = 10s;
    auto client = json_transport::make_client(config);
    return client;
}

TEST_CASE("json client: a transport setting is refused by name", "[json][client]") {
    ClientConfig config;
    config.settings["max_sends_in_flight"] = "4";
    CHECK_THROWS_WITH(json_transport::make_client(config),
                      "json transport: unknown setting 'max_sends_in_flight' (known: none)");
}

TEST_CASE("json client round trip with live push and auto ack") {
    RunningChatd server;
    Inbox bob_inbox;  // outlives the clients whose callbacks feed it
    auto alice = connect_client(server.port);
    auto bob = connect_client(server.port);
    bob_inbox.attach(*bob);
    REQUIRE(alice->connect().ok());
    REQUIRE(bob->connect().ok());

    auto hello = alice->hello(1);
    REQUIRE(hello.ok());
    CHECK(hello->version == 1);
    CHECK(hello->max_frame == Limits{}.max_frame);

    REQUIRE(alice->create_account("alice", "pw").ok());
    REQUIRE(alice->create_account("bob", "pw").ok());
    CHECK(alice->create_account("Bob", "x").code() == Errc::user_exists);
    REQUIRE(alice->login("alice", "pw").ok());
    auto login = bob->login("BOB", "pw");
    REQUIRE(login.ok());
    CHECK(login->username == "bob");

    auto sent = alice->send("bob", "hello bob");
    REQUIRE(sent.ok());
    CHECK(sent->from == "alice");
    REQUIRE(bob_inbox.wait([](Inbox& in) { return in.messages.size() == 1; }));
    CHECK(bob_inbox.read([](Inbox& in) { return in.messages[0]; }) == *sent);

    // The auto-ack goes out once the handler returned; a fetch then finds the queue empty.
    bool drained = false;
    for (int attempt = 0; attempt < 200 && !drained; ++attempt) {
        auto fetched = bob->fetch();
        REQUIRE(fetched.ok());
        drained = fetched->messages.empty();
        if (!drained) std::this_thread::sleep_for(10ms);  // the ack is in flight
    }
    CHECK(drained);

    CHECK(alice->send("nobody", "x").code() == Errc::no_such_user);
    auto page = alice->list_accounts("*", 1);
    REQUIRE(page.ok());
    CHECK(page->accounts == std::vector<std::string>{"alice"});
    REQUIRE(page->next);
    auto rest = alice->list_accounts("*", 1, *page->next);
    REQUIRE(rest.ok());
    CHECK(rest->accounts == std::vector<std::string>{"bob"});
    CHECK_FALSE(rest->next);
    alice->close();
    bob->close();
    CHECK(server.stop() == 0);
}

TEST_CASE("json client without auto ack leaves messages queued") {
    RunningChatd server;
    Inbox inbox;
    std::promise<std::vector<MessageId>> all_done;
    auto sender = connect_client(server.port);
    auto reader = connect_client(server.port, false);
    inbox.attach(*reader);
    REQUIRE(sender->connect().ok());
    REQUIRE(reader->connect().ok());
    REQUIRE(sender->create_account("s", "pw").ok());
    REQUIRE(sender->create_account("r", "pw").ok());
    REQUIRE(sender->login("s", "pw").ok());
    REQUIRE(reader->login("r", "pw").ok());

    // Pipelined sends complete in order on the callback thread.
    auto ids = std::make_shared<std::vector<MessageId>>();
    constexpr int kCount = 50;
    for (int i = 0; i < kCount; ++i) {
        sender->send_async("r", "m" + std::to_string(i), [&, ids](Result<Message> r) {
            REQUIRE(r.ok());
            ids->push_back(r->id);
            if (ids->size() == kCount) all_done.set_value(*ids);
        });
    }
    auto future = all_done.get_future();
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    auto sent_ids = future.get();
    CHECK(std::is_sorted(sent_ids.begin(), sent_ids.end()));

    REQUIRE(inbox.wait([](Inbox& in) { return in.messages.size() == kCount; }));
    auto fetched = reader->fetch(1000);
    REQUIRE(fetched.ok());
    CHECK(fetched->messages.size() == kCount);
    auto acked = reader->ack({}, sent_ids.back());
    REQUIRE(acked.ok());
    CHECK(*acked == kCount);
    CHECK(server.stop() == 0);
}

TEST_CASE("json client hears logged_out after deleting its account") {
    RunningChatd server;
    Inbox first_inbox;
    Inbox second_inbox;
    auto first = connect_client(server.port);
    auto second = connect_client(server.port);
    first_inbox.attach(*first);
    second_inbox.attach(*second);
    REQUIRE(first->connect().ok());
    REQUIRE(second->connect().ok());
    REQUIRE(first->create_account("gone", "pw").ok());
    REQUIRE(first->login("gone", "pw").ok());
    REQUIRE(second->login("gone", "pw").ok());
    CHECK(first->delete_account("bad").code() == Errc::bad_credentials);
    REQUIRE(first->delete_account("pw").ok());
    CHECK(first_inbox.wait([](Inbox& in) { return in.logouts.size() == 1; }));
    CHECK(second_inbox.wait([](Inbox& in) { return in.logouts.size() == 1; }));
    CHECK(first->fetch().code() == Errc::not_logged_in);
    CHECK(first_inbox.read([](Inbox& in) { return in.disconnects.empty(); }));
    CHECK(server.stop() == 0);
}

TEST_CASE("json client reports a broken connection once") {
    RunningChatd server;
    Inbox inbox;
    auto client = connect_client(server.port);
    inbox.attach(*client);
    REQUIRE(client->connect().ok());
    REQUIRE(client->hello().ok());
    CHECK(server.stop() == 0);
    REQUIRE(inbox.wait([](Inbox& in) { return in.disconnects.size() == 1; }));
    auto after = client->hello();
    CHECK_FALSE(after.ok());
    CHECK(after.code() == Errc::internal);
    client->close();
    CHECK(inbox.read([](Inbox& in) { return in.disconnects.size(); }) == 1);
}

TEST_CASE("json client connect fails cleanly when nobody listens") {
    std::uint16_t port = 0;
    {
        RunningChatd server;
        port = server.port;
        CHECK(server.stop() == 0);
    }
    auto client = connect_client(port);
    auto result = client->connect();
    CHECK_FALSE(result.ok());
    client->close();
}

TEST_CASE("json client learns server_busy as the reason of its disconnect") {
    RunningChatd server({"--max-connections", "1"});
    auto first = connect_client(server.port);
    REQUIRE(first->connect().ok());
    REQUIRE(first->hello().ok());
    Inbox inbox;
    auto second = connect_client(server.port);
    inbox.attach(*second);
    REQUIRE(second->connect().ok());  // TCP accepts; the server answers and hangs up
    REQUIRE(inbox.wait([](Inbox& in) { return in.disconnects.size() == 1; }));
    CHECK(inbox.read([](Inbox& in) { return in.disconnects[0].code; }) == Errc::server_busy);
    CHECK_FALSE(second->hello().ok());
    CHECK(first->hello().ok());
    CHECK(server.stop() == 0);
}

TEST_CASE("json client handlers may make blocking calls") {
    RunningChatd server;
    std::promise<Result<Message>> echoed;
    bool once = false;
    auto alice = connect_client(server.port);
    auto bob = connect_client(server.port);
    REQUIRE(alice->connect().ok());
    REQUIRE(alice->create_account("a", "pw").ok());
    REQUIRE(alice->create_account("b", "pw").ok());
    REQUIRE(alice->login("a", "pw").ok());

    bob->on_message([&](const Message& m) {
        if (once) return;
        once = true;
        echoed.set_value(bob->send(m.from, "echo: " + m.body));  // blocking, on the callback thread
    });
    REQUIRE(bob->connect().ok());
    REQUIRE(bob->login("b", "pw").ok());
    REQUIRE(alice->send("b", "ping").ok());
    auto future = echoed.get_future();
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    auto reply = future.get();
    REQUIRE(reply.ok());
    CHECK(reply->body == "echo: ping");
    bob->close();
    alice->close();
    CHECK(server.stop() == 0);
}

}  // namespace
}  // namespace chat::e2e
