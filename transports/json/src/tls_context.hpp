// The OpenSSL side of the JSON transport: the TLS contexts of the server and the client, built
// from the PEM files named in ServerConfig / ClientConfig, and the per-connection settings of a
// client (which name the server certificate must carry).
// Thread use: the functions are thread-safe; a context is shared read-only by its connections
// once built.
#pragma once

#include <boost/asio/ssl.hpp>
#include <memory>
#include <string>

#include "chat/transport.hpp"

namespace chat::json_transport {

namespace ssl = boost::asio::ssl;

// The server context (TLS 1.2 or later), or nullptr when `config` asks for plain TCP. Throws
// std::runtime_error with a message naming the file when a file cannot be read or used, or when
// only one of the two files is given.
std::unique_ptr<ssl::context> make_server_tls_context(const ServerConfig& config);

// The client context: verifies the peer against config.tls_ca_file, or the system's trusted CAs
// when it is empty. Throws std::runtime_error when the CA file cannot be read or used.
std::unique_ptr<ssl::context> make_client_tls_context(const ClientConfig& config);

// Makes `ssl_handle` (a client connection) require a certificate for `name` (a host name or an
// IP address) and send it as SNI when it is a host name. False when OpenSSL refuses the name.
bool expect_server_name(SSL* ssl_handle, const std::string& name);

// Why a client handshake failed, in words: the certificate check's verdict when that is what
// failed, else the transport error.
std::string handshake_failure(SSL* ssl_handle, const boost::system::error_code& ec);

}  // namespace chat::json_transport
