// TLS credentials of the gRPC transport (see tls_files.hpp).
#include "tls_files.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include "chat/log.hpp"
#include "chat/tls_policy.hpp"

namespace chat::grpc_transport {

namespace {

// gRPC reports a bad PEM only as a failure to listen or to connect; checking for the PEM
// armour up front lets start-up name the file that is wrong.
std::string read_pem(const std::string& path, const char* what, std::string_view armour) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error(std::string("cannot read ") + what + " '" + path +
                                 "': " + std::strerror(errno));
    }
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw std::runtime_error(std::string("cannot read ") + what + " '" + path + "'");
    if (text.find(armour) == std::string::npos) {
        throw std::runtime_error(std::string(what) + " '" + path + "' holds no PEM " +
                                 std::string(armour.substr(0, armour.size() - 5)));
    }
    return text;
}

// gRPC takes its TLS 1.2 suites only from GRPC_SSL_CIPHER_SUITES, read once when the first
// TLS credentials are put to use; it already asks for TLS 1.2 or later and uses OpenSSL's
// TLS 1.3 suites (those of the policy). Setting the variable before any credentials exist
// applies the shared policy; a value the operator set may narrow it, never widen it. (gRPC 1.51
// has no setting for the server's order of preference: its server takes the client's order,
// among these suites only.)
void apply_cipher_policy() {
    static std::once_flag once;
    std::call_once(once, [] {
        constexpr const char* kVariable = "GRPC_SSL_CIPHER_SUITES";
        const char* requested = std::getenv(kVariable);
        const std::string allowed =
            tls_policy::allowed_tls12_ciphers(requested != nullptr ? requested : "");
        if (requested != nullptr && allowed != requested) {
            log::write(log::Level::warn, "grpc",
                       "GRPC_SSL_CIPHER_SUITES narrowed to the TLS policy",
                       log::Fields().add("requested", requested).add("using", allowed).str());
        }
        if (::setenv(kVariable, allowed.c_str(), 1) != 0) {
            throw std::runtime_error("cannot set GRPC_SSL_CIPHER_SUITES for the TLS policy");
        }
    });
}

constexpr std::string_view kCertificateArmour = "CERTIFICATE-----";
constexpr std::string_view kKeyArmour = "PRIVATE KEY-----";

}  // namespace

bool wants_tls(const ServerConfig& config) {
    return !config.tls_cert_file.empty() || !config.tls_key_file.empty();
}

std::shared_ptr<grpc::ServerCredentials> make_server_tls_credentials(const ServerConfig& config) {
    if (config.tls_cert_file.empty() || config.tls_key_file.empty()) {
        throw std::runtime_error(
            "TLS needs both a certificate file and a key file (only one was given)");
    }
    apply_cipher_policy();
    grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    pair.cert_chain = read_pem(config.tls_cert_file, "TLS certificate file", kCertificateArmour);
    pair.private_key = read_pem(config.tls_key_file, "TLS key file", kKeyArmour);
    options.pem_key_cert_pairs.push_back(std::move(pair));
    return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> make_client_tls_credentials(const ClientConfig& config) {
    apply_cipher_policy();
    grpc::SslCredentialsOptions options;
    if (!config.tls_ca_file.empty()) {
        options.pem_root_certs = read_pem(config.tls_ca_file, "TLS CA file", kCertificateArmour);
    }
    return grpc::SslCredentials(options);
}

}  // namespace chat::grpc_transport
