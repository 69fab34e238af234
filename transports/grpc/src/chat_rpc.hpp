// ChatRpc: the chat.v1.Chat callback service of the gRPC server, one handler per RPC, each
// mapping its request onto one ChatService call (docs/protocol.md, the gRPC section).
// Thread use: handlers run on gRPC's threads and never block.
#pragma once

#include "chat/v1/chat.grpc.pb.h"
#include "server_state.hpp"

namespace chat::grpc_transport {

class ChatRpc final : public v1::Chat::CallbackService {
   public:
    explicit ChatRpc(ServerState& state) : state_(state) {}

    grpc::ServerUnaryReactor* Hello(grpc::CallbackServerContext* ctx, const v1::HelloRequest* req,
                                    v1::HelloResponse* resp) override;
    grpc::ServerUnaryReactor* CreateAccount(grpc::CallbackServerContext* ctx,
                                            const v1::CreateAccountRequest* req,
                                            v1::CreateAccountResponse* resp) override;
    grpc::ServerUnaryReactor* Login(grpc::CallbackServerContext* ctx, const v1::LoginRequest* req,
                                    v1::LoginResponse* resp) override;
    grpc::ServerUnaryReactor* Logout(grpc::CallbackServerContext* ctx, const v1::LogoutRequest* req,
                                     v1::LogoutResponse* resp) override;
    grpc::ServerUnaryReactor* Send(grpc::CallbackServerContext* ctx, const v1::SendRequest* req,
                                   v1::SendResponse* resp) override;
    grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* ctx, const v1::FetchRequest* req,
                                    v1::FetchResponse* resp) override;
    grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* ctx, const v1::AckRequest* req,
                                  v1::AckResponse* resp) override;
    grpc::ServerUnaryReactor* ListAccounts(grpc::CallbackServerContext* ctx,
                                           const v1::ListAccountsRequest* req,
                                           v1::ListAccountsResponse* resp) override;
    grpc::ServerUnaryReactor* DeleteAccount(grpc::CallbackServerContext* ctx,
                                            const v1::DeleteAccountRequest* req,
                                            v1::DeleteAccountResponse* resp) override;
    grpc::ServerWriteReactor<v1::Event>* Subscribe(grpc::CallbackServerContext* ctx,
                                                   const v1::SubscribeRequest* req) override;

   private:
    ServerState& state_;
};

}  // namespace chat::grpc_transport
