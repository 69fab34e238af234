// libFuzzer target for the JSON Lines server: the line framer, the Boost.JSON parser, the request
// checks and the op table, all driven in-process through a real server Connection.
//
// Each input is the byte stream one client sends. A fresh ChatService (MemoryStore, hashing
// inline with libsodium's cheapest Argon2id cost, two accounts "alice" and "bob" with password
// "pw") serves it over one end of a socketpair; the harness writes the input in chunks whose
// size depends on the input (so frames also arrive split), half-closes, and reads everything
// the server answers until it closes. Everything runs on this thread: the io_context is run
// here, and the core completes its callbacks inline.
//
// Besides "no crash, no sanitizer report, no hang", it checks what the server sends: every line
// is a JSON object that is either a reply (`id` and a boolean `ok`) or a push (`event`), and the
// number of replies never exceeds the number of frames sent.
//
// Thread use: libFuzzer calls the entry point from one thread.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "chat/chat_service.hpp"
#include "chat/log.hpp"
#include "chat/memory_store.hpp"
#include "json_connection.hpp"

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using chat::json_transport::Connection;
using chat::json_transport::ServerCore;
using chat::json_transport::tcp;

[[noreturn]] void broken(const char* what) {
    // A broken invariant of the server's output: abort so the fuzzer keeps the input.
    std::fprintf(stderr, "json_frame_fuzz: %s\n", what);
    std::abort();
}

chat::ServiceConfig service_config() {
    chat::ServiceConfig config;
    config.hash_threads = 0;  // hash inline: the whole exchange stays on this thread
    config.pwhash_opslimit = 1;
    config.pwhash_memlimit = 8192;
    config.limits.max_frame = 4096;  // small, so oversized frames are cheap to reach
    config.limits.rate_limit = 0;    // time-dependent: would make runs irreproducible
    config.limits.login_timeout = std::chrono::milliseconds(0);  // no timers that fire
    config.limits.max_outbound_bytes = 256 * 1024;
    return config;
}

// Sizes of the pieces the start of the input is written in, picked by a checksum of the input.
constexpr std::array<std::size_t, 6> kChunkSizes = {65536, 1, 2, 7, 64, 1000};

std::size_t chunk_size(std::string_view input) {
    std::size_t sum = 0;
    for (char c : input) sum = sum * 31 + static_cast<unsigned char>(c);
    return kChunkSizes[sum % kChunkSizes.size()];
}

std::size_t count_frames(std::string_view input) {
    std::size_t lines = 0;
    for (char c : input) {
        if (c == '\n') ++lines;
    }
    return lines + 1;  // an unfinished last line can still be answered (frame_too_large)
}

// Checks every complete line the server sent; returns how many were replies.
std::size_t check_output(std::string_view output) {
    std::size_t replies = 0;
    while (!output.empty()) {
        auto newline = output.find('\n');
        if (newline == std::string_view::npos) broken("the server sent an unterminated line");
        std::string_view line = output.substr(0, newline);
        output.remove_prefix(newline + 1);
        boost::system::error_code ec;
        json::value value = json::parse(line, ec);
        if (ec) {
            std::fprintf(stderr, "line: %.*s\n",
                         static_cast<int>(std::min<std::size_t>(line.size(), 400)), line.data());
            broken("the server sent a line that is not JSON");
        }
        const json::object* object = value.if_object();
        if (object == nullptr) broken("the server sent JSON that is not an object");
        if (object->contains("event")) {
            if (object->contains("id")) broken("a push carries an id");
            continue;
        }
        const json::value* ok = object->if_contains("ok");
        if (ok == nullptr || !ok->is_bool() || !object->contains("id")) {
            broken("a reply without a boolean ok and an id");
        }
        if (!ok->get_bool()) {
            const json::value* error = object->if_contains("error");
            if (error == nullptr || !error->is_object() || !error->get_object().contains("code")) {
                broken("a failed reply without an error code");
            }
        }
        ++replies;
    }
    return replies;
}

// Reads whatever the server has sent so far into `out`; false once the server has closed.
bool read_available(int fd, std::string& out) {
    std::array<char, 16384> buffer;
    while (true) {
        ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n > 0) {
            out.append(buffer.data(), static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        return false;
    }
}

// The server side, built once: a new store and service are constructed for every input in the
// same storage (the ServerCore refers to them by address), so no state carries over from one
// input to the next, while the io_context and its reactor are reused.
// Thread use: the fuzzing thread only.
struct Fixture {
    std::optional<chat::MemoryStore> store;
    std::optional<chat::ChatService> service;
    std::shared_ptr<ServerCore> core;  // shared: each connection keeps it alive

    ServerCore& fresh() {
        service.reset();
        store.reset();
        store.emplace();
        service.emplace(*store, service_config());
        if (!service->create_account_sync("alice", "pw").ok() ||
            !service->create_account_sync("bob", "pw").ok()) {
            broken("cannot create the fixture accounts");
        }
        if (!core) core = std::make_shared<ServerCore>(*service, service->limits());
        core->ioc.restart();  // it stopped when the previous input's connection was gone
        return *core;
    }
};

// Serves `input` as one client's byte stream and returns everything the server sent.
std::string exchange(std::string_view input) {
    static Fixture fixture;
    ServerCore& core = fixture.fresh();

    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) broken("socketpair");
    const int client = fds[1];
    tcp::socket socket(core.ioc);
    boost::system::error_code ec;
    // A stream socket of another family: the Connection only reads, writes and shuts down
    // (setting TCP_NODELAY fails here, which the connection does not treat as fatal; the
    // start-up self-test below notices if that ever changes).
    socket.assign(tcp::v4(), fds[0], ec);
    if (ec) broken("assign");
    {
        auto connection = std::make_shared<Connection>(core, std::move(socket), 1, false);
        std::lock_guard lock(core.mutex);
        core.connections.emplace(1, connection);
        ++core.live;
        connection->start();
    }

    const std::size_t chunk = chunk_size(input);
    std::string output;
    bool open = true;
    std::size_t written = 0;
    int idle_rounds = 0;
    while (written < input.size() && open) {
        // Small pieces at the start only: thousands of one-byte writes would cost more than the
        // framing they test.
        const std::string_view piece = input.substr(written, written < 256 ? chunk : 65536);
        ssize_t n = ::send(client, piece.data(), piece.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) written += static_cast<std::size_t>(n);
        const bool progressed = core.ioc.poll() > 0 || n > 0;
        open = read_available(client, output);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
        // The server stopped reading (a reply is waiting for us to read, or it closed): only
        // reading on can unblock it, which the loop does; give up if nothing moves at all.
        idle_rounds = progressed ? 0 : idle_rounds + 1;
        if (idle_rounds > 1000) break;
    }
    ::shutdown(client, SHUT_WR);
    // Let the server answer everything and close its side.
    while (open) {
        if (core.ioc.poll() == 0) core.ioc.run_one_for(std::chrono::milliseconds(5));
        open = read_available(client, output);
    }
    ::close(client);
    // The connection sees the hang-up and unregisters; then nothing is left to run.
    while (true) {
        {
            std::lock_guard lock(core.mutex);
            if (core.connections.empty()) break;
        }
        if (core.ioc.run_one_for(std::chrono::milliseconds(100)) == 0) {
            std::lock_guard lock(core.mutex);
            if (!core.connections.empty()) broken("the connection did not close after a hang-up");
        }
    }
    core.ioc.poll();
    return output;
}

void check_exchange(std::string_view input, const std::string& output) {
    if (check_output(output) > count_frames(input)) broken("more replies than frames");
}

std::size_t count(std::string_view text, std::string_view what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) {
        ++n;
    }
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    chat::log::set_level(chat::log::Level::off);
    // Self-test: a well-formed session must be served, or the harness is not testing anything.
    const std::string_view session =
        "{\"op\":\"hello\",\"id\":1}\n"
        "{\"op\":\"login\",\"username\":\"alice\",\"password\":\"pw\",\"id\":2}\n"
        "{\"op\":\"send\",\"to\":\"alice\",\"body\":\"hi\",\"id\":3}\n"
        "{\"op\":\"fetch\",\"id\":4}\n";
    const std::string output = exchange(session);
    check_exchange(session, output);
    if (count(output, "\"ok\":true") != 4 || count(output, "\"event\":\"message\"") != 1) {
        std::fprintf(stderr, "server output:\n%s\n", output.c_str());
        broken("self-test: a well-formed session was not served");
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    check_exchange(input, exchange(input));
    return 0;
}
