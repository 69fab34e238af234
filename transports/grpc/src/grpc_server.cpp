// The server half of the gRPC transport: chat.v1.Chat over the callback API (ChatRpc), started
// and stopped here, with the thread that ends idle sessions.
//
// Threads: RPC handlers and reactions run on gRPC's threads and never block (hashing and durable
// sends finish their reactor from the core's callback). Pushes reach a stream through
// PushStream; the Sink calls made by the core (possibly under its locks) only enqueue, and the
// stream's next write is started once those locks are released: by the gRPC thread that ran the
// Send (PumpScope) or else by the "pusher" WorkerThread. A small expiry thread ends idle sessions.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include "chat/grpc/grpc_transport.hpp"
#include "chat/log.hpp"
#include "chat_rpc.hpp"
#include "grpc_runtime.hpp"
#include "server_state.hpp"
#include "settings.hpp"
#include "tls_files.hpp"

namespace chat::grpc_transport {

namespace {

// How long stop() lets unary calls in progress finish before gRPC cancels them. It is also how
// long stop() takes while any client keeps a connection open: grpc::Server::Shutdown waits for
// every connection to close as well as every call, and a client's idle connection stays open
// after the GOAWAY until the deadline, when gRPC cancels what is left and drops the connections.
// So it is short: the Subscribe streams are ended by the server before, and a unary call never
// waits on anything but the core's completion (a commit, a password check). A call still running
// then ends CANCELLED; its completion still runs (Shutdown returns once every call is done).
constexpr std::chrono::milliseconds kShutdownGrace{1000};
// Concurrent calls (HTTP/2 streams) one connection may have open.
constexpr int kMaxConcurrentStreams = 100;
// A connection with no call in flight and no stream open for this long is closed (GOAWAY), so
// it gives its ConnectionLimit slot up.
constexpr int kMaxConnectionIdleMs = 5 * 60 * 1000;
// The server pings a connection after this long without traffic and closes it when no answer
// comes within the timeout: dead peers do not hold slots.
constexpr int kKeepaliveTimeMs = 2 * 60 * 1000;
constexpr int kKeepaliveTimeoutMs = 20 * 1000;

// Thread use: start()/stop() from one controlling thread; local_port() from any thread.
class GrpcServer final : public ServerTransport {
   public:
    GrpcServer(ChatService& service, ServerConfig config)
        : config_(std::move(config)),
          state_(std::make_unique<ServerState>(service, config_.outbound_budget,
                                               server_settings(config_.settings).session_idle)) {}

    ~GrpcServer() override { stop(); }

    void start() override {
        if (server_ || stopped_) throw std::logic_error("grpc transport started twice");
        prepare_grpc_runtime();
        static std::once_flag reflection_once;
        std::call_once(reflection_once,
                       [] { grpc::reflection::InitProtoReflectionServerBuilderPlugin(); });

        std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
        if (wants_tls(config_)) {
            try {
                credentials = make_server_tls_credentials(config_);
            } catch (const std::exception& e) {
                throw std::runtime_error(std::string("grpc transport: ") + e.what());
            }
        }
        rpc_ = std::make_unique<ChatRpc>(*state_);
        const std::string host =
            config_.listen.find(':') != std::string::npos && config_.listen.front() != '['
                ? "[" + config_.listen + "]"
                : config_.listen;
        const std::string address = host + ":" + std::to_string(config_.port);
        int selected = 0;
        grpc::ServerBuilder builder;
        builder.AddListeningPort(address, credentials, &selected);
        if (wants_tls(config_) && config_.tls_handshake_timeout.count() > 0) {
            builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                                       static_cast<int>(config_.tls_handshake_timeout.count()));
        }
        builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams);
        builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, kMaxConnectionIdleMs);
        builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
        builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
        // Bounds the memory gRPC itself takes for calls and the replies waiting to be written.
        grpc::ResourceQuota quota("chatd");
        if (const auto bytes = state_->service.limits().max_outbound_memory; bytes != 0) {
            quota.Resize(bytes);
            builder.SetResourceQuota(quota);
        }
        builder.RegisterService(rpc_.get());
        builder.SetMaxReceiveMessageSize(static_cast<int>(state_->service.limits().max_frame));
        server_ = builder.BuildAndStart();
        if (!server_ || selected <= 0) {
            server_.reset();
            rpc_.reset();
            throw std::runtime_error(
                "grpc transport cannot listen on " + address +
                (wants_tls(config_) ? " (or the TLS certificate and key are not usable)" : ""));
        }
        port_.store(static_cast<std::uint16_t>(selected));
        expiry_ = std::thread([this] { expire_loop(); });
        log::write(log::Level::info, kComponent, "serving",
                   log::Fields()
                       .add("transport", kName)
                       .add("address", config_.listen)
                       .add("port", selected)
                       .str());
    }

    void stop() override {
        if (!server_) return;
        stopped_ = true;
        // Open streams first: Shutdown waits for every call to finish (see kShutdownGrace).
        state_->end_streams(std::nullopt, PushStream::End::shutdown, false);
        server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
        {
            std::lock_guard lock(expiry_mu_);
            expiry_stop_ = true;
        }
        expiry_cv_.notify_all();
        if (expiry_.joinable()) expiry_.join();
        state_->pusher->stop();
        // Closing the transport logs its sessions out, as closing a JSON connection does.
        for (SessionId session : state_->tokens.clear()) (void)state_->service.logout(session);
        server_.reset();
        rpc_.reset();
        log::write(log::Level::info, kComponent, "stopped",
                   log::Fields().add("transport", kName).add("port", port_.load()).str());
    }

    std::uint16_t local_port() const override { return port_.load(); }
    std::string_view name() const override { return kName; }

   private:
    // Ends sessions idle for longer than the session idle time (no call and no open stream).
    void expire_loop() {
        const auto idle = state_->session_idle;
        const auto period = std::clamp<std::chrono::milliseconds>(
            idle / 4, std::chrono::milliseconds(20), std::chrono::milliseconds(5000));
        std::unique_lock lock(expiry_mu_);
        while (!expiry_cv_.wait_for(lock, period, [this] { return expiry_stop_; })) {
            lock.unlock();
            state_->service.expire_idle_sessions(idle);
            for (SessionId session : state_->tokens.expire_idle(idle)) {
                (void)state_->service.logout(session);  // not_logged_in if the core ended it
            }
            lock.lock();
        }
    }

    ServerConfig config_;
    std::unique_ptr<ServerState> state_;
    std::unique_ptr<ChatRpc> rpc_;
    std::unique_ptr<grpc::Server> server_;
    std::atomic<std::uint16_t> port_{0};
    bool stopped_ = false;  // a stopped transport is not started again (its pusher is gone)
    std::mutex expiry_mu_;
    std::condition_variable expiry_cv_;
    bool expiry_stop_ = false;
    std::thread expiry_;
};

}  // namespace

std::unique_ptr<ServerTransport> make_server(ChatService& service, const ServerConfig& config) {
    return std::make_unique<GrpcServer>(service, config);
}

}  // namespace chat::grpc_transport
