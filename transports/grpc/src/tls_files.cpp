// TLS credentials of the gRPC transport (see tls_files.hpp).
#include "tls_files.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>

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
    grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    pair.cert_chain = read_pem(config.tls_cert_file, "TLS certificate file", kCertificateArmour);
    pair.private_key = read_pem(config.tls_key_file, "TLS key file", kKeyArmour);
    options.pem_key_cert_pairs.push_back(std::move(pair));
    return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> make_client_tls_credentials(const ClientConfig& config) {
    grpc::SslCredentialsOptions options;
    if (!config.tls_ca_file.empty()) {
        options.pem_root_certs = read_pem(config.tls_ca_file, "TLS CA file", kCertificateArmour);
    }
    return grpc::SslCredentials(options);
}

}  // namespace chat::grpc_transport
