// Idle gRPC clients: one channel each, logged in, with an open Subscribe stream driven by the
// callback API, so 10 000 of them need no thread of their own (see idle_clients.hpp).
#include <grpcpp/grpcpp.h>

#include <future>
#include <stdexcept>
#include <vector>

#include "account_setup.hpp"
#include "chat/v1/chat.grpc.pb.h"
#include "idle_clients.hpp"

namespace chat::bench {

std::unique_ptr<IdleClients> make_idle_grpc_clients(const Endpoint& endpoint,
                                                    const std::string& name_prefix);

namespace {

constexpr std::size_t kClientsPerAccount = 1000;
constexpr unsigned kLoginConcurrency = 16;
constexpr std::chrono::seconds kCallTimeout{120};

// One Subscribe stream that reads until it ends. Thread use: gRPC's threads call the reactor;
// the owner waits on the futures.
class IdleStream final : public grpc::ClientReadReactor<chat::v1::Event> {
   public:
    void start(chat::v1::Chat::Stub& stub, const std::string& token) {
        context.AddMetadata("authorization", "Bearer " + token);
        stub.async()->Subscribe(&context, &request_, this);
        StartRead(&event_);
        StartCall();
    }
    void OnReadInitialMetadataDone(bool ok) override {
        const auto& metadata = context.GetServerInitialMetadata();
        registered_.set_value(ok && metadata.find("chat-subscribed") != metadata.end());
        answered_ = true;
    }
    void OnReadDone(bool ok) override {
        if (ok) StartRead(&event_);
    }
    void OnDone(const grpc::Status&) override {
        if (!answered_) registered_.set_value(false);
        done_.set_value();
    }

   private:
    // Before the futures below: members are built in this order.
    std::promise<bool> registered_;
    std::promise<void> done_;

   public:
    grpc::ClientContext context;
    std::future<bool> registered = registered_.get_future();
    std::future<void> done = done_.get_future();

   private:
    chat::v1::SubscribeRequest request_;
    chat::v1::Event event_;
    bool answered_ = false;  // set on a gRPC thread before OnDone, which comes after
};

struct IdleClient {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<chat::v1::Chat::Stub> stub;
    std::unique_ptr<IdleStream> stream;
};

class IdleGrpcClients final : public IdleClients {
   public:
    IdleGrpcClients(const Endpoint& endpoint, std::string prefix)
        : target_(endpoint.host + ":" + std::to_string(endpoint.port)),
          prefix_(std::move(prefix)) {}
    ~IdleGrpcClients() override { close(); }

    void open(std::size_t count) override {
        const std::size_t accounts = (count + kClientsPerAccount - 1) / kClientsPerAccount;
        run_parallel(accounts, [&](std::size_t a) {
            IdleClient client = make_client();
            grpc::ClientContext context;
            context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
            chat::v1::CreateAccountRequest request;
            request.set_username(account(a));
            request.set_password(std::string(kBenchPassword));
            chat::v1::CreateAccountResponse response;
            const auto status = client.stub->CreateAccount(&context, request, &response);
            if (!status.ok()) throw std::runtime_error("create_account: " + status.error_message());
        });
        clients_.resize(count);
        run_parallel(
            count,
            [&](std::size_t i) {
                IdleClient client = make_client();
                grpc::ClientContext context;
                context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
                chat::v1::LoginRequest request;
                request.set_username(account(i / kClientsPerAccount));
                request.set_password(std::string(kBenchPassword));
                chat::v1::LoginResponse response;
                const auto status = client.stub->Login(&context, request, &response);
                if (!status.ok()) throw std::runtime_error("idle login: " + status.error_message());
                client.stream = std::make_unique<IdleStream>();
                client.stream->start(*client.stub, response.session_token());
                const bool registered = client.stream->registered.get();
                clients_[i] = std::move(client);
                if (!registered) throw std::runtime_error("idle Subscribe was refused");
            },
            kLoginConcurrency);
    }

    void close() override {
        for (auto& client : clients_) {
            if (client.stream) client.stream->context.TryCancel();
        }
        for (auto& client : clients_) {
            if (client.stream) client.stream->done.wait();
        }
        clients_.clear();
    }

   private:
    IdleClient make_client() const {
        grpc::ChannelArguments args;
        // A connection of its own per client, as a separate process would have.
        args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
        IdleClient client;
        client.channel =
            grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), args);
        client.stub = chat::v1::Chat::NewStub(client.channel);
        return client;
    }
    std::string account(std::size_t index) const { return prefix_ + "i" + std::to_string(index); }

    const std::string target_;
    const std::string prefix_;
    std::vector<IdleClient> clients_;
};

}  // namespace

std::unique_ptr<IdleClients> make_idle_grpc_clients(const Endpoint& endpoint,
                                                    const std::string& name_prefix) {
    return std::make_unique<IdleGrpcClients>(endpoint, name_prefix);
}

}  // namespace chat::bench
