// Tests of the gRPC-specific wire behaviour, through a raw generated stub against the server on
// 127.0.0.1 with an ephemeral port: token auth in metadata, error status and trailers, the
// message size limit, Subscribe's initial metadata and ending, idle expiry, reflection, and a
// shutdown with open streams. The contract shared with JSON is the conformance suite's job.
#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "chat/chat_service.hpp"
#include "chat/grpc/grpc_transport.hpp"
#include "chat/memory_store.hpp"
#include "chat/v1/chat.grpc.pb.h"
#include "codec.hpp"

namespace chat::grpc_transport {
namespace {

using namespace std::chrono_literals;
constexpr auto kTimeout = 10s;

ServiceConfig test_config(const Limits& limits, bool rate_limited) {
    ServiceConfig config;
    config.limits = limits;
    if (!rate_limited) config.limits.rate_limit = 0;
    config.hash_threads = 1;
    config.pwhash_opslimit = 1;  // libsodium's minimum cost: tests need no real hashing
    config.pwhash_memlimit = 8192;
    return config;
}

std::optional<std::string> metadata(const std::multimap<grpc::string_ref, grpc::string_ref>& md,
                                    std::string_view key) {
    auto it = md.find(grpc::string_ref(key.data(), key.size()));
    if (it == md.end()) return std::nullopt;
    return std::string(it->second.data(), it->second.size());
}

// A deadline-bound client context, with a bearer token when one is given.
std::unique_ptr<grpc::ClientContext> context(const std::string& token = {}) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + kTimeout);
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    return ctx;
}

// A server on an in-process core and a raw stub talking to it.
class Fixture {
   public:
    // Without `rate_limited`, the request-rate limit is off.
    // `settings`: the transport's own (ServerConfig::settings).
    explicit Fixture(Limits limits = {}, bool rate_limited = false, TransportSettings settings = {})
        : service_(store_, test_config(limits, rate_limited)) {
        server_ = make_server(
            service_,
            ServerConfig{.listen = "127.0.0.1", .port = 0, .settings = std::move(settings)});
        server_->start();
        channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->local_port()),
                                       grpc::InsecureChannelCredentials());
        stub_ = v1::Chat::NewStub(channel_);
    }
    ~Fixture() { server_->stop(); }

    v1::Chat::Stub& stub() { return *stub_; }
    const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
    ChatService& service() { return service_; }
    ServerTransport& server() { return *server_; }

    void create(const std::string& name) {
        v1::CreateAccountRequest req;
        req.set_username(name);
        req.set_password("pw-" + name);
        v1::CreateAccountResponse resp;
        auto ctx = context();
        REQUIRE(stub_->CreateAccount(ctx.get(), req, &resp).ok());
    }

    // Logs `name` in; returns the session token.
    std::string login(const std::string& name) {
        v1::LoginRequest req;
        req.set_username(name);
        req.set_password("pw-" + name);
        v1::LoginResponse resp;
        auto ctx = context();
        const auto status = stub_->Login(ctx.get(), req, &resp);
        REQUIRE(status.ok());
        CHECK(resp.username() == name);
        return resp.session_token();
    }

    grpc::Status fetch(const std::string& token,
                       std::unique_ptr<grpc::ClientContext>* out = nullptr) {
        auto ctx = context(token);
        v1::FetchRequest req;
        v1::FetchResponse resp;
        auto status = stub_->Fetch(ctx.get(), req, &resp);
        if (out) *out = std::move(ctx);
        return status;
    }

    grpc::Status send(const std::string& token, const std::string& to, const std::string& body,
                      v1::SendResponse* resp = nullptr) {
        auto ctx = context(token);
        v1::SendRequest req;
        req.set_to(to);
        req.set_body(body);
        v1::SendResponse local;
        return stub_->Send(ctx.get(), req, resp ? resp : &local);
    }

   private:
    MemoryStore store_;
    ChatService service_;
    std::unique_ptr<ServerTransport> server_;
    std::shared_ptr<grpc::Channel> channel_;
    std::unique_ptr<v1::Chat::Stub> stub_;
};

// Checks a failed call carries `code` as status, message prefix and trailer.
void check_error(const grpc::Status& status, const grpc::ClientContext& ctx, Errc code) {
    INFO("status message: " << status.error_message());
    CHECK(status.error_code() == status_code(code));
    const std::string prefix = std::string(to_string(code)) + ": ";
    CHECK(status.error_message().rfind(prefix, 0) == 0);
    CHECK(metadata(ctx.GetServerTrailingMetadata(), kErrorCodeKey) ==
          std::optional<std::string>(to_string(code)));
}

TEST_CASE("grpc: a call without a token is not_logged_in", "[grpc][auth]") {
    Fixture f;
    std::unique_ptr<grpc::ClientContext> ctx;
    const auto status = f.fetch({}, &ctx);
    check_error(status, *ctx, Errc::not_logged_in);
}

TEST_CASE("grpc: a forged or malformed token is not_logged_in", "[grpc][auth]") {
    Fixture f;
    f.create("alice");
    const std::string real = f.login("alice");
    for (const std::string& header :
         {std::string("Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "Bearer " + real + "x",
          "Basic " + real, real, std::string("Bearer")}) {
        INFO("authorization: " << header);
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + kTimeout);
        ctx.AddMetadata("authorization", header);
        v1::ListAccountsResponse resp;
        const auto status = f.stub().ListAccounts(&ctx, v1::ListAccountsRequest{}, &resp);
        check_error(status, ctx, Errc::not_logged_in);
    }
    CHECK(f.fetch(real).ok());
}

TEST_CASE("grpc: domain errors carry status message prefix and trailer", "[grpc][errors]") {
    Fixture f;
    f.create("alice");
    const std::string token = f.login("alice");
    {
        auto ctx = context(token);
        v1::SendRequest req;
        req.set_to("nobody");
        req.set_body("hi");
        v1::SendResponse resp;
        const auto status = f.stub().Send(ctx.get(), req, &resp);
        check_error(status, *ctx, Errc::no_such_user);
    }
    {
        auto ctx = context();
        v1::CreateAccountRequest req;
        req.set_username("ALICE");
        req.set_password("x");
        v1::CreateAccountResponse resp;
        const auto status = f.stub().CreateAccount(ctx.get(), req, &resp);
        check_error(status, *ctx, Errc::user_exists);
    }
    {
        auto ctx = context();
        v1::LoginRequest req;
        req.set_username("alice");
        req.set_password("wrong");
        v1::LoginResponse resp;
        const auto status = f.stub().Login(ctx.get(), req, &resp);
        check_error(status, *ctx, Errc::bad_credentials);
    }
    {
        auto ctx = context();
        v1::HelloRequest req;
        req.set_version(2);
        v1::HelloResponse resp;
        const auto status = f.stub().Hello(ctx.get(), req, &resp);
        check_error(status, *ctx, Errc::unsupported_version);
    }
}

TEST_CASE("grpc: login ignores a token and makes a new session each time", "[grpc][auth]") {
    Fixture f;
    f.create("alice");
    const std::string first = f.login("alice");
    auto ctx = context("garbage-token");
    v1::LoginRequest req;
    req.set_username("Alice");
    req.set_password("pw-alice");
    v1::LoginResponse resp;
    REQUIRE(f.stub().Login(ctx.get(), req, &resp).ok());
    CHECK(resp.username() == "alice");
    CHECK(resp.session_token() != first);
    CHECK(resp.session_token().size() == 43);
    CHECK(f.service().session_count() == 2);
    CHECK(f.fetch(first).ok());
    CHECK(f.fetch(resp.session_token()).ok());
}

TEST_CASE("grpc: logout revokes the token", "[grpc][auth]") {
    Fixture f;
    f.create("alice");
    const std::string token = f.login("alice");
    const std::string other = f.login("alice");
    {
        auto ctx = context(token);
        v1::LogoutResponse resp;
        REQUIRE(f.stub().Logout(ctx.get(), v1::LogoutRequest{}, &resp).ok());
    }
    std::unique_ptr<grpc::ClientContext> ctx;
    {
        const auto status = f.fetch(token, &ctx);
        check_error(status, *ctx, Errc::not_logged_in);
    }
    {
        auto again = context(token);
        v1::LogoutResponse resp;
        check_error(f.stub().Logout(again.get(), v1::LogoutRequest{}, &resp), *again,
                    Errc::not_logged_in);
    }
    CHECK(f.fetch(other).ok());  // another session of the same user is untouched
}

TEST_CASE("grpc: delete_account revokes the token", "[grpc][auth]") {
    Fixture f;
    f.create("alice");
    const std::string token = f.login("alice");
    const std::string other = f.login("alice");
    {
        auto ctx = context(token);
        v1::DeleteAccountRequest req;
        req.set_password("pw-alice");
        v1::DeleteAccountResponse resp;
        REQUIRE(f.stub().DeleteAccount(ctx.get(), req, &resp).ok());
    }
    std::unique_ptr<grpc::ClientContext> ctx;
    {
        const auto status = f.fetch(token, &ctx);
        check_error(status, *ctx, Errc::not_logged_in);
    }
    {
        const auto status = f.fetch(other, &ctx);
        check_error(status, *ctx, Errc::not_logged_in);
    }
}

TEST_CASE("grpc: a request over max_frame is refused by gRPC and nothing is stored",
          "[grpc][limits]") {
    Limits limits;
    limits.max_frame = 4096;
    Fixture f(limits);
    f.create("alice");
    f.create("bob");
    const std::string token = f.login("alice");
    auto ctx = context(token);
    v1::SendRequest req;
    req.set_to("bob");
    req.set_body(std::string(5000, 'x'));
    v1::SendResponse resp;
    const auto status = f.stub().Send(ctx.get(), req, &resp);
    CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK(to_error(status, std::nullopt).code == Errc::frame_too_large);
    // Raised before our code runs: no trailer of ours.
    CHECK_FALSE(metadata(ctx->GetServerTrailingMetadata(), kErrorCodeKey).has_value());
    // Within the limit it works, and the first message was not stored.
    v1::SendResponse ok;
    REQUIRE(f.send(token, "bob", std::string(1000, 'y'), &ok).ok());
    const std::string bob = f.login("bob");
    auto fetch_ctx = context(bob);
    v1::FetchResponse fetched;
    REQUIRE(f.stub().Fetch(fetch_ctx.get(), v1::FetchRequest{}, &fetched).ok());
    REQUIRE(fetched.messages_size() == 1);
    CHECK(fetched.messages(0).id() == ok.message().id());
}

TEST_CASE("grpc: subscribe sends initial metadata then pushes and ends OK on logout",
          "[grpc][subscribe]") {
    Fixture f;
    f.create("alice");
    f.create("bob");
    const std::string alice = f.login("alice");
    const std::string bob = f.login("bob");
    auto ctx = context(bob);
    auto reader = f.stub().Subscribe(ctx.get(), v1::SubscribeRequest{});
    reader->WaitForInitialMetadata();
    CHECK(metadata(ctx->GetServerInitialMetadata(), kSubscribedKey) ==
          std::optional<std::string>("1"));

    v1::SendResponse sent;
    REQUIRE(f.send(alice, "bob", "live", &sent).ok());
    v1::Event event;
    REQUIRE(reader->Read(&event));
    REQUIRE(event.has_message());
    CHECK(event.message().id() == sent.message().id());
    CHECK(event.message().from() == "alice");
    CHECK(event.message().to() == "bob");
    CHECK(event.message().body() == "live");
    CHECK(event.message().sent_at() == sent.message().sent_at());

    {
        auto out = context(bob);
        v1::LogoutResponse resp;
        REQUIRE(f.stub().Logout(out.get(), v1::LogoutRequest{}, &resp).ok());
    }
    CHECK_FALSE(reader->Read(&event));
    CHECK(reader->Finish().ok());
}

TEST_CASE("grpc: subscribe without a valid token is not_logged_in", "[grpc][subscribe]") {
    Fixture f;
    for (const std::string& token : {std::string(), std::string("forged")}) {
        auto ctx = context(token);
        auto reader = f.stub().Subscribe(ctx.get(), v1::SubscribeRequest{});
        v1::Event event;
        CHECK_FALSE(reader->Read(&event));
        const auto status = reader->Finish();
        check_error(status, *ctx, Errc::not_logged_in);
        CHECK_FALSE(metadata(ctx->GetServerInitialMetadata(), kSubscribedKey).has_value());
    }
}

TEST_CASE("grpc: a session holds at most 8 streams, the 9th is rate_limited, not subscribed",
          "[grpc][subscribe][limits]") {
    Fixture f;
    f.create("bob");
    const std::string bob = f.login("bob");
    std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
    std::vector<std::unique_ptr<grpc::ClientReader<v1::Event>>> readers;
    for (int i = 0; i < 8; ++i) {
        contexts.push_back(context(bob));
        readers.push_back(f.stub().Subscribe(contexts.back().get(), v1::SubscribeRequest{}));
        readers.back()->WaitForInitialMetadata();
        CHECK(metadata(contexts.back()->GetServerInitialMetadata(), kSubscribedKey) ==
              std::optional<std::string>("1"));
    }
    {
        auto ctx = context(bob);
        auto reader = f.stub().Subscribe(ctx.get(), v1::SubscribeRequest{});
        v1::Event event;
        CHECK_FALSE(reader->Read(&event));
        check_error(reader->Finish(), *ctx, Errc::rate_limited);
        CHECK_FALSE(metadata(ctx->GetServerInitialMetadata(), kSubscribedKey).has_value());
    }
    // A closed stream frees its place.
    contexts.front()->TryCancel();
    v1::Event event;
    CHECK_FALSE(readers.front()->Read(&event));
    CHECK(readers.front()->Finish().error_code() == grpc::StatusCode::CANCELLED);
    // The server notices the cancel asynchronously; a bounded retry awaits it.
    bool subscribed = false;
    for (int attempt = 0; attempt < 100 && !subscribed; ++attempt) {
        contexts.front() = context(bob);
        readers.front() = f.stub().Subscribe(contexts.front().get(), v1::SubscribeRequest{});
        readers.front()->WaitForInitialMetadata();
        subscribed =
            metadata(contexts.front()->GetServerInitialMetadata(), kSubscribedKey).has_value();
        if (!subscribed) {
            CHECK_FALSE(readers.front()->Read(&event));
            (void)readers.front()->Finish();
            std::this_thread::sleep_for(10ms);
        }
    }
    CHECK(subscribed);
    // Fetch replies that were written leave nothing in flight: many in a row all succeed, more
    // than the four a session may have in flight. The server counts a reply in flight until
    // gRPC reports it done, which can come after the client has it: a busy machine may refuse
    // the next call for a moment (rate_limited), so a bounded retry awaits that; a count that
    // leaked would refuse for good.
    for (int i = 0; i < 12; ++i) {
        grpc::Status status;
        for (int attempt = 0; attempt < 100; ++attempt) {
            std::unique_ptr<grpc::ClientContext> ctx;
            status = f.fetch(bob, &ctx);
            if (status.ok()) break;
            check_error(status, *ctx, Errc::rate_limited);
            std::this_thread::sleep_for(10ms);
        }
        CHECK(status.ok());
    }
    for (auto& ctx : contexts) ctx->TryCancel();
    for (auto& reader : readers) {
        while (reader->Read(&event)) {
        }
        (void)reader->Finish();
    }
}

TEST_CASE("grpc: calls without a session are rate limited per peer address",
          "[grpc][auth][limits]") {
    Limits limits;
    limits.rate_limit = 0.001;  // no refill within the test
    limits.rate_burst = 3;
    Fixture f(limits, true);
    for (int i = 0; i < 3; ++i) {
        auto ctx = context();
        v1::HelloRequest req;
        req.set_version(1);
        v1::HelloResponse resp;
        CHECK(f.stub().Hello(ctx.get(), req, &resp).ok());
    }
    {
        // The same bucket counts logins, from a new connection of the same address.
        auto channel =
            grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(f.server().local_port()),
                                      grpc::InsecureChannelCredentials(), grpc::ChannelArguments());
        auto stub = v1::Chat::NewStub(channel);
        auto ctx = context();
        v1::LoginRequest req;
        req.set_username("nobody");
        req.set_password("guess");
        v1::LoginResponse resp;
        const auto status = stub->Login(ctx.get(), req, &resp);
        check_error(status, *ctx, Errc::rate_limited);
        CHECK(status.error_message().find("this address") != std::string::npos);
    }
    {
        auto ctx = context("forged");
        v1::FetchRequest req;
        v1::FetchResponse resp;
        check_error(f.stub().Fetch(ctx.get(), req, &resp), *ctx, Errc::rate_limited);
    }
}

TEST_CASE("grpc: deleting the account writes LoggedOut then ends the stream OK",
          "[grpc][subscribe]") {
    Fixture f;
    f.create("bob");
    const std::string watcher = f.login("bob");
    const std::string deleter = f.login("bob");
    auto ctx = context(watcher);
    auto reader = f.stub().Subscribe(ctx.get(), v1::SubscribeRequest{});
    reader->WaitForInitialMetadata();
    {
        auto del = context(deleter);
        v1::DeleteAccountRequest req;
        req.set_password("pw-bob");
        v1::DeleteAccountResponse resp;
        REQUIRE(f.stub().DeleteAccount(del.get(), req, &resp).ok());
    }
    v1::Event event;
    REQUIRE(reader->Read(&event));
    REQUIRE(event.has_logged_out());
    CHECK(event.logged_out().reason() == "account_deleted");
    CHECK_FALSE(reader->Read(&event));
    CHECK(reader->Finish().ok());
}

TEST_CASE("grpc: idle sessions expire but a subscribed one stays", "[grpc][sessions]") {
    Fixture f({}, false, {{std::string(kSessionIdleMs), "300"}});
    f.create("alice");
    const std::string idle = f.login("alice");
    const std::string subscribed = f.login("alice");
    auto ctx = context(subscribed);
    auto reader = f.stub().Subscribe(ctx.get(), v1::SubscribeRequest{});
    reader->WaitForInitialMetadata();
    REQUIRE(f.service().session_count() == 2);
    // No event announces an expiry; watch the core (without touching either session).
    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (f.service().session_count() > 1 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
    }
    CHECK(f.service().session_count() == 1);
    std::unique_ptr<grpc::ClientContext> out;
    {
        const auto status = f.fetch(idle, &out);
        check_error(status, *out, Errc::not_logged_in);
    }
    CHECK(f.fetch(subscribed).ok());
    ctx->TryCancel();
    v1::Event event;
    CHECK_FALSE(reader->Read(&event));
    CHECK(reader->Finish().error_code() == grpc::StatusCode::CANCELLED);
}

TEST_CASE("grpc: stop ends open streams with server_busy and returns", "[grpc][lifecycle]") {
    Fixture f;
    f.create("bob");
    const std::string bob = f.login("bob");
    auto ctx = context(bob);
    auto reader = f.stub().Subscribe(ctx.get(), v1::SubscribeRequest{});
    reader->WaitForInitialMetadata();
    const auto start = std::chrono::steady_clock::now();
    f.server().stop();
    CHECK(std::chrono::steady_clock::now() - start < 4s);  // under the shutdown grace
    v1::Event event;
    CHECK_FALSE(reader->Read(&event));
    const auto status = reader->Finish();
    check_error(status, *ctx, Errc::server_busy);
    CHECK(f.service().session_count() == 0);  // stopping logs the sessions out
    f.server().stop();                        // idempotent
}

// grpc::Server::Shutdown also waits for open connections, and a client that does not close its
// own after the GOAWAY keeps it open until the shutdown grace ends: stop() must not take the
// old 5 s for it. The client here is a raw HTTP/2 connection that never reads.
TEST_CASE("grpc: stop returns soon while a client keeps an idle connection open",
          "[grpc][lifecycle]") {
    Fixture f;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(f.server().local_port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    // The HTTP/2 client preface and an empty SETTINGS frame: an open, idle connection.
    const std::string preface =
        std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string("\0\0\0\x04\0\0\0\0\0", 9);
    REQUIRE(::send(fd, preface.data(), preface.size(), 0) == static_cast<ssize_t>(preface.size()));
    std::this_thread::sleep_for(100ms);  // the server has taken the connection
    const auto start = std::chrono::steady_clock::now();
    f.server().stop();
    const auto took = std::chrono::steady_clock::now() - start;
    ::close(fd);
    CHECK(took < 3s);
}

TEST_CASE("grpc: server reflection lists the chat service", "[grpc][reflection]") {
    Fixture f;
    grpc::GenericStub generic(f.channel());
    grpc::CompletionQueue cq;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kTimeout);
    auto call = generic.PrepareCall(
        &ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
    REQUIRE(call);
    // Each step waits for its own completion; the tags count the steps.
    auto step = [&cq](std::intptr_t expected) {
        void* tag = nullptr;
        bool ok = false;
        REQUIRE(cq.Next(&tag, &ok));
        CHECK(reinterpret_cast<std::intptr_t>(tag) == expected);
        return ok;
    };
    call->StartCall(reinterpret_cast<void*>(1));
    REQUIRE(step(1));
    // ServerReflectionRequest { list_services = "" }: field 7, length-delimited, empty.
    const std::string request("\x3a\x00", 2);
    grpc::Slice slice(request);
    grpc::ByteBuffer out(&slice, 1);
    call->Write(out, reinterpret_cast<void*>(2));
    REQUIRE(step(2));
    call->WritesDone(reinterpret_cast<void*>(3));
    REQUIRE(step(3));
    grpc::ByteBuffer in;
    call->Read(&in, reinterpret_cast<void*>(4));
    REQUIRE(step(4));
    std::vector<grpc::Slice> slices;
    REQUIRE(in.Dump(&slices).ok());
    std::string reply;
    for (const auto& s : slices) reply.append(reinterpret_cast<const char*>(s.begin()), s.size());
    CHECK(reply.find("chat.v1.Chat") != std::string::npos);
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(5));
    step(5);
    CHECK(status.ok());
    cq.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
    }
}

TEST_CASE("grpc: the transport is in the registry under its name and port", "[grpc][registry]") {
    TransportRegistry registry;
    register_transport(registry);
    const TransportInfo* info = registry.find("grpc");
    REQUIRE(info != nullptr);
    CHECK(info->default_port == 7401);
    CHECK(info->make_server);
    CHECK(info->make_client);
}

TEST_CASE("grpc: the registry lists the transport's settings and the factories check them",
          "[grpc][registry][settings]") {
    TransportRegistry registry;
    register_transport(registry);
    const TransportInfo* info = registry.find("grpc");
    REQUIRE(info != nullptr);
    REQUIRE(info->server_settings.size() == 1);
    CHECK(info->server_settings[0].name == kSessionIdleMs);
    CHECK_FALSE(info->server_settings[0].help.empty());
    REQUIRE(info->client_settings.size() == 1);
    CHECK(info->client_settings[0].name == kMaxSendsInFlight);
    CHECK_FALSE(info->client_settings[0].help.empty());

    MemoryStore store;
    ChatService service(store, test_config({}, false));
    auto server_with = [&](std::string name, std::string value) {
        return make_server(service,
                           ServerConfig{.listen = "127.0.0.1",
                                        .port = 0,
                                        .settings = {{std::move(name), std::move(value)}}});
    };
    CHECK(server_with(std::string(kSessionIdleMs), "1000") != nullptr);
    CHECK_THROWS_AS(server_with("session_idle", "1000"), std::invalid_argument);
    CHECK_THROWS_AS(server_with(std::string(kMaxSendsInFlight), "4"), std::invalid_argument);
    for (const char* bad : {"", "0", "-5", "10s", "1e3", "99999999999999999999"}) {
        INFO("session_idle_ms = '" << bad << "'");
        CHECK_THROWS_AS(server_with(std::string(kSessionIdleMs), bad), std::invalid_argument);
    }

    auto client_with = [](std::string name, std::string value) {
        ClientConfig config;
        config.settings = {{std::move(name), std::move(value)}};
        return make_client(config);
    };
    CHECK(client_with(std::string(kMaxSendsInFlight), "0") != nullptr);  // counts as 1
    CHECK(client_with(std::string(kMaxSendsInFlight), "64") != nullptr);
    CHECK_THROWS_AS(client_with(std::string(kSessionIdleMs), "1000"), std::invalid_argument);
    CHECK_THROWS_AS(client_with(std::string(kMaxSendsInFlight), "many"), std::invalid_argument);
}

}  // namespace
}  // namespace chat::grpc_transport
