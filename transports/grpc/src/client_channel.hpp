// open_client_channel: the gRPC client's channel to the server of a ClientConfig (plain or TLS),
// opened and ready, or why it could not be.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "chat/error.hpp"
#include "chat/transport.hpp"

namespace chat::grpc_transport {

// Waits up to config.timeout for the connection. One connection per client (no sharing).
Result<std::shared_ptr<grpc::Channel>> open_client_channel(const ClientConfig& config);

}  // namespace chat::grpc_transport
