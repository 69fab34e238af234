// subproject_check: chatcore embedded with add_subdirectory(). Serves the JSON Lines transport on
// an ephemeral 127.0.0.1 port from an in-memory core, and creates an account and logs in over it
// with the JSON client. Exits 0 only when every step worked.
#include <iostream>

#include "chat/chat_service.hpp"
#include "chat/json/json_transport.hpp"
#include "chat/log.hpp"
#include "chat/memory_store.hpp"

int main() {
    chat::log::set_level(chat::log::Level::warn);
    chat::MemoryStore store;
    chat::ServiceConfig service_config;
    service_config.hash_threads = 1;
    chat::ChatService service(store, service_config);

    chat::ServerConfig server_config;  // 127.0.0.1, ephemeral port
    server_config.threads = 1;
    auto server = chat::json_transport::make_server(service, server_config);
    server->start();

    chat::ClientConfig client_config;
    client_config.port = server->local_port();
    auto client = chat::json_transport::make_client(client_config);
    int failures = 0;
    auto check = [&failures](bool ok, const char* what) {
        std::cout << (ok ? "ok      " : "FAILED  ") << what << '\n';
        if (!ok) ++failures;
    };
    check(client->connect().ok(), "connect to the embedded server");
    check(client->hello().ok(), "hello");
    check(client->create_account("embedder", "embedder-secret").ok(), "create an account");
    check(client->login("embedder", "embedder-secret").ok(), "log in");
    client->close();
    server->stop();
    return failures == 0 ? 0 : 1;
}
