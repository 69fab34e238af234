// Tests of the gRPC transport's state logic that needs no network: the push stream's operation
// sequencing, bearer tokens, the connection limit and the Errc <-> gRPC status table.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chat/outbound_budget.hpp"
#include "codec.hpp"
#include "connection_limit.hpp"
#include "log_throttle.hpp"
#include "peer_rate.hpp"
#include "push_stream.hpp"
#include "token_table.hpp"
#include "worker_thread.hpp"

namespace chat::grpc_transport {
namespace {

using Kind = PushStream::Action::Kind;
using namespace std::chrono_literals;

Message message(MessageId id, std::string body = "hi") {
    return Message{.id = id, .from = "alice", .to = "bob", .body = std::move(body), .sent_at = 1};
}

// Drives `stream` like the reactor: completes the metadata step so writes may follow.
void open(PushStream& stream) {
    REQUIRE(stream.next().kind == Kind::send_metadata);
    stream.op_done(true);
}

TEST_CASE("push stream: initial metadata goes first and one operation is in flight",
          "[grpc][push_stream]") {
    PushStream stream(1 << 20);
    CHECK(stream.deliver(message(1)));        // a pump is needed
    CHECK_FALSE(stream.deliver(message(2)));  // one is pending already
    auto first = stream.next();
    REQUIRE(first.kind == Kind::send_metadata);
    CHECK(stream.next().kind == Kind::none);  // metadata still in flight
    CHECK_FALSE(stream.deliver(message(3)));  // its completion pumps
    stream.op_done(true);
    for (MessageId id : {1u, 2u, 3u}) {
        auto a = stream.next();
        REQUIRE(a.kind == Kind::write);
        CHECK(std::get<Message>(a.event).id == id);
        CHECK(stream.next().kind == Kind::none);
        stream.op_done(true);
    }
    CHECK(stream.next().kind == Kind::none);
    CHECK(stream.queued() == 0);
    CHECK(stream.queued_bytes() == 0);
    CHECK_FALSE(stream.finished());
}

TEST_CASE("push stream: logged_out is written after the queue then the stream ends OK",
          "[grpc][push_stream]") {
    PushStream stream(1 << 20);
    open(stream);
    stream.deliver(message(7));
    stream.logged_out(LogoutReason::account_deleted);
    CHECK_FALSE(stream.deliver(message(8)));  // no push follows logged_out
    auto a = stream.next();
    REQUIRE(a.kind == Kind::write);
    CHECK(std::get<Message>(a.event).id == 7);
    stream.op_done(true);
    auto b = stream.next();
    REQUIRE(b.kind == Kind::write);
    CHECK(std::get<LogoutReason>(b.event) == LogoutReason::account_deleted);
    stream.op_done(true);
    auto c = stream.next();
    REQUIRE(c.kind == Kind::finish);
    CHECK(c.end == PushStream::End::logged_out);
    CHECK(stream.finished());
    CHECK(stream.next().kind == Kind::none);  // Finish is handed out once
}

TEST_CASE("push stream: a queue over its byte bound ends the stream without the rest",
          "[grpc][push_stream]") {
    PushStream stream(1000);
    open(stream);
    std::size_t accepted = 0;
    for (MessageId id = 1; id <= 20 && stream.queued_bytes() + 300 <= 1000; ++id) {
        stream.deliver(message(id, std::string(200, 'x')));
        ++accepted;
    }
    REQUIRE(accepted >= 2);
    stream.deliver(message(99, std::string(900, 'y')));  // over the bound
    auto a = stream.next();
    REQUIRE(a.kind == Kind::finish);
    CHECK(a.end == PushStream::End::overflow);
    CHECK(stream.queued() == 0);
}

TEST_CASE("push stream: queued pushes count against the shared outbound budget",
          "[grpc][push_stream]") {
    auto budget = std::make_shared<OutboundBudget>(1000);
    PushStream slow(1 << 20, budget, 300);
    PushStream fast(1 << 20, budget, 300);
    open(slow);
    open(fast);
    const std::string body(200, 'x');  // with names and framing, 272 bytes a push
    for (MessageId id = 1; id <= 3; ++id) slow.deliver(message(id, body));
    CHECK(budget->used() == 3 * 272);
    CHECK(slow.queued() == 3);
    // The budget is spent: the stream over its floor that adds more is the one dropped.
    slow.deliver(message(4, body));
    CHECK(budget->used() == 3 * 272);
    // Within its floor another stream still goes on.
    fast.deliver(message(5, body));
    CHECK(budget->used() == 4 * 272);
    auto a = slow.next();
    REQUIRE(a.kind == Kind::finish);
    CHECK(a.end == PushStream::End::overflow);
    CHECK(budget->used() == 272);
    REQUIRE(fast.next().kind == Kind::write);
    CHECK(budget->used() == 0);
    fast.op_done(true);
    // A LoggedOut event needs no budget.
    fast.logged_out(LogoutReason::account_deleted);
    CHECK(budget->used() == 0);
}

TEST_CASE("push stream: a cancel during a write finishes once after that write completes",
          "[grpc][push_stream]") {
    PushStream stream(1 << 20);
    open(stream);
    stream.deliver(message(1));
    stream.deliver(message(2));
    REQUIRE(stream.next().kind == Kind::write);
    stream.end(PushStream::End::cancelled, false);
    CHECK(stream.next().kind == Kind::none);  // never Finish with a write in flight
    stream.op_done(false);
    auto a = stream.next();
    REQUIRE(a.kind == Kind::finish);
    CHECK(a.end == PushStream::End::cancelled);
    CHECK(stream.next().kind == Kind::none);
    CHECK_FALSE(stream.end(PushStream::End::shutdown, false));
}

TEST_CASE("push stream: a failed write ends the stream as cancelled", "[grpc][push_stream]") {
    PushStream stream(1 << 20);
    open(stream);
    stream.deliver(message(1));
    stream.deliver(message(2));
    REQUIRE(stream.next().kind == Kind::write);
    stream.op_done(false);
    auto a = stream.next();
    REQUIRE(a.kind == Kind::finish);
    CHECK(a.end == PushStream::End::cancelled);
}

TEST_CASE("push stream: refused before registering finishes without metadata",
          "[grpc][push_stream]") {
    PushStream stream(1 << 20);
    CHECK(stream.end(PushStream::End::refused, false));
    auto a = stream.next();
    REQUIRE(a.kind == Kind::finish);
    CHECK(a.end == PushStream::End::refused);
}

TEST_CASE("push stream: a logout drains the queue and a later hard end cuts it short",
          "[grpc][push_stream]") {
    PushStream stream(1 << 20);
    open(stream);
    stream.deliver(message(1));
    stream.deliver(message(2));
    stream.end(PushStream::End::logout, true);
    REQUIRE(stream.next().kind == Kind::write);
    stream.end(PushStream::End::shutdown, false);
    stream.op_done(true);
    auto a = stream.next();
    REQUIRE(a.kind == Kind::finish);
    CHECK(a.end == PushStream::End::logout);  // the first reason stays
}

TEST_CASE("push stream: concurrent producers and one driver deliver everything in order once",
          "[grpc][push_stream]") {
    // The driver plays the reactor: it calls next() when woken (as the pusher would) and again
    // after each completed operation (as OnWriteDone would).
    PushStream stream(1 << 24);
    std::mutex mu;
    std::condition_variable cv;
    int wakeups = 0;
    auto wake = [&] {
        {
            std::lock_guard lock(mu);
            ++wakeups;
        }
        cv.notify_one();
    };
    std::vector<MessageId> written;
    int finishes = 0;
    bool timed_out = false;
    std::thread driver([&] {
        for (;;) {
            auto a = stream.next();
            if (a.kind == Kind::finish) {
                ++finishes;
                return;
            }
            if (a.kind == Kind::none) {
                std::unique_lock lock(mu);
                if (!cv.wait_for(lock, 10s, [&] { return wakeups > 0; })) {
                    timed_out = true;
                    return;
                }
                --wakeups;
                continue;
            }
            if (a.kind == Kind::write) written.push_back(std::get<Message>(a.event).id);
            stream.op_done(true);
        }
    });
    constexpr MessageId kProducers = 4;
    constexpr MessageId kEach = 500;
    std::vector<std::thread> producers;
    for (MessageId p = 0; p < kProducers; ++p) {
        producers.emplace_back([&, p] {
            for (MessageId i = 0; i < kEach; ++i) {
                if (stream.deliver(message(p * 10000 + i))) wake();
            }
        });
    }
    for (auto& t : producers) t.join();
    if (stream.end(PushStream::End::logout, true)) wake();
    driver.join();
    REQUIRE_FALSE(timed_out);
    CHECK(finishes == 1);
    REQUIRE(written.size() == kProducers * kEach);
    std::map<MessageId, MessageId> next_of;  // producer -> next expected index
    for (MessageId id : written) {
        const MessageId p = id / 10000;
        CHECK(id % 10000 == next_of[p]);
        next_of[p] = id % 10000 + 1;
    }
    CHECK(stream.queued() == 0);
}

TEST_CASE("worker thread: runs tasks in order and drains them on stop", "[grpc][worker]") {
    std::vector<int> ran;
    WorkerThread worker;
    for (int i = 0; i < 100; ++i) {
        REQUIRE(worker.post([&ran, i] { ran.push_back(i); }));
    }
    worker.stop();
    REQUIRE(ran.size() == 100);
    for (int i = 0; i < 100; ++i) CHECK(ran[static_cast<std::size_t>(i)] == i);
    CHECK_FALSE(worker.post([] {}));
    worker.stop();  // idempotent
}

TEST_CASE("worker thread: a task may stop its own worker", "[grpc][worker]") {
    std::atomic<bool> ran_after{false};
    std::atomic<bool> on_worker{false};
    {
        WorkerThread worker;
        std::promise<void> posted;
        std::promise<void> stopped;
        auto posted_f = posted.get_future();
        auto stopped_f = stopped.get_future();
        worker.post([&] {
            posted_f.wait();
            on_worker = worker.on_worker();  // Catch assertions belong on the test's thread
            worker.stop();                   // must not join itself
            stopped.set_value();
        });
        worker.post([&] { ran_after = true; });  // queued before the stop: still runs
        posted.set_value();
        REQUIRE(stopped_f.wait_for(10s) == std::future_status::ready);
    }
    CHECK(on_worker);
    CHECK(ran_after);
}

TEST_CASE("tokens: the authorization value must be Bearer and a token", "[grpc][tokens]") {
    CHECK(bearer_token("Bearer abc") == std::optional<std::string_view>("abc"));
    CHECK(bearer_token("bearer abc") == std::optional<std::string_view>("abc"));
    CHECK(bearer_token("BEARER   abc  ") == std::optional<std::string_view>("abc"));
    CHECK_FALSE(bearer_token("Bearer ").has_value());
    CHECK_FALSE(bearer_token("Bearer").has_value());
    CHECK_FALSE(bearer_token("Basic abc").has_value());
    CHECK_FALSE(bearer_token("Bearerabc").has_value());
    CHECK_FALSE(bearer_token("abc").has_value());
    CHECK_FALSE(bearer_token("").has_value());
}

TEST_CASE("tokens: fresh tokens are 256-bit URL-safe strings and never repeat", "[grpc][tokens]") {
    TokenTable table(0, 0);
    std::set<std::string> seen;
    for (SessionId s = 1; s <= 500; ++s) {
        const std::string token = table.issue(s);
        CHECK(token.size() == 43);
        CHECK(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789-_") == std::string::npos);
        CHECK(seen.insert(token).second);
        auto found = table.use(token);
        CHECK(found.use == TokenTable::Use::ok);
        CHECK(found.session == s);
    }
    CHECK(table.size() == 500);
    CHECK(table.use("not a token").use == TokenTable::Use::unknown);
    const std::string one = *seen.begin();
    CHECK(table.revoke(one).has_value());
    CHECK_FALSE(table.revoke(one).has_value());
    CHECK(table.use(one).use == TokenTable::Use::unknown);
    CHECK(table.clear().size() == 499);
    CHECK(table.size() == 0);
}

TEST_CASE("tokens: each token has its own request rate budget", "[grpc][tokens]") {
    TokenTable table(2, 3);  // 2/s, bursts of 3
    const auto t0 = TokenTable::Clock::now();
    const std::string a = table.issue(1, t0);
    const std::string b = table.issue(2, t0);
    for (int i = 0; i < 3; ++i) CHECK(table.use(a, t0).use == TokenTable::Use::ok);
    CHECK(table.use(a, t0).use == TokenTable::Use::rate_limited);
    CHECK(table.use(b, t0).use == TokenTable::Use::ok);
    // Half a second refills one request.
    CHECK(table.use(a, t0 + 500ms).use == TokenTable::Use::ok);
    CHECK(table.use(a, t0 + 500ms).use == TokenTable::Use::rate_limited);
    // The bucket never holds more than the burst.
    const auto later = t0 + 60s;
    for (int i = 0; i < 3; ++i) CHECK(table.use(a, later).use == TokenTable::Use::ok);
    CHECK(table.use(a, later).use == TokenTable::Use::rate_limited);
}

TEST_CASE("tokens: idle tokens expire unless a stream is open", "[grpc][tokens]") {
    TokenTable table(0, 0);
    const auto t0 = TokenTable::Clock::now();
    const std::string idle = table.issue(1, t0);
    const std::string streaming = table.issue(2, t0);
    const std::string busy = table.issue(3, t0);
    table.stream_opened(streaming);
    table.use(busy, t0 + 8s);
    auto expired = table.expire_idle(10s, t0 + 11s);
    CHECK(expired == std::vector<SessionId>{1});
    CHECK(table.use(idle, t0 + 11s).use == TokenTable::Use::unknown);
    CHECK(table.expire_idle(10s, t0 + 19s) == std::vector<SessionId>{3});
    // The idle clock of a stream's token starts when the stream closes.
    table.stream_closed(streaming, t0 + 100s);
    CHECK(table.expire_idle(10s, t0 + 105s).empty());
    CHECK(table.expire_idle(10s, t0 + 111s) == std::vector<SessionId>{2});
    CHECK(table.size() == 0);
}

TEST_CASE("tokens: open streams per token are bounded", "[grpc][tokens]") {
    TokenTable table(0, 0);
    const std::string a = table.issue(1);
    const std::string b = table.issue(2);
    for (int i = 0; i < 8; ++i) CHECK(table.stream_opened(a, 8));
    CHECK_FALSE(table.stream_opened(a, 8));
    CHECK(table.stream_opened(b, 8));  // another session has its own bound
    table.stream_closed(a);
    CHECK(table.stream_opened(a, 8));
    CHECK_FALSE(table.stream_opened("unknown", 8));
    CHECK(table.stream_opened(b, 0));  // 0: no bound
}

TEST_CASE("tokens: fetches in flight per token are bounded", "[grpc][tokens]") {
    TokenTable table(0, 0);
    const std::string a = table.issue(1);
    const std::string b = table.issue(2);
    for (int i = 0; i < 4; ++i) CHECK(table.fetch_started(a, 4));
    CHECK_FALSE(table.fetch_started(a, 4));
    CHECK(table.fetch_started(b, 4));
    table.fetch_finished(a);
    CHECK(table.fetch_started(a, 4));
    CHECK_FALSE(table.fetch_started(a, 4));
    for (int i = 0; i < 10; ++i) table.fetch_finished(a);  // never below zero
    for (int i = 0; i < 4; ++i) CHECK(table.fetch_started(a, 4));
    CHECK_FALSE(table.fetch_started(a, 4));
}

TEST_CASE("peer rate: each address has its own bucket, and rate 0 is off", "[grpc][peer_rate]") {
    PeerRate rate(2, 3);
    const auto t0 = PeerRate::Clock::now();
    for (int i = 0; i < 3; ++i) CHECK(rate.take("10.0.0.1", t0));
    CHECK_FALSE(rate.take("10.0.0.1", t0));
    CHECK(rate.take("10.0.0.2", t0));
    CHECK(rate.take("10.0.0.1", t0 + 500ms));  // one call refilled
    CHECK_FALSE(rate.take("10.0.0.1", t0 + 500ms));
    PeerRate off(0, 0);
    for (int i = 0; i < 1000; ++i) CHECK(off.take("10.0.0.1", t0));
    CHECK(off.tracked() == 0);
}

TEST_CASE("peer rate: quiet addresses are forgotten", "[grpc][peer_rate]") {
    PeerRate rate(10, 10);
    const auto t0 = PeerRate::Clock::now();
    for (int i = 0; i < 1000; ++i) CHECK(rate.take("10.0.1." + std::to_string(i), t0));
    CHECK(rate.tracked() == 1000);
    // Much later, the next prune finds every earlier bucket full again.
    for (int i = 0; i < 30; ++i) CHECK(rate.take("10.0.2." + std::to_string(i), t0 + 10s));
    CHECK(rate.tracked() <= 30);
}

TEST_CASE("log throttle: one line per interval with the count left out", "[grpc][log]") {
    LogThrottle throttle(10s);
    const auto t0 = LogThrottle::Clock::now();
    CHECK(throttle.admit(t0) == std::optional<std::uint64_t>(0));
    for (int i = 0; i < 500; ++i) CHECK_FALSE(throttle.admit(t0 + 1s).has_value());
    CHECK_FALSE(throttle.admit(t0 + 9s).has_value());
    CHECK(throttle.admit(t0 + 10s) == std::optional<std::uint64_t>(501));
    CHECK(throttle.admit(t0 + 25s) == std::optional<std::uint64_t>(0));
}

TEST_CASE("log throttle: threads together write one line per interval", "[grpc][log]") {
    LogThrottle throttle(1h);
    std::atomic<int> written{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i) {
                if (throttle.admit()) ++written;
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(written == 1);
    CHECK(throttle.admit(LogThrottle::Clock::now() + 2h) == std::optional<std::uint64_t>(3999));
}

TEST_CASE("connection limit: admits up to the maximum and frees closed connections",
          "[grpc][connections]") {
    std::vector<std::string> open = {"a", "b", "c"};
    int queries = 0;
    ConnectionLimit limit({.max = 2, .refresh_interval = 50ms, .silent_fallback = 30s},
                          [&](std::string_view caller) {
                              ++queries;
                              CHECK(std::find(open.begin(), open.end(), caller) != open.end());
                              return std::optional<std::vector<std::string>>(open);
                          });
    const auto t0 = ConnectionLimit::Clock::now();
    CHECK(limit.admit("a", t0));
    CHECK(limit.admit("b", t0));
    CHECK(limit.admit("a", t0));  // known connections always pass
    CHECK_FALSE(limit.admit("c", t0));
    CHECK(queries == 1);
    CHECK_FALSE(limit.admit("c", t0 + 10ms));  // no second query within the interval
    CHECK(queries == 1);
    open = {"b", "c"};  // "a" closed its connection
    CHECK(limit.admit("c", t0 + 60ms));
    CHECK(queries == 2);
    CHECK(limit.admitted() == 2);
    CHECK(limit.admit("b", t0 + 60ms));
}

TEST_CASE("connection limit: without live answers silent connections give way",
          "[grpc][connections]") {
    ConnectionLimit limit({.max = 1, .refresh_interval = 0ms, .silent_fallback = 5s},
                          [](std::string_view) { return std::nullopt; });
    const auto t0 = ConnectionLimit::Clock::now();
    CHECK(limit.admit("a", t0));
    CHECK_FALSE(limit.admit("b", t0 + 1s));
    CHECK(limit.admit("a", t0 + 2s));
    CHECK_FALSE(limit.admit("b", t0 + 6s));
    CHECK(limit.admit("b", t0 + 8s));
}

TEST_CASE("connection limit: 0 means no limit", "[grpc][connections]") {
    ConnectionLimit limit({.max = 0}, nullptr);
    for (int i = 0; i < 100; ++i) CHECK(limit.admit("peer" + std::to_string(i)));
}

TEST_CASE("connection limit: connections from one address are bounded", "[grpc][connections]") {
    std::vector<std::string> open = {"ipv4:10.0.0.1:1", "ipv4:10.0.0.1:2", "ipv4:10.0.0.2:1"};
    ConnectionLimit limit({.max = 100, .per_address = 2, .refresh_interval = 0ms},
                          [&](std::string_view) { return open; });
    const auto t0 = ConnectionLimit::Clock::now();
    CHECK(limit.admit("ipv4:10.0.0.1:1", "10.0.0.1", t0));
    CHECK(limit.admit("ipv4:10.0.0.1:2", "10.0.0.1", t0));
    CHECK(limit.admit("ipv4:10.0.0.1:1", "10.0.0.1", t0));  // admitted already
    open.push_back("ipv4:10.0.0.1:3");
    CHECK_FALSE(limit.admit("ipv4:10.0.0.1:3", "10.0.0.1", t0));
    CHECK(limit.admit("ipv4:10.0.0.2:1", "10.0.0.2", t0));  // another address
    CHECK(limit.admitted() == 3);
    // A closed connection of that address frees its slot.
    open.erase(open.begin());
    CHECK(limit.admit("ipv4:10.0.0.1:3", "10.0.0.1", t0 + 1ms));
    CHECK_FALSE(limit.admit("ipv4:10.0.0.1:4", "10.0.0.1", t0 + 2ms));
    CHECK(limit.admitted() == 3);
}

TEST_CASE("connection limit: per_address 0 is no bound", "[grpc][connections]") {
    ConnectionLimit limit({.max = 0, .per_address = 0}, nullptr);
    for (int i = 0; i < 300; ++i) CHECK(limit.admit("peer" + std::to_string(i), "10.0.0.1"));
}

TEST_CASE("codec: every error code has the gRPC status of docs/protocol.md", "[grpc][codec]") {
    using SC = grpc::StatusCode;
    const std::vector<std::pair<Errc, SC>> table = {
        {Errc::bad_request, SC::INVALID_ARGUMENT},
        {Errc::unknown_op, SC::UNIMPLEMENTED},
        {Errc::unsupported_version, SC::FAILED_PRECONDITION},
        {Errc::invalid_username, SC::INVALID_ARGUMENT},
        {Errc::invalid_password, SC::INVALID_ARGUMENT},
        {Errc::invalid_message, SC::INVALID_ARGUMENT},
        {Errc::user_exists, SC::ALREADY_EXISTS},
        {Errc::no_such_user, SC::NOT_FOUND},
        {Errc::bad_credentials, SC::UNAUTHENTICATED},
        {Errc::not_logged_in, SC::UNAUTHENTICATED},
        {Errc::already_logged_in, SC::FAILED_PRECONDITION},
        {Errc::frame_too_large, SC::RESOURCE_EXHAUSTED},
        {Errc::rate_limited, SC::RESOURCE_EXHAUSTED},
        {Errc::server_busy, SC::UNAVAILABLE},
        {Errc::internal, SC::INTERNAL},
    };
    for (const auto& [code, status] : table) {
        INFO(to_string(code));
        CHECK(status_code(code) == status);
        const Error e{code, "human text"};
        const grpc::Status s = to_status(e);
        CHECK(s.error_code() == status);
        CHECK(s.error_message() == std::string(to_string(code)) + ": human text");
        // Back again, with and without the trailer.
        CHECK(to_error(s, to_string(code)) == e);
        CHECK(to_error(s, std::nullopt) == e);
    }
}

TEST_CASE("codec: errors raised by gRPC itself map to the nearest code", "[grpc][codec]") {
    const grpc::Status big(grpc::StatusCode::RESOURCE_EXHAUSTED, "Received message larger");
    CHECK(to_error(big, std::nullopt).code == Errc::frame_too_large);
    const grpc::Status down(grpc::StatusCode::UNAVAILABLE, "failed to connect");
    const Error e = to_error(down, std::nullopt);
    CHECK(e.code == Errc::internal);
    CHECK(e.message.find("failed to connect") != std::string::npos);
    // A trailer wins over a status message that only looks like a code.
    const grpc::Status odd(grpc::StatusCode::NOT_FOUND, "user_exists: odd");
    CHECK(to_error(odd, "no_such_user").code == Errc::no_such_user);
}

TEST_CASE("codec: messages convert both ways", "[grpc][codec]") {
    const Message m{.id = 42, .from = "alice", .to = "bob", .body = "h\xC3\xA9", .sent_at = 1764};
    v1::Message wire;
    to_proto(m, wire);
    CHECK(wire.id() == 42);
    CHECK(wire.from() == "alice");
    CHECK(from_proto(wire) == m);
}

}  // namespace
}  // namespace chat::grpc_transport
