// End-to-end tests of TLS: the real chatd serving JSON Lines and gRPC over TLS with a
// self-signed certificate made here with the `openssl` command, our clients verifying it, and
// clients that must be refused (no TLS, the wrong CA, the wrong name, garbage instead of a
// handshake, a handshake that never comes) without the server going down.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "chat/builtin_transports.hpp"
#include "chat/chat_service.hpp"
#include "chat/memory_store.hpp"
#include "chat/tls_policy.hpp"
#include "chatd_process.hpp"
#include "line_socket.hpp"

namespace chat::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A temporary directory holding two unrelated self-signed certificates for 127.0.0.1 and
// localhost: `cert`/`key` for the server, `other_cert` as a CA that did not sign it.
struct TlsFiles {
    TlsFiles() {
        std::string pattern = (std::filesystem::temp_directory_path() / "chat-tls-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        dir = pattern;
        make_certificate(cert, key, "server", "ec -pkeyopt ec_paramgen_curve:prime256v1");
        make_certificate(other_cert, other_key, "other",
                         "ec -pkeyopt ec_paramgen_curve:prime256v1");
        make_certificate(rsa_cert, rsa_key, "rsa", "rsa:2048");
    }
    ~TlsFiles() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
    TlsFiles(const TlsFiles&) = delete;
    TlsFiles& operator=(const TlsFiles&) = delete;

    // Writes `text` to a file in the directory and returns its path.
    std::string write(const std::string& name, const std::string& text) const {
        auto path = (dir / name).string();
        std::ofstream(path) << text;
        return path;
    }

    std::filesystem::path dir;
    std::string cert, key, other_cert, other_key;
    // An RSA certificate, which static RSA key exchange and the ECDHE-RSA suites need.
    std::string rsa_cert, rsa_key;

   private:
    void make_certificate(std::string& cert_path, std::string& key_path, const std::string& name,
                          const std::string& key_type) {
        cert_path = (dir / (name + "-cert.pem")).string();
        key_path = (dir / (name + "-key.pem")).string();
        const std::string command =
            "openssl req -x509 -newkey " + key_type +
            " -nodes -days 2 "
            "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout '" +
            key_path + "' -out '" + cert_path + "' >/dev/null 2>&1";
        if (std::system(command.c_str()) != 0) {
            throw std::runtime_error("openssl could not make a test certificate");
        }
    }
};

// Collects the pushes a client receives, so a test can wait for them.
struct Inbox {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<Message> messages;

    void attach(Client& client) {
        client.on_message([this](const Message& m) {
            std::lock_guard lock(mutex);
            messages.push_back(m);
            changed.notify_all();
        });
    }

    std::optional<Message> wait_first(std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(mutex);
        if (!changed.wait_for(lock, timeout, [this] { return !messages.empty(); })) {
            return std::nullopt;
        }
        return messages.front();
    }
};

// A chatd serving both transports (or JSON only, without gRPC in this build) over TLS.
struct TlsChatd {
    explicit TlsChatd(const TlsFiles& files) : TlsChatd(files.cert, files.key) {}
    TlsChatd(const std::string& cert, const std::string& key)
        : has_grpc(builtin_transports().find("grpc") != nullptr),
          server({"--transport", has_grpc ? "json,grpc" : "json", "--grpc-port", "0", "--tls-cert",
                  cert, "--tls-key", key}) {
        if (has_grpc) {
            auto port = server.process.wait_port("grpc");
            if (!port) throw std::runtime_error("no grpc port; log:\n" + server.process.log());
            grpc_port = *port;
        }
    }

    std::uint16_t port_of(std::string_view transport) const {
        return transport == "grpc" ? grpc_port : server.port;
    }

    bool has_grpc;
    RunningChatd server;
    std::uint16_t grpc_port = 0;
};

ClientConfig tls_config(std::uint16_t port, const std::string& ca) {
    ClientConfig config;
    config.port = port;
    config.timeout = 10s;
    config.tls = true;
    config.tls_ca_file = ca;
    return config;
}

std::unique_ptr<Client> make_client(std::string_view transport, const ClientConfig& config) {
    const auto* info = builtin_transports().find(transport);
    REQUIRE(info != nullptr);
    return info->make_client(config);
}

std::vector<std::string> served(const TlsChatd& chatd) {
    return chatd.has_grpc ? std::vector<std::string>{"json", "grpc"}
                          : std::vector<std::string>{"json"};
}

// A TLS client of `transport` can still talk to the server (it did not go down).
void check_serving(const TlsChatd& chatd, const TlsFiles& files, std::string_view transport) {
    auto client = make_client(transport, tls_config(chatd.port_of(transport), files.cert));
    REQUIRE(client->connect().ok());
    auto hello = client->hello(1);
    REQUIRE(hello.ok());
    CHECK(hello->version == 1);
    client->close();
}

// A TLS handshake with OpenSSL's client, as a foreign client would make it: offers only
// `version` and, for TLS 1.2, the suites of `ciphers` in that order (h2 by ALPN, which gRPC
// wants). Returns the suite the server chose, or "refused" when the handshake failed.
std::string handshake(std::uint16_t port, int version, const std::string& ciphers) {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                          SSL_CTX_free);
    REQUIRE(ctx);
    SSL_CTX_set_min_proto_version(ctx.get(), version);
    SSL_CTX_set_max_proto_version(ctx.get(), version);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
    if (version == TLS1_3_VERSION) {
        REQUIRE(SSL_CTX_set_ciphersuites(ctx.get(), ciphers.c_str()) == 1);
    } else {
        // SECLEVEL 0 so that the client itself does not refuse what the server must refuse.
        REQUIRE(SSL_CTX_set_cipher_list(ctx.get(), (ciphers + ":@SECLEVEL=0").c_str()) == 1);
    }
    static const unsigned char alpn[] = {2, 'h', '2'};
    SSL_CTX_set_alpn_protos(ctx.get(), alpn, sizeof alpn);

    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    timeval timeout{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    SSL* ssl = SSL_new(ctx.get());
    SSL_set_fd(ssl, fd);
    std::string chosen = "refused";
    if (SSL_connect(ssl) == 1) {
        chosen = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl));
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    ::close(fd);
    return chosen;
}

TEST_CASE("The shared TLS policy narrows an operator's cipher list and never widens it") {
    using tls_policy::allowed_tls12_ciphers;
    const std::string all(tls_policy::kTls12Ciphers);
    CHECK(allowed_tls12_ciphers("") == all);
    CHECK(allowed_tls12_ciphers("AES128-SHA:DES-CBC3-SHA") == all);
    CHECK(allowed_tls12_ciphers(
              "ECDHE-RSA-CHACHA20-POLY1305:AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256") ==
          "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256");
}

TEST_CASE("Both TLS ports allow only the policy's cipher suites, in the server's order") {
    TlsFiles files;
    TlsChatd chatd(files.rsa_cert, files.rsa_key);
    for (const auto& transport : served(chatd)) {
        INFO("transport " << transport);
        const auto port = chatd.port_of(transport);
        // Static RSA key exchange with CBC and SHA-1, and CBC even with ECDHE: refused.
        CHECK(handshake(port, TLS1_2_VERSION, "AES128-SHA") == "refused");
        CHECK(handshake(port, TLS1_2_VERSION, "AES256-GCM-SHA384") == "refused");
        CHECK(handshake(port, TLS1_2_VERSION, "ECDHE-RSA-AES128-SHA") == "refused");
        // TLS 1.1 is refused whatever the suite.
        CHECK(handshake(port, TLS1_1_VERSION, "ALL") == "refused");
        // A suite of the policy is accepted.
        CHECK(handshake(port, TLS1_2_VERSION, "ECDHE-RSA-AES128-GCM-SHA256") ==
              "ECDHE-RSA-AES128-GCM-SHA256");
        CHECK(handshake(port, TLS1_2_VERSION, "ECDHE-RSA-AES256-GCM-SHA384") ==
              "ECDHE-RSA-AES256-GCM-SHA384");
        // ChaCha20 is in the policy (gRPC's own default list lacks it for TLS 1.2).
        CHECK(handshake(port, TLS1_2_VERSION, "ECDHE-RSA-CHACHA20-POLY1305") ==
              "ECDHE-RSA-CHACHA20-POLY1305");
        // The client's first choice is ChaCha20; the server's order puts AES-128-GCM first.
        // gRPC 1.51 offers no way to make its server prefer its own order: there the client's
        // order decides, among the policy's suites only.
        const auto chosen = handshake(port, TLS1_2_VERSION,
                                      "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256");
        if (transport == "json") {
            CHECK(chosen == "ECDHE-RSA-AES128-GCM-SHA256");
        } else {
            CHECK(chosen != "refused");
        }
        // TLS 1.3 with its AES-GCM and ChaCha20 suites.
        CHECK(handshake(port, TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256") ==
              "TLS_CHACHA20_POLY1305_SHA256");
        CHECK(handshake(port, TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384") ==
              "TLS_AES_256_GCM_SHA384");
        auto client = make_client(transport, tls_config(port, files.rsa_cert));
        REQUIRE(client->connect().ok());
        CHECK(client->hello(1).ok());
        client->close();
    }
    CHECK(chatd.server.stop() == 0);
}

TEST_CASE("The ECDSA certificate is served with the policy's ECDSA suites") {
    TlsFiles files;
    TlsChatd chatd(files);
    for (const auto& transport : served(chatd)) {
        INFO("transport " << transport);
        const auto port = chatd.port_of(transport);
        CHECK(handshake(port, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA") == "refused");
        CHECK(handshake(port, TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384") ==
              "ECDHE-ECDSA-AES256-GCM-SHA384");
        CHECK(handshake(port, TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305") ==
              "ECDHE-ECDSA-CHACHA20-POLY1305");
        if (transport == "json") {
            CHECK(handshake(port, TLS1_2_VERSION,
                            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:"
                            "ECDHE-ECDSA-AES128-GCM-SHA256") == "ECDHE-ECDSA-AES128-GCM-SHA256");
        }
    }
    CHECK(chatd.server.stop() == 0);
}

TEST_CASE("An operator's GRPC_SSL_CIPHER_SUITES can narrow the gRPC suites but not widen them") {
    if (builtin_transports().find("grpc") == nullptr) return;
    TlsFiles files;
    ChatdProcess chatd({"--store", "memory", "--transport", "grpc", "--grpc-port", "0",
                        "--tls-cert", files.rsa_cert, "--tls-key", files.rsa_key},
                       {"GRPC_SSL_CIPHER_SUITES=AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384"});
    const auto port = chatd.wait_port("grpc");
    REQUIRE(port);
    CHECK(handshake(*port, TLS1_2_VERSION, "AES128-SHA") == "refused");
    CHECK(handshake(*port, TLS1_2_VERSION, "ECDHE-RSA-AES128-GCM-SHA256") == "refused");
    CHECK(handshake(*port, TLS1_2_VERSION, "ECDHE-RSA-AES256-GCM-SHA384") ==
          "ECDHE-RSA-AES256-GCM-SHA384");
    CHECK_THAT(chatd.log(), Catch::Contains("GRPC_SSL_CIPHER_SUITES narrowed"));
    CHECK(chatd.stop(SIGTERM) == 0);
}

TEST_CASE("TLS chatd carries messages between JSON and gRPC clients that verify it") {
    TlsFiles files;
    TlsChatd chatd(files);
    const std::string other = chatd.has_grpc ? "grpc" : "json";

    Inbox alice_inbox;
    Inbox bob_inbox;
    // Alice dials a DNS name, so her certificate check is by name; Bob dials the IP address but
    // names the server explicitly. (gRPC resolving "localhost" itself would leak a few bytes in
    // c-ares, which the sanitizer build reports.)
    auto alice_config = tls_config(chatd.port_of("json"), files.cert);
    alice_config.host = "localhost";
    auto alice = make_client("json", alice_config);
    auto bob_config = tls_config(chatd.port_of(other), files.cert);
    bob_config.tls_server_name = "localhost";
    auto bob = make_client(other, bob_config);
    alice_inbox.attach(*alice);
    bob_inbox.attach(*bob);
    REQUIRE(alice->connect().ok());
    REQUIRE(bob->connect().ok());

    REQUIRE(alice->create_account("alice", "pw-a").ok());
    REQUIRE(bob->create_account("bob", "pw-b").ok());
    REQUIRE(alice->login("alice", "pw-a").ok());
    REQUIRE(bob->login("bob", "pw-b").ok());

    auto to_bob = alice->send("bob", "hello over TLS");
    REQUIRE(to_bob.ok());
    auto got = bob_inbox.wait_first();
    REQUIRE(got);
    CHECK(*got == *to_bob);

    auto to_alice = bob->send("alice", "and back");
    REQUIRE(to_alice.ok());
    auto back = alice_inbox.wait_first();
    REQUIRE(back);
    CHECK(back->body == "and back");
    CHECK(back->from == "bob");

    alice->close();
    bob->close();
    CHECK(chatd.server.stop() == 0);
}

TEST_CASE("A client without TLS is refused by a TLS port and the server stays up") {
    TlsFiles files;
    TlsChatd chatd(files);
    for (const auto& transport : served(chatd)) {
        INFO("transport " << transport);
        ClientConfig config;
        config.port = chatd.port_of(transport);
        config.timeout = 5s;
        auto client = make_client(transport, config);
        const auto started = Clock::now();
        // gRPC fails to connect; the JSON connect is plain TCP, so its first request fails.
        bool refused = !client->connect().ok() || !client->hello(1).ok();
        CHECK(refused);
        CHECK(Clock::now() - started < config.timeout);  // refused, not timed out
        client->close();
        check_serving(chatd, files, transport);
    }
    CHECK(chatd.server.stop() == 0);
}

TEST_CASE("A TLS client refuses a server certificate its CA did not sign") {
    TlsFiles files;
    TlsChatd chatd(files);
    for (const auto& transport : served(chatd)) {
        INFO("transport " << transport);
        auto client =
            make_client(transport, tls_config(chatd.port_of(transport), files.other_cert));
        auto connected = client->connect();
        REQUIRE_FALSE(connected.ok());
        if (transport == "json") {
            CHECK_THAT(connected.error().message, Catch::Contains("certificate"));
        }
        client->close();
        check_serving(chatd, files, transport);
    }
    CHECK(chatd.server.stop() == 0);
}

TEST_CASE("A TLS client refuses a certificate for another name") {
    TlsFiles files;
    TlsChatd chatd(files);
    for (const auto& transport : served(chatd)) {
        INFO("transport " << transport);
        auto config = tls_config(chatd.port_of(transport), files.cert);
        config.tls_server_name = "chat.example.org";
        auto client = make_client(transport, config);
        auto connected = client->connect();
        REQUIRE_FALSE(connected.ok());
        if (transport == "json") {
            CHECK_THAT(connected.error().message, Catch::Contains("hostname mismatch"));
        }
        client->close();
    }
    CHECK(chatd.server.stop() == 0);
}

TEST_CASE("Garbage instead of a TLS handshake is dropped and the server keeps serving") {
    TlsFiles files;
    TlsChatd chatd(files);
    for (const auto& transport : served(chatd)) {
        INFO("transport " << transport);
        const std::vector<std::string> garbage = {
            "{\"op\":\"hello\",\"id\":1}\n",
            "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            // A TLS record header announcing a handshake, followed by nonsense.
            std::string("\x16\x03\x01\x00\x20", 5) + std::string(32, '\x7f'),
        };
        for (const auto& bytes : garbage) {
            LineSocket raw(chatd.port_of(transport));
            raw.send_raw(bytes);
            CHECK(raw.wait_closed(10s));
        }
        check_serving(chatd, files, transport);
    }
    CHECK(chatd.server.stop() == 0);
}

TEST_CASE("A TLS connection that never starts its handshake is closed") {
    TlsFiles files;
    MemoryStore store;
    ServiceConfig service_config;
    service_config.hash_threads = 0;
    ChatService service(store, service_config);
    ServerConfig config;
    config.listen = "127.0.0.1";
    config.port = 0;
    config.threads = 1;
    config.tls_cert_file = files.cert;
    config.tls_key_file = files.key;
    config.tls_handshake_timeout = 300ms;
    auto server = builtin_transports().find("json")->make_server(service, config);
    server->start();

    LineSocket silent(server->local_port());
    const auto started = Clock::now();
    CHECK(silent.wait_closed(10s));
    CHECK(Clock::now() - started >= 200ms);

    // A client that does handshake is served as usual.
    auto client = make_client("json", tls_config(server->local_port(), files.cert));
    REQUIRE(client->connect().ok());
    CHECK(client->hello(1).ok());
    client->close();
    server->stop();
}

TEST_CASE("A transport refuses to start with unusable TLS files") {
    TlsFiles files;
    MemoryStore store;
    ChatService service(store);
    const auto not_pem = files.write("not-pem.txt", "this is not a certificate\n");
    for (const auto& name : builtin_transports().names()) {
        INFO("transport " << name);
        const auto* info = builtin_transports().find(name);
        ServerConfig only_cert;
        only_cert.tls_cert_file = files.cert;
        CHECK_THROWS_WITH(info->make_server(service, only_cert)->start(),
                          Catch::Contains("key file"));
        ServerConfig bad_cert;
        bad_cert.tls_cert_file = not_pem;
        bad_cert.tls_key_file = files.key;
        CHECK_THROWS_WITH(info->make_server(service, bad_cert)->start(), Catch::Contains(not_pem));
        ServerConfig missing_key;
        missing_key.tls_cert_file = files.cert;
        missing_key.tls_key_file = (files.dir / "missing-key.pem").string();
        CHECK_THROWS_WITH(info->make_server(service, missing_key)->start(),
                          Catch::Contains("cannot read"));
    }
}

TEST_CASE("chatd checks its TLS flags before serving") {
    TlsFiles files;
    SECTION("a certificate without a key is a usage error") {
        ChatdProcess chatd({"--store", "memory", "--json-port", "0", "--tls-cert", files.cert});
        CHECK(chatd.wait_exit() == 2);
        CHECK_THAT(chatd.log(), Catch::Contains("--tls-key"));
    }
    SECTION("an unreadable certificate file is a failure") {
        const auto missing = (files.dir / "missing.pem").string();
        ChatdProcess chatd({"--store", "memory", "--json-port", "0"},
                           {"CHATD_TLS_CERT=" + missing, "CHATD_TLS_KEY=" + files.key});
        CHECK(chatd.wait_exit() == 1);
        CHECK_THAT(chatd.log(), Catch::Contains("cannot read TLS certificate file"));
        CHECK_THAT(chatd.log(), Catch::Contains(missing));
    }
    SECTION("a key that is no key is a failure") {
        ChatdProcess chatd({"--store", "memory", "--json-port", "0", "--tls-cert", files.cert,
                            "--tls-key", files.cert});
        CHECK(chatd.wait_exit() == 1);
        CHECK_THAT(chatd.log(), Catch::Contains("key"));
    }
}

}  // namespace
}  // namespace chat::e2e
