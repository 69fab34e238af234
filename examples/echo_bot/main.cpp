// echo_bot: a chat::Client that answers every message it gets with "echo: <text>", and "/time"
// with the server's time. It creates its account on first use, answers the backlog, then every
// push until SIGINT or SIGTERM.
//   ECHO_BOT_PASSWORD=secret echo_bot TRANSPORT HOST PORT [USERNAME]
// TRANSPORT is any transport built into the installed chatcore (json, grpc); PORT 0 means the
// transport's default port. Prints "ready as <name>" once it is answering.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "chat/builtin_transports.hpp"
#include "chat/limits.hpp"
#include "chat/push_dedup.hpp"
#include "chat/transport.hpp"
#include "chat/validation.hpp"

namespace {

constexpr std::string_view kEchoPrefix = "echo: ";

// sent_at (ms since the epoch, set by the server) as ISO 8601 UTC.
std::string format_utc(std::int64_t ms) {
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[32];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    char millis[8];
    std::snprintf(millis, sizeof millis, ".%03dZ", static_cast<int>(ms % 1000));
    return std::string(text, n) + millis;
}

// "echo: " + text, cut at a UTF-8 character boundary so the reply stays within the body limit.
std::string echo_of(std::string_view text) {
    std::size_t keep = std::min(text.size(), chat::Limits::kMaxBody - kEchoPrefix.size());
    while (keep > 0 && keep < text.size() &&
           (static_cast<unsigned char>(text[keep]) & 0xC0u) == 0x80u) {
        --keep;
    }
    return std::string(kEchoPrefix) + std::string(text.substr(0, keep));
}

// Answers messages once each. The client hands each push over once, but a message can also come
// back in the backlog fetch (pushed while it is being fetched), hence the de-duplication here.
// Thread use: answer() from any thread (the client's callback thread and main).
class EchoBot final {
   public:
    EchoBot(chat::Client& client, std::string_view name)
        : client_(client), name_lower_(chat::to_lower_ascii(name)) {}

    void answer(const chat::Message& message) {
        {
            std::lock_guard lock(mutex_);
            if (!seen_.first_time(message.id)) return;
        }
        // Our own messages (sent to ourselves) and other bots' echoes would ping-pong forever.
        if (chat::to_lower_ascii(message.from) == name_lower_ ||
            message.body.starts_with(kEchoPrefix)) {
            return;
        }
        const std::string reply = message.body == "/time"
                                      ? "server time: " + format_utc(message.sent_at)
                                      : echo_of(message.body);
        // Asynchronous: on the callback thread a blocking send would hold up every later push.
        client_.send_async(message.from, reply, [to = message.from](chat::Result<chat::Message> r) {
            if (!r) std::cerr << "reply to " << to << " failed: " << r.error().message << '\n';
        });
    }

   private:
    chat::Client& client_;
    std::string name_lower_;  // usernames are case-insensitive
    std::mutex mutex_;
    chat::PushDedup seen_;
};

int fail(std::string_view what, const chat::Error& error) {
    std::cerr << what << ": " << chat::to_string(error.code) << ": " << error.message << '\n';
    return EXIT_FAILURE;
}

}  // namespace

int main(int argc, char** argv) {
    const char* password = std::getenv("ECHO_BOT_PASSWORD");
    std::uint16_t port = 0;
    const std::string_view port_arg = argc > 3 ? argv[3] : "";
    if (argc < 4 || argc > 5 || password == nullptr || *password == '\0' ||
        std::from_chars(port_arg.data(), port_arg.data() + port_arg.size(), port).ec !=
            std::errc{}) {
        std::cerr << "usage: ECHO_BOT_PASSWORD=... echo_bot TRANSPORT HOST PORT [USERNAME]\n";
        return EXIT_FAILURE;
    }
    const std::string username = argc > 4 ? argv[4] : "echo";

    const chat::TransportInfo* transport = chat::builtin_transports().find(argv[1]);
    if (transport == nullptr) {
        std::cerr << "unknown transport " << argv[1] << "; built in:";
        for (const auto& name : chat::builtin_transports().names()) std::cerr << ' ' << name;
        std::cerr << '\n';
        return EXIT_FAILURE;
    }

    // Block the stop signals before the client starts its threads, so only main receives them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    chat::ClientConfig config;
    config.host = argv[2];
    config.port = port != 0 ? port : transport->default_port;
    auto client = transport->make_client(config);

    EchoBot bot(*client, username);
    std::atomic<bool> lost{false};
    // Losing the server ends the bot: wake main the same way a signal would.
    const auto stop_on_loss = [&lost](std::string_view why) {
        std::cerr << why << '\n';
        lost = true;
        kill(getpid(), SIGTERM);
    };
    client->on_message([&bot](const chat::Message& m) { bot.answer(m); });
    client->on_logged_out([&](chat::LogoutReason r) {
        stop_on_loss(std::string("logged out: ") + chat::to_string(r));
    });
    client->on_disconnect(
        [&](const chat::Error& e) { stop_on_loss("disconnected: " + e.message); });

    if (auto r = client->connect(); !r) return fail("connect", r.error());
    if (auto r = client->create_account(username, password);
        !r && r.code() != chat::Errc::user_exists) {
        return fail("create_account", r.error());
    }
    auto login = client->login(username, password);
    if (!login) return fail("login", login.error());
    std::cout << "ready as " << login->username << " (" << login->unread << " unread)" << std::endl;

    // The backlog: login reports it, fetch hands it over; each page is acked once answered.
    for (int page = 0; page < 1000; ++page) {
        auto fetched = client->fetch(chat::Limits::kMaxFetch);
        if (!fetched) return fail("fetch", fetched.error());
        std::vector<chat::MessageId> ids;
        for (const auto& m : fetched->messages) {
            bot.answer(m);
            ids.push_back(m.id);
        }
        if (!ids.empty()) {
            if (auto r = client->ack(ids); !r) return fail("ack", r.error());
        }
        if (fetched->remaining == 0) break;
    }

    int signal = 0;
    sigwait(&stop_signals, &signal);
    client->close();
    return lost ? EXIT_FAILURE : EXIT_SUCCESS;
}
