// Unit tests of chat::Delivery, the push delivery every chat::Client shares: handler order,
// de-duplication, auto-ack batching, and closing (also from inside a handler).
#include "chat/delivery.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <vector>

using namespace chat;
using namespace std::chrono_literals;

namespace {

Message message(MessageId id) {
    Message m;
    m.id = id;
    m.from = "alice";
    m.to = "bob";
    m.body = "m" + std::to_string(id);
    return m;
}

// What the handlers and the ack sender saw, from the callback thread.
struct Log {
    std::mutex mu;
    std::condition_variable changed;
    std::vector<std::string> events;
    std::vector<std::vector<MessageId>> acks;
    std::vector<std::function<void()>> ack_done;  // completions the test has not called yet

    void add(std::string event) {
        {
            std::lock_guard lock(mu);
            events.push_back(std::move(event));
        }
        changed.notify_all();
    }

    // Waits until `ready` holds (under the lock); false after 5 s.
    bool wait(const std::function<bool()>& ready) {
        std::unique_lock lock(mu);
        return changed.wait_for(lock, 5s, ready);
    }

    std::vector<std::string> snapshot() {
        std::lock_guard lock(mu);
        return events;
    }
};

// A Delivery wired to `log`. With `answer_acks` every ack completes at once; otherwise the
// test completes them through log.ack_done.
void wire(Delivery& d, Log& log, bool answer_acks = true) {
    d.on_message([&log](const Message& m) { log.add("message " + std::to_string(m.id)); });
    d.on_logged_out([&log](LogoutReason) { log.add("logged_out"); });
    d.on_disconnect([&log](const Error& e) { log.add("disconnect " + e.message); });
    d.set_ack_sender([&log, answer_acks](std::vector<MessageId> ids, std::function<void()> done) {
        {
            std::lock_guard lock(log.mu);
            log.acks.push_back(std::move(ids));
            if (!answer_acks) log.ack_done.push_back(done);
        }
        log.changed.notify_all();
        if (answer_acks) done();
    });
}

std::vector<MessageId> all_acked(Log& log) {
    std::lock_guard lock(log.mu);
    std::vector<MessageId> ids;
    for (const auto& batch : log.acks) ids.insert(ids.end(), batch.begin(), batch.end());
    return ids;
}

}  // namespace

TEST_CASE("delivery runs handlers and posted tasks in the order they were queued", "[delivery]") {
    Log log;
    Delivery d(/*auto_ack=*/false);
    wire(d, log);
    d.message(message(1));
    d.post([&log] { log.add("task"); });
    d.message(message(2));
    d.logged_out(LogoutReason::account_deleted);
    d.disconnected(make_error(Errc::internal, "gone"));
    d.drain();
    CHECK(log.snapshot() == std::vector<std::string>{"message 1", "task", "message 2", "logged_out",
                                                     "disconnect gone"});
    CHECK(!d.on_callback_thread());
}

TEST_CASE("delivery hands a message over once with auto_ack and acks every copy", "[delivery]") {
    Log log;
    Delivery d(/*auto_ack=*/true);
    wire(d, log);
    d.message(message(7));
    d.message(message(7));
    d.message(message(8));
    d.message(message(7));
    REQUIRE(log.wait([&log] {
        std::size_t n = 0;
        for (const auto& batch : log.acks) n += batch.size();
        return n == 4;
    }));
    CHECK(log.snapshot() == std::vector<std::string>{"message 7", "message 8"});
    // A repeat is acked again: the server re-sends only what it still holds.
    CHECK(all_acked(log) == std::vector<MessageId>{7, 7, 8, 7});
}

TEST_CASE("delivery without auto_ack hands every copy over and acks nothing", "[delivery]") {
    Log log;
    Delivery d(/*auto_ack=*/false);
    wire(d, log);
    d.message(message(3));
    d.message(message(3));
    d.drain();
    std::this_thread::sleep_for(50ms);
    CHECK(log.snapshot() == std::vector<std::string>{"message 3", "message 3"});
    CHECK(all_acked(log).empty());
}

TEST_CASE("delivery acks nothing when no message handler took the push", "[delivery]") {
    Log log;
    Delivery d(/*auto_ack=*/true);
    wire(d, log);
    d.on_message(nullptr);
    d.message(message(4));
    d.drain();
    std::this_thread::sleep_for(50ms);
    CHECK(all_acked(log).empty());
}

TEST_CASE("delivery batches acks: one per dry queue, one in flight", "[delivery]") {
    Log log;
    Delivery d(/*auto_ack=*/true);
    wire(d, log, /*answer_acks=*/false);
    // Queued together (as the events of one read): handed over, then one ack for all.
    d.hold();
    d.message(message(1));
    d.message(message(2));
    d.message(message(3));
    d.release();
    REQUIRE(log.wait([&log] { return log.acks.size() == 1; }));
    CHECK(log.acks[0] == std::vector<MessageId>{1, 2, 3});

    // While that ack waits for its reply, later ids wait too, then go out together.
    d.message(message(4));
    d.message(message(5));
    REQUIRE(log.wait([&log] { return log.events.size() == 5; }));
    std::this_thread::sleep_for(50ms);
    std::function<void()> done;
    {
        std::lock_guard lock(log.mu);
        CHECK(log.acks.size() == 1);
        done = log.ack_done.at(0);
    }
    done();
    REQUIRE(log.wait([&log] { return log.acks.size() == 2; }));
    CHECK(log.acks[1] == std::vector<MessageId>{4, 5});
    std::lock_guard lock(log.mu);
    log.ack_done.at(1)();
}

TEST_CASE("delivery: close from inside a handler returns and stops later handlers", "[delivery]") {
    Log log;
    Delivery d(/*auto_ack=*/true);
    wire(d, log);
    d.on_message([&](const Message& m) {
        log.add("message " + std::to_string(m.id));
        d.close();  // on the callback thread: must not wait for itself
        log.add("closed");
    });
    d.hold();
    d.message(message(1));
    d.message(message(2));
    d.logged_out(LogoutReason::account_deleted);
    d.post([&log] { log.add("task"); });
    d.release();
    REQUIRE(log.wait([&log] { return log.events.size() == 3; }));
    d.drain();
    std::this_thread::sleep_for(50ms);
    // Posted work (send completions) still runs; nothing is acked after close.
    CHECK(log.snapshot() == std::vector<std::string>{"message 1", "closed", "task"});
    CHECK(all_acked(log).empty());
}

TEST_CASE("delivery runs no handler after close() returns", "[delivery]") {
    Log log;
    Delivery d(/*auto_ack=*/true);
    wire(d, log);
    std::mutex gate;
    std::unique_lock hold_gate(gate);
    d.on_message([&](const Message& m) {
        log.add("message " + std::to_string(m.id));
        std::lock_guard wait_for_gate(gate);  // blocks until the test lets it go
    });
    d.message(message(1));
    d.message(message(2));
    REQUIRE(log.wait([&log] { return log.events.size() == 1; }));
    std::thread closer([&d] { d.close(); });
    std::this_thread::sleep_for(50ms);
    hold_gate.unlock();  // close() waits for the running handler, then returns
    closer.join();
    d.message(message(3));
    d.disconnected(make_error(Errc::internal, "late"));
    d.drain();
    std::this_thread::sleep_for(50ms);
    CHECK(log.snapshot() == std::vector<std::string>{"message 1"});
}

TEST_CASE("delivery may be destroyed from inside one of its own tasks", "[delivery]") {
    auto d = std::make_unique<Delivery>(/*auto_ack=*/false);
    Delivery* raw = d.get();
    // A promise's shared state outlives both ends, so the detached thread may still be leaving
    // set_value() when this test returns (a Log on this stack could not be touched then).
    auto destroyed = std::make_shared<std::promise<void>>();
    auto done = destroyed->get_future();
    raw->post([&d, destroyed] {
        d.reset();
        destroyed->set_value();
    });
    REQUIRE(done.wait_for(5s) == std::future_status::ready);
    CHECK(d == nullptr);
}
