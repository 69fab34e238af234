// embedded_server: a complete chat server in a few lines — a ChatService over an in-memory
// store, served as JSON Lines on 127.0.0.1. Usage: embedded_server [PORT] (none or 0: any free
// port). Prints the port it listens on and serves until SIGINT or SIGTERM.
#include <pthread.h>

#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string_view>

#include "chat/chat_service.hpp"
#include "chat/json/json_transport.hpp"
#include "chat/memory_store.hpp"

int main(int argc, char** argv) {
    std::uint16_t port = 0;
    if (argc > 1) {
        const std::string_view arg = argv[1];
        if (std::from_chars(arg.data(), arg.data() + arg.size(), port).ec != std::errc{}) {
            std::cerr << "usage: embedded_server [PORT]\n";
            return EXIT_FAILURE;
        }
    }

    // Block the stop signals before any thread exists: every thread inherits the mask, so only
    // main sees them, through sigwait, and no signal handler is needed.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    chat::MemoryStore store;
    chat::ChatService service(store);
    auto server = chat::json_transport::make_server(service, {.listen = "127.0.0.1", .port = port});
    try {
        server->start();
    } catch (const std::exception& e) {
        std::cerr << "cannot listen: " << e.what() << '\n';
        return EXIT_FAILURE;
    }
    std::cout << "listening on 127.0.0.1:" << server->local_port() << std::endl;

    int signal = 0;
    sigwait(&stop_signals, &signal);
    server->stop();
    std::cout << "stopped" << std::endl;
    return EXIT_SUCCESS;
}
