// End-to-end tests of TLS: the real chatd serving JSON Lines and gRPC over TLS with a
// self-signed certificate made here with the `openssl` command, our clients verifying it, and
// clients that must be refused (no TLS, the wrong CA, the wrong name, garbage instead of a
// handshake, a handshake that never comes) without the server going down.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
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
        make_certificate(cert, key, "server");
        make_certificate(other_cert, other_key, "other");
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

   private:
    void make_certificate(std::string& cert_path, std::string& key_path, const std::string& name) {
        cert_path = (dir / (name + "-cert.pem")).string();
        key_path = (dir / (name + "-key.pem")).string();
        const std::string command =
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
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
    explicit TlsChatd(const TlsFiles& files)
        : has_grpc(builtin_transports().find("grpc") != nullptr),
          server({"--transport", has_grpc ? "json,grpc" : "json", "--grpc-port", "0", "--tls-cert",
                  files.cert, "--tls-key", files.key}) {
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
