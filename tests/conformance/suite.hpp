// Shared helpers of the conformance suite: the transport under test, users with fresh names, and
// readable assertions on Result codes. Every test is written against chat::Client only, so the
// same sources run once per transport.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/error.hpp"
#include "chat/transport.hpp"
#include "chat/types.hpp"
#include "support/test_server.hpp"

namespace chat::conformance {

using test::kEventTimeout;
using test::TestClient;
using test::TestServer;
using test::TestServerOptions;

// The transport this executable tests; fixed per executable by the build.
const std::string& transport_under_test();

// True when one connection carries at most one session (JSON Lines, WebSocket). With gRPC every
// login makes a new session, so a second login on one client is not an error there.
inline bool one_session_per_connection() { return transport_under_test() != "grpc"; }

// The outcome of a call as its wire code ("ok" for success) plus the error's text. Compares by
// code only, and prints both, so CHECK(code_of(r) == "no_such_user") explains a failure.
struct CodeOf {
    std::string code;
    std::string message;

    friend bool operator==(const CodeOf& a, std::string_view code) { return a.code == code; }
};

template <class T>
CodeOf code_of(const Result<T>& result) {
    if (result.ok()) return {"ok", {}};
    return {std::string(to_string(result.code())), result.error().message};
}

// "ok" or "code (message)": for REQUIRE(outcome(r) == "ok") so a failure shows the message.
template <class T>
std::string outcome(const Result<T>& result) {
    if (result.ok()) return "ok";
    return std::string(to_string(result.code())) + " (" + result.error().message + ")";
}

// A server whose clients give up after a few seconds: for requests that must be answered at once,
// so a transport that never answers fails fast instead of holding the suite for minutes.
inline TestServerOptions quick_reply_options() {
    TestServerOptions options;
    options.client_timeout = std::chrono::milliseconds(3000);
    return options;
}

struct User {
    std::string name;
    std::string password;
};

// Creates an account with a fresh name derived from `tag` over `client`.
User create_user(Client& client, std::string_view tag);
// The same over a short-lived client of `server`.
User create_user(const TestServer& server, std::string_view tag);
// Creates the account `name` (exactly) with a derived password over `client`.
User create_named_user(Client& client, std::string name);

// A connected client of `server` logged in as `user`; the login's unread count goes to `unread`.
TestClient login_client(const TestServer& server, const User& user, bool auto_ack = true,
                        std::uint64_t* unread = nullptr);

// Sends `count` messages from `client` to `to` (pipelined) and returns the stored messages in
// the order of their ids.
std::vector<Message> send_many(Client& client, std::string_view to, std::size_t count,
                               std::string_view body_prefix = "m");

// Calls `condition` (each call is a round trip to the server) until it holds, at most `attempts`
// times and for at most `timeout`. For effects the client API gives no event for, such as an
// automatic ack reaching the server.
bool eventually(const std::function<bool()>& condition, std::size_t attempts = 2000,
                std::chrono::milliseconds timeout = kEventTimeout);

// The ids of `messages`, in order.
std::vector<MessageId> ids_of(const std::vector<Message>& messages);

// Milliseconds since the Unix epoch now.
std::int64_t now_ms();

}  // namespace chat::conformance

namespace Catch {
template <>
struct StringMaker<chat::conformance::CodeOf> {
    static std::string convert(const chat::conformance::CodeOf& c) {
        if (c.message.empty()) return '"' + c.code + '"';
        return '"' + c.code + "\" (" + c.message + ")";
    }
};
}  // namespace Catch
