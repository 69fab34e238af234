// The TLS side of the gRPC transport: server and channel credentials built from the PEM files
// named in ServerConfig / ClientConfig (gRPC takes the PEM text, not file names).
// Thread use: the functions are thread-safe.
#pragma once

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>

#include "chat/transport.hpp"

namespace chat::grpc_transport {

// True when `config` asks for TLS (a certificate or a key file is named).
bool wants_tls(const ServerConfig& config);

// TLS server credentials from config.tls_cert_file and config.tls_key_file. Throws
// std::runtime_error naming the file when one is missing, unreadable or holds no PEM of its kind.
std::shared_ptr<grpc::ServerCredentials> make_server_tls_credentials(const ServerConfig& config);

// TLS channel credentials trusting config.tls_ca_file, or gRPC's default roots (the system's
// trusted CAs) when it is empty. Throws std::runtime_error when the CA file cannot be used.
std::shared_ptr<grpc::ChannelCredentials> make_client_tls_credentials(const ClientConfig& config);

}  // namespace chat::grpc_transport
