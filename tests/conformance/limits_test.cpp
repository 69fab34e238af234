// Conformance: protection limits (rate limit, frame size, connection limit, the login timeout)
// and serving several transports from one core.
#include <chrono>
#include <string>
#include <vector>

#include "chat/builtin_transports.hpp"
#include "suite.hpp"

namespace chat::conformance {
namespace {

TEST_CASE("limits: requests beyond the per-connection rate are rate_limited",
          "[conformance][limits]") {
    TestServerOptions options;
    options.limits.rate_limit = 1;
    options.limits.rate_burst = 5;
    TestServer server(transport_under_test(), options);
    User u = create_user(server, "busy");
    auto c = login_client(server, u);
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::string> codes;
    for (int i = 0; i < 30; ++i) codes.push_back(code_of(c->fetch()).code);
    const auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
            .count();
    std::size_t ok = 0;
    std::size_t limited = 0;
    for (const auto& code : codes) {
        INFO("fetch: " << code);
        CHECK((code == "ok" || code == "rate_limited"));
        if (code == "ok") ++ok;
        if (code == "rate_limited") ++limited;
    }
    CHECK(codes.front() == "ok");
    CHECK(limited > 0);
    // The burst (less the login) plus what refilled meanwhile.
    CHECK(ok <= 5 + static_cast<std::size_t>(seconds) + 1);
    // Another connection has its own budget.
    auto other = login_client(server, u);
    CHECK(outcome(other->fetch()) == "ok");
}

TEST_CASE("limits: a frame over max_frame is frame_too_large", "[conformance][limits]") {
    TestServerOptions options;
    options.limits.max_frame = 4096;
    TestServer server(transport_under_test(), options);
    User alice = create_user(server, "alice");
    User bob = create_user(server, "bob");
    auto a = login_client(server, alice);
    // A valid body (under 16384 bytes) in a frame over the limit.
    CHECK(code_of(a->send(bob.name, std::string(8000, 'x'))) == "frame_too_large");
    if (transport_under_test() == "json") {
        // The JSON server closes that connection after replying.
        CHECK(a.inbox->wait_disconnect().has_value());
    }
    // Nothing was stored.
    std::uint64_t unread = 99;
    auto b = login_client(server, bob, false, &unread);
    CHECK(unread == 0);
    // Frames within the limit still work.
    CHECK(outcome(b->send(alice.name, std::string(1000, 'y'))) == "ok");
}

TEST_CASE("limits: connections beyond max_connections get server_busy", "[conformance][limits]") {
    TestServerOptions options;
    options.limits.max_connections = 1;
    options.one_node = true;  // a limit of each node (docs/operations.md)
    TestServer server(transport_under_test(), options);
    auto first = server.connect_client();
    REQUIRE(outcome(first->hello(1)) == "ok");

    auto second = server.make_client();
    auto connected = second->connect();
    const CodeOf code = connected.ok() ? code_of(second->hello(1)) : code_of(connected);
    CHECK(code == "server_busy");
    CHECK(outcome(first->hello(1)) == "ok");

    // Closing the first frees its slot; the server notices on its own time, so retry (bounded).
    first->close();
    const bool served = eventually(
        [&] {
            auto next = server.make_client();
            return next->connect().ok() && next->hello(1).ok();
        },
        200);
    CHECK(served);
}

TEST_CASE("limits: a connection that never logs in is closed after login_timeout",
          "[conformance][limits]") {
    if (transport_under_test() != "json") {
        // gRPC has no connection to close: a session exists only after Login.
        SUCCEED("not applicable to " << transport_under_test());
        return;
    }
    TestServerOptions options;
    options.limits.login_timeout = std::chrono::milliseconds(300);
    TestServer server(transport_under_test(), options);
    User u = create_user(server, "active");
    auto active = login_client(server, u);
    auto idle = server.connect_client();
    CHECK(idle.inbox->wait_disconnect().has_value());
    CHECK(outcome(active->fetch()) == "ok");
}

TEST_CASE("interop: users on every built transport message each other", "[conformance][interop]") {
    TestServerOptions options;
    options.also_serve = builtin_transports().names();
    TestServer server(transport_under_test(), options);
    User here = create_user(server, "here");
    auto h = login_client(server, here, false);
    for (const auto& other : server.transports()) {
        INFO("other transport " << other);
        auto o = server.connect_client(false, other);
        User there = create_user(*o, "there");
        REQUIRE(outcome(o->login(there.name, there.password)) == "ok");

        auto out = h->send(there.name, "from " + transport_under_test());
        REQUIRE(outcome(out) == "ok");
        auto got = o.inbox->wait_message();
        REQUIRE(got.has_value());
        CHECK(*got == *out);

        auto back = o->send(here.name, "from " + other);
        REQUIRE(outcome(back) == "ok");
        auto got_back = h.inbox->wait_message();
        REQUIRE(got_back.has_value());
        CHECK(*got_back == *back);
    }
}

}  // namespace
}  // namespace chat::conformance
