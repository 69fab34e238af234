// Idle gRPC clients: one channel each, logged in, with an open Subscribe stream driven by the
// asynchronous API on a completion queue of their own, drained by one thread, so 10 000 of them
// need no thread each and their pending operations stay off the queue that gRPC's callback API
// (and with it the measured load's clients) shares across the process (see idle_clients.hpp).
#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include "account_setup.hpp"
#include "chat/v1/chat.grpc.pb.h"
#include "idle_clients.hpp"

namespace chat::bench {

namespace {
constexpr std::chrono::seconds kCallTimeout{120};

// One Subscribe stream that reads until it ends. Its operations complete on the owner's queue
// as tags naming the stream and the step (low bits of the pointer); drive() takes each step.
// Thread use: start() from any thread; drive() from the queue's one thread; the owner waits on
// the futures.
class IdleStream final {
   public:
    enum Step : std::uintptr_t { kStarted = 0, kMetadata = 1, kRead = 2, kFinished = 3 };
    static constexpr std::uintptr_t kStepMask = 3;

    void start(chat::v1::Chat::Stub& stub, const std::string& token, grpc::CompletionQueue& cq) {
        context.AddMetadata("authorization", "Bearer " + token);
        reader_ = stub.PrepareAsyncSubscribe(&context, request_, &cq);
        reader_->StartCall(tag(kStarted));
        reader_->ReadInitialMetadata(tag(kMetadata));
    }

    // One completed operation of this stream.
    void drive(Step step, bool ok) {
        switch (step) {
            case kStarted:
                return;  // the metadata read (or its failure) follows
            case kMetadata: {
                const auto& metadata = context.GetServerInitialMetadata();
                const bool subscribed = ok && metadata.find("chat-subscribed") != metadata.end();
                registered_.set_value(subscribed);
                if (ok) {
                    reader_->Read(&event_, tag(kRead));
                } else {
                    reader_->Finish(&status_, tag(kFinished));
                }
                return;
            }
            case kRead:
                if (ok) {
                    reader_->Read(&event_, tag(kRead));
                } else {
                    reader_->Finish(&status_, tag(kFinished));
                }
                return;
            case kFinished:
                done_.set_value();
                return;
        }
    }

    static std::pair<IdleStream*, Step> from_tag(void* tag) {
        const auto bits = reinterpret_cast<std::uintptr_t>(tag);
        return {reinterpret_cast<IdleStream*>(bits & ~kStepMask),
                static_cast<Step>(bits & kStepMask)};
    }

   private:
    void* tag(Step step) {
        static_assert(alignof(IdleStream) > kStepMask);
        return reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(this) | step);
    }

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
    grpc::Status status_;
    std::unique_ptr<grpc::ClientAsyncReader<chat::v1::Event>> reader_;
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
          prefix_(std::move(prefix)),
          driver_([this] { drive(); }) {}
    ~IdleGrpcClients() override {
        close();
        cq_.Shutdown();
        driver_.join();
    }

    void open(std::size_t count) override {
        const std::size_t accounts = (count + kIdleClientsPerAccount - 1) / kIdleClientsPerAccount;
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
                request.set_username(account(i / kIdleClientsPerAccount));
                request.set_password(std::string(kBenchPassword));
                chat::v1::LoginResponse response;
                const auto status = client.stub->Login(&context, request, &response);
                if (!status.ok()) throw std::runtime_error("idle login: " + status.error_message());
                client.stream = std::make_unique<IdleStream>();
                client.stream->start(*client.stub, response.session_token(), cq_);
                const bool registered = client.stream->registered.get();
                clients_[i] = std::move(client);
                if (!registered) throw std::runtime_error("idle Subscribe was refused");
            },
            kIdleLoginConcurrency);
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

    // The queue's thread: runs each stream's next step until the queue is shut down and empty.
    void drive() {
        void* tag = nullptr;
        bool ok = false;
        while (cq_.Next(&tag, &ok)) {
            auto [stream, step] = IdleStream::from_tag(tag);
            stream->drive(step, ok);
        }
    }

    const std::string target_;
    const std::string prefix_;
    std::vector<IdleClient> clients_;
    grpc::CompletionQueue cq_;
    std::thread driver_;  // last: starts once the members above exist
};

}  // namespace

std::unique_ptr<IdleClients> make_idle_grpc_clients(const Endpoint& endpoint,
                                                    const std::string& name_prefix) {
    return std::make_unique<IdleGrpcClients>(endpoint, name_prefix);
}

}  // namespace chat::bench
