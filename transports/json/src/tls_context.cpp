// TLS contexts of the JSON transport (see tls_context.hpp).
#include "tls_context.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "chat/tls_policy.hpp"

namespace chat::json_transport {

namespace {

// OpenSSL's own reasons for an unreadable file are cryptic ("system lib"); say it plainly first.
void require_readable(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error(std::string("cannot read ") + what + " '" + path +
                                 "': " + std::strerror(errno));
    }
}

// The shared policy (chat/tls_policy.hpp) on both sides: old protocol versions, weak cipher
// suites and renegotiation are refused.
void apply_policy(ssl::context& context) {
    context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                        ssl::context::no_compression);
    SSL_CTX* handle = context.native_handle();
    SSL_CTX_set_min_proto_version(handle, TLS1_2_VERSION);
    SSL_CTX_set_options(handle, SSL_OP_NO_RENEGOTIATION);
    const std::string tls12(tls_policy::kTls12Ciphers);
    const std::string tls13(tls_policy::kTls13Ciphersuites);
    if (SSL_CTX_set_cipher_list(handle, tls12.c_str()) != 1 ||
        SSL_CTX_set_ciphersuites(handle, tls13.c_str()) != 1) {
        throw std::runtime_error("this OpenSSL supports none of the allowed TLS cipher suites");
    }
}

}  // namespace

std::unique_ptr<ssl::context> make_server_tls_context(const ServerConfig& config) {
    if (config.tls_cert_file.empty() && config.tls_key_file.empty()) return nullptr;
    if (config.tls_cert_file.empty() || config.tls_key_file.empty()) {
        throw std::runtime_error(
            "TLS needs both a certificate file and a key file (only one was given)");
    }
    require_readable(config.tls_cert_file, "TLS certificate file");
    require_readable(config.tls_key_file, "TLS key file");
    auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
    apply_policy(*context);
    // The server's order of the suites wins, so a client cannot steer it to a weaker one.
    context->set_options(ssl::context::single_dh_use);
    SSL_CTX_set_options(context->native_handle(), SSL_OP_CIPHER_SERVER_PREFERENCE);
    boost::system::error_code ec;
    context->use_certificate_chain_file(config.tls_cert_file, ec);
    if (ec) {
        throw std::runtime_error("TLS certificate file '" + config.tls_cert_file +
                                 "' holds no usable PEM certificate: " + ec.message());
    }
    context->use_private_key_file(config.tls_key_file, ssl::context::pem, ec);
    if (ec) {
        throw std::runtime_error(
            "TLS key file '" + config.tls_key_file +
            "' holds no usable PEM private key for the certificate: " + ec.message());
    }
    if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
        throw std::runtime_error("TLS key file '" + config.tls_key_file +
                                 "' does not match the certificate in '" + config.tls_cert_file +
                                 "'");
    }
    return context;
}

std::unique_ptr<ssl::context> make_client_tls_context(const ClientConfig& config) {
    auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
    apply_policy(*context);
    boost::system::error_code ec;
    if (config.tls_ca_file.empty()) {
        context->set_default_verify_paths(ec);
        if (ec) throw std::runtime_error("cannot load the system's trusted CAs: " + ec.message());
    } else {
        require_readable(config.tls_ca_file, "TLS CA file");
        context->load_verify_file(config.tls_ca_file, ec);
        if (ec) {
            throw std::runtime_error("TLS CA file '" + config.tls_ca_file +
                                     "' holds no usable PEM certificate: " + ec.message());
        }
    }
    context->set_verify_mode(ssl::verify_peer);
    return context;
}

bool expect_server_name(SSL* ssl_handle, const std::string& name) {
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address(name, ec);
    if (!ec) {
        // An IP address is matched against the certificate's IP entries and is never SNI.
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), name.c_str()) == 1;
    }
    return SSL_set1_host(ssl_handle, name.c_str()) == 1 &&
           SSL_set_tlsext_host_name(ssl_handle, name.c_str()) == 1;
}

std::string handshake_failure(SSL* ssl_handle, const boost::system::error_code& ec) {
    const long verdict = SSL_get_verify_result(ssl_handle);
    if (verdict != X509_V_OK) {
        std::string why = std::string("server certificate not accepted: ") +
                          X509_verify_cert_error_string(verdict);
        // OpenSSL names the symptom ("self-signed certificate"); say what it means here.
        if (verdict == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
            verdict == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
            verdict == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY) {
            why += " (not signed by a trusted CA)";
        }
        return why;
    }
    return ec.message();
}

}  // namespace chat::json_transport
