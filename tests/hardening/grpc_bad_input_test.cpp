// The bad-input table of the gRPC transport, spoken through the generated stubs: calls with a
// missing, forged, revoked or expired token get UNAUTHENTICATED with the trailer
// `chat-error-code: not_logged_in`; a message over the receive limit gets RESOURCE_EXHAUSTED;
// huge numbers and broken text get their domain answers; and the server serves a well-behaved
// client after every row.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "chat/chat_service.hpp"
#include "chat/grpc/grpc_transport.hpp"
#include "chat/memory_store.hpp"
#include "chat/v1/chat.grpc.pb.h"

namespace chat::hardening {
namespace {

using namespace std::chrono_literals;
constexpr auto kDeadline = 10s;
// The wire names of docs/protocol.md, spelled out here rather than taken from the transport.
constexpr const char* kTrailer = "chat-error-code";

std::optional<std::string> trailer(const grpc::ClientContext& ctx) {
    const auto& md = ctx.GetServerTrailingMetadata();
    auto it = md.find(kTrailer);
    if (it == md.end()) return std::nullopt;
    return std::string(it->second.data(), it->second.size());
}

// How a call came back: "ok", or the gRPC status code and our trailer.
struct Outcome {
    grpc::StatusCode status = grpc::StatusCode::OK;
    std::string message;
    std::optional<std::string> code;  // chat-error-code trailer
};

Outcome outcome_of(const grpc::Status& status, const grpc::ClientContext& ctx) {
    return Outcome{status.error_code(), status.error_message(), trailer(ctx)};
}

// The authorization metadata to send: nullopt sends none.
using Authorization = std::optional<std::string>;

// A gRPC server on an in-process core with cheap hashing, and a stub for it.
// Thread use: one test thread (the stub itself may be shared, the fixture is not).
class GrpcServer final {
   public:
    // `settings`: the transport's own (ServerConfig::settings).
    explicit GrpcServer(Limits limits = {}, TransportSettings settings = {})
        : service_(store_, config(limits)) {
        ServerConfig config;
        config.listen = "127.0.0.1";
        config.port = 0;
        config.threads = 2;
        config.settings = std::move(settings);
        server_ = grpc_transport::make_server(service_, config);
        server_->start();
        channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->local_port()),
                                       grpc::InsecureChannelCredentials());
        stub_ = v1::Chat::NewStub(channel_);
    }
    ~GrpcServer() { server_->stop(); }
    GrpcServer(const GrpcServer&) = delete;
    GrpcServer& operator=(const GrpcServer&) = delete;

    v1::Chat::Stub& stub() { return *stub_; }
    ChatService& service() { return service_; }
    std::uint16_t port() const { return server_->local_port(); }

    static std::unique_ptr<grpc::ClientContext> context(const Authorization& auth) {
        auto ctx = std::make_unique<grpc::ClientContext>();
        ctx->set_deadline(std::chrono::system_clock::now() + kDeadline);
        if (auth) ctx->AddMetadata("authorization", *auth);
        return ctx;
    }

    void create(const std::string& name, const std::string& password) {
        v1::CreateAccountRequest req;
        req.set_username(name);
        req.set_password(password);
        v1::CreateAccountResponse resp;
        auto ctx = context(std::nullopt);
        auto status = stub_->CreateAccount(ctx.get(), req, &resp);
        INFO("create " << name << ": " << status.error_message());
        REQUIRE(status.ok());
    }

    std::string login(const std::string& name, const std::string& password) {
        v1::LoginRequest req;
        req.set_username(name);
        req.set_password(password);
        v1::LoginResponse resp;
        auto ctx = context(std::nullopt);
        auto status = stub_->Login(ctx.get(), req, &resp);
        INFO("login " << name << ": " << status.error_message());
        REQUIRE(status.ok());
        return resp.session_token();
    }

    // A well-behaved client still gets full service: hello, a fresh account, login, send to
    // itself, fetch, ack.
    void check_serves() {
        INFO("a well-behaved client after the hostile input");
        {
            v1::HelloRequest req;
            req.set_version(1);
            v1::HelloResponse resp;
            auto ctx = context(std::nullopt);
            REQUIRE(stub_->Hello(ctx.get(), req, &resp).ok());
            CHECK(resp.version() == 1);
        }
        const std::string name = "fresh" + std::to_string(++fresh_);
        create(name, "pw");
        const std::string token = login(name, "pw");
        v1::SendRequest send;
        send.set_to(name);
        send.set_body("still serving");
        v1::SendResponse sent;
        auto send_ctx = context("Bearer " + token);
        REQUIRE(stub_->Send(send_ctx.get(), send, &sent).ok());
        v1::FetchResponse fetched;
        auto fetch_ctx = context("Bearer " + token);
        REQUIRE(stub_->Fetch(fetch_ctx.get(), v1::FetchRequest{}, &fetched).ok());
        REQUIRE(fetched.messages_size() == 1);
        CHECK(fetched.messages(0).id() == sent.message().id());
        v1::AckRequest ack;
        ack.add_ids(sent.message().id());
        v1::AckResponse acked;
        auto ack_ctx = context("Bearer " + token);
        REQUIRE(stub_->Ack(ack_ctx.get(), ack, &acked).ok());
        CHECK(acked.acked() == 1);
    }

   private:
    static ServiceConfig config(const Limits& limits) {
        ServiceConfig c;
        c.limits = limits;
        c.limits.rate_limit = 0;
        c.hash_threads = 1;
        c.pwhash_opslimit = 1;  // libsodium's cheapest Argon2id cost
        c.pwhash_memlimit = 8192;
        return c;
    }

    MemoryStore store_;
    ChatService service_;
    std::unique_ptr<ServerTransport> server_;
    std::shared_ptr<grpc::Channel> channel_;
    std::unique_ptr<v1::Chat::Stub> stub_;
    int fresh_ = 0;
};

// Every RPC that needs a session, called with `auth`.
struct SessionCall {
    const char* rpc;
    std::function<Outcome(GrpcServer&, const Authorization&)> call;
};

template <class Req, class Resp, class Method>
Outcome unary(GrpcServer& server, const Authorization& auth, Method method, const Req& req) {
    auto ctx = GrpcServer::context(auth);
    Resp resp;
    auto status = (server.stub().*method)(ctx.get(), req, &resp);
    return outcome_of(status, *ctx);
}

std::vector<SessionCall> session_calls() {
    using S = v1::Chat::Stub;
    return {
        {"Logout",
         [](GrpcServer& s, const Authorization& a) {
             return unary<v1::LogoutRequest, v1::LogoutResponse>(s, a, &S::Logout, {});
         }},
        {"Send",
         [](GrpcServer& s, const Authorization& a) {
             v1::SendRequest req;
             req.set_to("bob");
             req.set_body("from nowhere");
             return unary<v1::SendRequest, v1::SendResponse>(s, a, &S::Send, req);
         }},
        {"Fetch",
         [](GrpcServer& s, const Authorization& a) {
             return unary<v1::FetchRequest, v1::FetchResponse>(s, a, &S::Fetch, {});
         }},
        {"Ack",
         [](GrpcServer& s, const Authorization& a) {
             v1::AckRequest req;
             req.set_up_to(std::numeric_limits<std::uint64_t>::max());
             return unary<v1::AckRequest, v1::AckResponse>(s, a, &S::Ack, req);
         }},
        {"ListAccounts",
         [](GrpcServer& s, const Authorization& a) {
             return unary<v1::ListAccountsRequest, v1::ListAccountsResponse>(s, a, &S::ListAccounts,
                                                                             {});
         }},
        {"DeleteAccount",
         [](GrpcServer& s, const Authorization& a) {
             v1::DeleteAccountRequest req;
             req.set_password("pw-bob");
             return unary<v1::DeleteAccountRequest, v1::DeleteAccountResponse>(
                 s, a, &S::DeleteAccount, req);
         }},
        {"Subscribe",
         [](GrpcServer& s, const Authorization& a) {
             auto ctx = GrpcServer::context(a);
             auto reader = s.stub().Subscribe(ctx.get(), v1::SubscribeRequest{});
             v1::Event event;
             while (reader->Read(&event)) {
             }
             auto status = reader->Finish();
             return outcome_of(status, *ctx);
         }},
    };
}

void check_not_logged_in(GrpcServer& server, const char* what, const Authorization& auth) {
    for (const auto& call : session_calls()) {
        INFO("token: " << what << ", rpc: " << call.rpc);
        const Outcome out = call.call(server, auth);
        INFO("status message: " << out.message);
        CHECK(out.status == grpc::StatusCode::UNAUTHENTICATED);
        CHECK(out.code == std::optional<std::string>("not_logged_in"));
        CHECK(out.message.rfind("not_logged_in: ", 0) == 0);
    }
}

// Bob's queue holds exactly `count` messages (nothing a bad call did reached it).
void check_bob_untouched(GrpcServer& server, int count) {
    const std::string token = server.login("bob", "pw-bob");
    v1::FetchResponse fetched;
    auto ctx = GrpcServer::context("Bearer " + token);
    REQUIRE(server.stub().Fetch(ctx.get(), v1::FetchRequest{}, &fetched).ok());
    CHECK(fetched.messages_size() == count);
}

TEST_CASE("grpc bad input: missing forged and revoked tokens are not_logged_in",
          "[hardening][grpc][bad_input]") {
    GrpcServer server;
    server.create("alice", "pw-alice");
    server.create("bob", "pw-bob");
    const std::string real = server.login("alice", "pw-alice");
    {
        // One message for Bob, so a forged Ack or Fetch would have something to touch.
        v1::SendRequest req;
        req.set_to("bob");
        req.set_body("for bob");
        v1::SendResponse resp;
        auto ctx = GrpcServer::context("Bearer " + real);
        REQUIRE(server.stub().Send(ctx.get(), req, &resp).ok());
    }

    struct Row {
        const char* name;
        Authorization auth;
    };
    const std::vector<Row> rows = {
        {"no authorization metadata", std::nullopt},
        {"empty value", std::string()},
        {"Bearer without a token", std::string("Bearer")},
        {"Bearer and a space", std::string("Bearer ")},
        {"made-up base64 token",
         "Bearer " + std::string("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZn")},
        {"real token with one more character", "Bearer " + real + "x"},
        {"real token cut short", "Bearer " + real.substr(0, real.size() - 1)},
        {"made-up token of the real length", "Bearer " + std::string(real.size(), 'A')},
        {"real token without the scheme", real},
        {"real token with another scheme", "Basic " + real},
        {"token of 4 KiB", "Bearer " + std::string(4096, 'z')},
    };
    for (const auto& row : rows) check_not_logged_in(server, row.name, row.auth);
    check_bob_untouched(server, 1);

    // Revoked: by logout, and by deleting the account.
    const std::string logged_out = server.login("alice", "pw-alice");
    {
        auto ctx = GrpcServer::context("Bearer " + logged_out);
        v1::LogoutResponse resp;
        REQUIRE(server.stub().Logout(ctx.get(), v1::LogoutRequest{}, &resp).ok());
    }
    check_not_logged_in(server, "revoked by logout", "Bearer " + logged_out);
    server.create("carol", "pw-carol");
    const std::string deleted = server.login("carol", "pw-carol");
    {
        auto ctx = GrpcServer::context("Bearer " + deleted);
        v1::DeleteAccountRequest req;
        req.set_password("pw-carol");
        v1::DeleteAccountResponse resp;
        REQUIRE(server.stub().DeleteAccount(ctx.get(), req, &resp).ok());
    }
    check_not_logged_in(server, "revoked by deleting the account", "Bearer " + deleted);

    // The real token still works, and Bob's message was never touched.
    auto ctx = GrpcServer::context("Bearer " + real);
    v1::FetchResponse resp;
    CHECK(server.stub().Fetch(ctx.get(), v1::FetchRequest{}, &resp).ok());
    check_bob_untouched(server, 1);
    server.check_serves();
}

TEST_CASE("grpc bad input: an expired token is not_logged_in", "[hardening][grpc][bad_input]") {
    GrpcServer server({}, {{std::string(grpc_transport::kSessionIdleMs), "300"}});
    server.create("alice", "pw-alice");
    server.create("bob", "pw-bob");
    const std::string token = server.login("alice", "pw-alice");
    REQUIRE(server.service().session_count() == 1);
    // Expiry announces nothing; watch the core without touching the session (bounded).
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (server.service().session_count() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    REQUIRE(server.service().session_count() == 0);
    check_not_logged_in(server, "expired", "Bearer " + token);
    check_bob_untouched(server, 0);
    server.check_serves();
}

TEST_CASE("grpc bad input: messages over the receive limit are RESOURCE_EXHAUSTED",
          "[hardening][grpc][bad_input]") {
    Limits limits;
    limits.max_frame = 4096;
    GrpcServer server(limits);
    server.create("alice", "pw-alice");
    server.create("bob", "pw-bob");
    const std::string token = server.login("alice", "pw-alice");
    const Authorization auth = "Bearer " + token;
    const std::string one_mib(1024 * 1024, 'u');
    using S = v1::Chat::Stub;

    struct Row {
        const char* name;
        std::function<Outcome()> call;
    };
    const std::vector<Row> rows = {
        {"send with a 5000-byte body",
         [&] {
             v1::SendRequest req;
             req.set_to("bob");
             req.set_body(std::string(5000, 'b'));
             return unary<v1::SendRequest, v1::SendResponse>(server, auth, &S::Send, req);
         }},
        {"create with a 1 MiB username",
         [&] {
             v1::CreateAccountRequest req;
             req.set_username(one_mib);
             req.set_password("p");
             return unary<v1::CreateAccountRequest, v1::CreateAccountResponse>(
                 server, std::nullopt, &S::CreateAccount, req);
         }},
        {"login with a 1 MiB password",
         [&] {
             v1::LoginRequest req;
             req.set_username("alice");
             req.set_password(one_mib);
             return unary<v1::LoginRequest, v1::LoginResponse>(server, std::nullopt, &S::Login,
                                                               req);
         }},
        {"ack with 2000 ids",
         [&] {
             v1::AckRequest req;
             for (int i = 0; i < 2000; ++i) req.add_ids(std::numeric_limits<std::uint64_t>::max());
             return unary<v1::AckRequest, v1::AckResponse>(server, auth, &S::Ack, req);
         }},
        {"list with a 1 MiB pattern",
         [&] {
             v1::ListAccountsRequest req;
             req.set_pattern(one_mib);
             return unary<v1::ListAccountsRequest, v1::ListAccountsResponse>(server, auth,
                                                                             &S::ListAccounts, req);
         }},
        {"hello without a session but 1 MiB of unknown fields",
         [&] {
             v1::HelloRequest req;
             req.set_version(1);
             // Field 15, length-delimited: unknown to HelloRequest, still counted by gRPC.
             req.GetReflection()->MutableUnknownFields(&req)->AddLengthDelimited(15, one_mib);
             return unary<v1::HelloRequest, v1::HelloResponse>(server, std::nullopt, &S::Hello,
                                                               req);
         }},
    };
    for (const auto& row : rows) {
        INFO("row: " << row.name);
        const Outcome out = row.call();
        INFO("status message: " << out.message);
        CHECK(out.status == grpc::StatusCode::RESOURCE_EXHAUSTED);
        server.check_serves();
    }
    check_bob_untouched(server, 0);  // the oversized send stored nothing
}

TEST_CASE("grpc bad input: huge numbers and broken text get their domain answers",
          "[hardening][grpc][bad_input]") {
    GrpcServer server;
    server.create("alice", "pw-alice");
    server.create("bob", "pw-bob");
    const Authorization auth = "Bearer " + server.login("alice", "pw-alice");
    const auto kMax = std::numeric_limits<std::uint64_t>::max();
    using S = v1::Chat::Stub;

    struct Row {
        const char* name;
        std::function<Outcome()> call;
        grpc::StatusCode status;
        std::optional<std::string> code;  // the trailer; nullopt for a success
    };
    const std::vector<Row> rows = {
        {"fetch max 2^64-1 is clamped",
         [&] {
             v1::FetchRequest req;
             req.set_max(kMax);
             return unary<v1::FetchRequest, v1::FetchResponse>(server, auth, &S::Fetch, req);
         },
         grpc::StatusCode::OK, std::nullopt},
        {"list limit 2^64-1 is clamped",
         [&] {
             v1::ListAccountsRequest req;
             req.set_limit(kMax);
             return unary<v1::ListAccountsRequest, v1::ListAccountsResponse>(server, auth,
                                                                             &S::ListAccounts, req);
         },
         grpc::StatusCode::OK, std::nullopt},
        {"ack ids and up_to 2^64-1",
         [&] {
             v1::AckRequest req;
             req.add_ids(kMax);
             req.set_up_to(kMax);
             return unary<v1::AckRequest, v1::AckResponse>(server, auth, &S::Ack, req);
         },
         grpc::StatusCode::OK, std::nullopt},
        {"hello version -1",
         [&] {
             v1::HelloRequest req;
             req.set_version(-1);
             return unary<v1::HelloRequest, v1::HelloResponse>(server, std::nullopt, &S::Hello,
                                                               req);
         },
         grpc::StatusCode::FAILED_PRECONDITION, "unsupported_version"},
        {"hello version 2^31-1",
         [&] {
             v1::HelloRequest req;
             req.set_version(std::numeric_limits<std::int32_t>::max());
             return unary<v1::HelloRequest, v1::HelloResponse>(server, std::nullopt, &S::Hello,
                                                               req);
         },
         grpc::StatusCode::FAILED_PRECONDITION, "unsupported_version"},
        {"username with a NUL byte",
         [&] {
             v1::CreateAccountRequest req;
             req.set_username(std::string("a\0b", 3));
             req.set_password("p");
             return unary<v1::CreateAccountRequest, v1::CreateAccountResponse>(
                 server, std::nullopt, &S::CreateAccount, req);
         },
         grpc::StatusCode::INVALID_ARGUMENT, "invalid_username"},
        {"username of 33 bytes",
         [&] {
             v1::CreateAccountRequest req;
             req.set_username(std::string(33, 'n'));
             req.set_password("p");
             return unary<v1::CreateAccountRequest, v1::CreateAccountResponse>(
                 server, std::nullopt, &S::CreateAccount, req);
         },
         grpc::StatusCode::INVALID_ARGUMENT, "invalid_username"},
        {"body of 16385 bytes",
         [&] {
             v1::SendRequest req;
             req.set_to("bob");
             req.set_body(std::string(16385, 'b'));
             return unary<v1::SendRequest, v1::SendResponse>(server, auth, &S::Send, req);
         },
         grpc::StatusCode::INVALID_ARGUMENT, "invalid_message"},
        {"empty body",
         [&] {
             v1::SendRequest req;
             req.set_to("bob");
             return unary<v1::SendRequest, v1::SendResponse>(server, auth, &S::Send, req);
         },
         grpc::StatusCode::INVALID_ARGUMENT, "invalid_message"},
        {"recipient with a NUL byte",
         [&] {
             v1::SendRequest req;
             req.set_to(std::string("bob\0", 4));
             req.set_body("x");
             return unary<v1::SendRequest, v1::SendResponse>(server, auth, &S::Send, req);
         },
         grpc::StatusCode::NOT_FOUND, "no_such_user"},
        {"login with an empty password",
         [&] {
             v1::LoginRequest req;
             req.set_username("bob");
             return unary<v1::LoginRequest, v1::LoginResponse>(server, std::nullopt, &S::Login,
                                                               req);
         },
         grpc::StatusCode::UNAUTHENTICATED, "bad_credentials"},
        {"delete with another user's password",
         [&] {
             v1::DeleteAccountRequest req;
             req.set_password("pw-bob");
             return unary<v1::DeleteAccountRequest, v1::DeleteAccountResponse>(
                 server, auth, &S::DeleteAccount, req);
         },
         grpc::StatusCode::UNAUTHENTICATED, "bad_credentials"},
    };
    for (const auto& row : rows) {
        INFO("row: " << row.name);
        const Outcome out = row.call();
        INFO("status message: " << out.message);
        CHECK(out.status == row.status);
        CHECK(out.code == row.code);
        server.check_serves();
    }
    check_bob_untouched(server, 0);
}

// docs/protocol.md: an ack must name something. up_to 0 is the same as not given (message ids
// start at 1), so an Ack with no ids and up_to 0 is bad_request, as on the JSON transport.
TEST_CASE("grpc bad input: an Ack with no ids and no up_to is bad_request",
          "[hardening][grpc][bad_input]") {
    GrpcServer server;
    server.create("alice", "pw-alice");
    server.create("bob", "pw-bob");
    const Authorization alice = "Bearer " + server.login("alice", "pw-alice");
    v1::SendRequest send;
    send.set_to("bob");
    send.set_body("keep me");
    using S = v1::Chat::Stub;
    REQUIRE(unary<v1::SendRequest, v1::SendResponse>(server, alice, &S::Send, send).status ==
            grpc::StatusCode::OK);
    const Authorization bob = "Bearer " + server.login("bob", "pw-bob");

    v1::AckRequest nothing;
    v1::AckRequest up_to_zero;
    up_to_zero.set_up_to(0);
    for (const auto* req : {&nothing, &up_to_zero}) {
        const Outcome out = unary<v1::AckRequest, v1::AckResponse>(server, bob, &S::Ack, *req);
        INFO("status message: " << out.message);
        CHECK(out.status == grpc::StatusCode::INVALID_ARGUMENT);
        CHECK(out.code == std::optional<std::string>("bad_request"));
        CHECK(out.message.rfind("bad_request: ", 0) == 0);
    }
    check_bob_untouched(server, 1);  // the refused acks removed nothing

    // Without a session the answer stays not_logged_in, like every call that needs one.
    const Outcome anonymous =
        unary<v1::AckRequest, v1::AckResponse>(server, std::nullopt, &S::Ack, nothing);
    CHECK(anonymous.status == grpc::StatusCode::UNAUTHENTICATED);
    CHECK(anonymous.code == std::optional<std::string>("not_logged_in"));
    server.check_serves();
}

// proto3 `string` fields must hold UTF-8, so a foreign client that sends broken text never
// reaches our code: protobuf refuses to parse the request. gRPC's callback API then answers
// UNIMPLEMENTED with an empty message, which tells a client the method does not exist (the
// shipped client's codec reads it as unknown_op); docs/protocol.md promises INTERNAL, and
// docs/protocol.md's bad_request would be INVALID_ARGUMENT. Either of those is accepted here.
// gRPC refuses such a request before our code runs (docs/protocol.md, gRPC errors): what we
// promise is a refusal without our error trailer, and a server that keeps serving.
TEST_CASE("grpc bad input: a string field that is not UTF-8 is refused by gRPC itself",
          "[hardening][grpc][bad_input]") {
    GrpcServer server;
    server.create("alice", "pw-alice");
    const Authorization auth = "Bearer " + server.login("alice", "pw-alice");
    using S = v1::Chat::Stub;

    struct Row {
        const char* name;
        std::function<Outcome()> call;
    };
    const std::vector<Row> rows = {
        {"username",
         [&] {
             v1::CreateAccountRequest req;
             req.set_username(
                 "a\xFF"
                 "b");
             req.set_password("p");
             return unary<v1::CreateAccountRequest, v1::CreateAccountResponse>(
                 server, std::nullopt, &S::CreateAccount, req);
         }},
        {"body",
         [&] {
             v1::SendRequest req;
             req.set_to("alice");
             req.set_body("ok \xE2\x82 no");
             return unary<v1::SendRequest, v1::SendResponse>(server, auth, &S::Send, req);
         }},
        {"list pattern",
         [&] {
             v1::ListAccountsRequest req;
             req.set_pattern("\xFF*");
             return unary<v1::ListAccountsRequest, v1::ListAccountsResponse>(server, auth,
                                                                             &S::ListAccounts, req);
         }},
    };
    for (const auto& row : rows) {
        INFO("field that is not UTF-8: " << row.name);
        const Outcome out = row.call();
        INFO("status " << static_cast<int>(out.status) << ", message '" << out.message << "'");
        CHECK(out.status != grpc::StatusCode::OK);
        CHECK_FALSE(out.code.has_value());  // nothing of ours ran: no chat-error-code
        server.check_serves();
    }
}

// This process's resident memory in KiB (the server under test runs in it).
std::size_t own_rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
    }
    return 0;
}

TEST_CASE("grpc bad input: Fetch replies nobody reads stay bounded and others are served",
          "[hardening][grpc][memory]") {
    GrpcServer server;
    server.create("hoard", "pw");
    server.create("alice", "pw");
    server.create("bob", "pw");
    const std::string alice = "Bearer " + server.login("alice", "pw");
    const std::string hoard = "Bearer " + server.login("hoard", "pw");
    v1::SendRequest send;
    send.set_to("hoard");
    send.set_body(std::string(16000, 'q'));
    for (int i = 0; i < 1000; ++i) {  // 16 MB queued: one unbounded page of it
        v1::SendResponse resp;
        auto ctx = GrpcServer::context(alice);
        REQUIRE(server.stub().Send(ctx.get(), send, &resp).ok());
    }
    const std::size_t start_kib = own_rss_kib();

    // Its own connection with a tiny flow-control window that is never reopened: the calls are
    // started, their replies never read.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(-1);
    auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(server.port()),
                                             grpc::InsecureChannelCredentials(), args);
    auto stub = v1::Chat::NewStub(channel);
    grpc::CompletionQueue cq;
    constexpr int kCalls = 60;
    std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
    std::vector<std::unique_ptr<grpc::ClientAsyncResponseReader<v1::FetchResponse>>> calls;
    v1::FetchRequest fetch;
    fetch.set_max(1000);
    for (int i = 0; i < kCalls; ++i) {
        contexts.push_back(GrpcServer::context(hoard));
        calls.push_back(stub->PrepareAsyncFetch(contexts.back().get(), fetch, &cq));
        calls.back()->StartCall();
    }
    // A normal user keeps chatting meanwhile, each request answered within a second.
    const std::string bob = "Bearer " + server.login("bob", "pw");
    v1::SendRequest hi;
    hi.set_to("bob");
    hi.set_body("hi");
    for (int i = 0; i < 20; ++i) {
        const auto asked = std::chrono::steady_clock::now();
        v1::SendResponse resp;
        auto ctx = GrpcServer::context(bob);
        REQUIRE(server.stub().Send(ctx.get(), hi, &resp).ok());
        CHECK(std::chrono::steady_clock::now() - asked < 1s);
    }
    const std::size_t peak_kib = own_rss_kib();
    INFO("RSS " << start_kib << " KiB before the unread fetches, " << peak_kib << " KiB with them");
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    // Unbounded, the replies alone would be 60 x 16 MB.
    CHECK(peak_kib < start_kib + 64 * 1024);
#endif
    // Now read them: at most 4 were taken on, the rest refused as too many in flight.
    std::vector<v1::FetchResponse> replies(kCalls);
    std::vector<grpc::Status> statuses(kCalls);
    for (int i = 0; i < kCalls; ++i) {
        calls[static_cast<std::size_t>(i)]->Finish(
            &replies[static_cast<std::size_t>(i)], &statuses[static_cast<std::size_t>(i)],
            reinterpret_cast<void*>(static_cast<std::intptr_t>(i)));
    }
    for (int i = 0; i < kCalls; ++i) {
        void* tag = nullptr;
        bool ok = false;
        REQUIRE(cq.Next(&tag, &ok));
    }
    int served = 0;
    for (int i = 0; i < kCalls; ++i) {
        const auto& status = statuses[static_cast<std::size_t>(i)];
        if (status.ok()) {
            ++served;
            CHECK(replies[static_cast<std::size_t>(i)].messages_size() < 1000);  // bytes-capped
        } else {
            CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
        }
    }
    CHECK(served >= 1);
    CHECK(served <= 4);
    cq.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
    }
}

}  // namespace
}  // namespace chat::hardening
