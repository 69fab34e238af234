// Soak: the real chatd on SQLite under clients that connect, disconnect, send, fetch and vanish
// at random (a seeded RNG; the seed is printed and CHAT_SOAK_SEED replays it). Afterwards every
// acknowledged send is accounted for (pushed to or fetched by its recipient, with the same body)
// and chatd's resident memory is back near its level after the warm-up.
//
// Bounded: CHAT_SOAK_SECONDS (default 60) of load after a warm-up of a sixth of that (at least
// 5 s); scripts/soak runs it longer. CHAT_SOAK_USERS (default 8) client threads.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chat/builtin_transports.hpp"
#include "chatd_process.hpp"
#include "hardening_util.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define CHAT_SOAK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHAT_SOAK_ASAN 1
#endif
#endif

namespace chat::hardening {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kPassword = "soak-pw";
constexpr auto kRequestTimeout = 20s;

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') return fallback;
    return std::strtoull(text, nullptr, 10);
}

std::string user_name(std::size_t i) { return "soak" + std::to_string(i); }

// What the test knows about one stored message: enough to check the copy a recipient gets.
struct Sent {
    std::size_t to = 0;
    std::size_t body_hash = 0;
};

// Everything the client threads saw. Thread use: one mutex guards all of it.
struct Ledger {
    std::mutex mutex;
    std::map<MessageId, Sent> confirmed;                     // sends answered ok
    std::vector<std::map<MessageId, std::size_t>> received;  // per user: id -> body hash
    std::vector<std::string> problems;                       // unexpected errors
    std::size_t failed_sends = 0;  // sends without an answer (their message may exist)
    std::size_t logins = 0;
    std::size_t disconnects = 0;
    std::size_t resets = 0;
    std::size_t pushes = 0;
    std::size_t fetched = 0;

    explicit Ledger(std::size_t users) : received(users) {}

    void problem(std::string text) {
        std::lock_guard lock(mutex);
        if (problems.size() < 20) problems.push_back(std::move(text));
    }

    void receive(std::size_t user, const Message& m, bool pushed) {
        std::lock_guard lock(mutex);
        received[user].emplace(m.id, std::hash<std::string>{}(m.body));
        ++(pushed ? pushes : fetched);
    }
};

std::unique_ptr<Client> make_json_client(std::uint16_t port) {
    ClientConfig config;
    config.host = "127.0.0.1";
    config.port = port;
    config.timeout = kRequestTimeout;
    config.auto_ack = true;
    return builtin_transports().find("json")->make_client(config);
}

// One simulated user: a loop of random actions until `until`. Runs on its own thread and reports
// through the ledger (Catch2 assertions are for the main thread).
class Actor {
   public:
    Actor(std::uint16_t port, std::size_t index, std::size_t users, std::uint64_t seed,
          Ledger& ledger)
        : port_(port), index_(index), users_(users), rng_(seed), ledger_(ledger) {}

    void run(Clock::time_point until) {
        while (Clock::now() < until) {
            if (!client_) {
                connect();
            } else {
                act();
            }
            pause(0, 8);
        }
        if (client_) disconnect();
    }

   private:
    std::size_t random(std::size_t low, std::size_t high) {
        return std::uniform_int_distribution<std::size_t>(low, high)(rng_);
    }

    void pause(std::size_t low_ms, std::size_t high_ms) {
        // Pacing of the simulated user, not synchronisation.
        std::this_thread::sleep_for(std::chrono::milliseconds(random(low_ms, high_ms)));
    }

    std::string body() {
        std::string text = user_name(index_) + "#" + std::to_string(++counter_) + ":";
        text.append(random(1, 400), static_cast<char>('a' + random(0, 25)));
        return text;
    }

    void connect() {
        auto client = make_json_client(port_);
        const std::size_t me = index_;
        Ledger* ledger = &ledger_;
        client->on_message([ledger, me](const Message& m) { ledger->receive(me, m, true); });
        auto connected = client->connect();
        if (!connected) return ledger_.problem("connect: " + connected.error().message);
        auto login = client->login(user_name(index_), kPassword);
        if (!login) return ledger_.problem("login: " + login.error().message);
        client_ = std::move(client);
        std::lock_guard lock(ledger_.mutex);
        ++ledger_.logins;
    }

    void disconnect() {
        client_->close();
        client_.reset();
        std::lock_guard lock(ledger_.mutex);
        ++ledger_.disconnects;
    }

    void record_send(std::size_t to, const std::string& text, const Result<Message>& result) {
        std::lock_guard lock(ledger_.mutex);
        if (!result.ok()) {
            ++ledger_.failed_sends;
            if (ledger_.problems.size() < 20) {
                ledger_.problems.push_back("send: " + result.error().message);
            }
            return;
        }
        ledger_.confirmed.emplace(result->id, Sent{to, std::hash<std::string>{}(text)});
    }

    void act() {
        const std::size_t roll = random(0, 99);
        if (roll < 50) {
            const std::size_t to = random(0, users_ - 1);
            const std::string text = body();
            record_send(to, text, client_->send(user_name(to), text));
        } else if (roll < 62) {
            burst();
        } else if (roll < 76) {
            fetch_and_ack();
        } else if (roll < 84) {
            static const char* const kPatterns[] = {"", "*", "soak?", "SOAK1*", "*7", "x*"};
            auto page = client_->list_accounts(kPatterns[random(0, 5)], random(0, 20));
            if (!page) ledger_.problem("list: " + page.error().message);
        } else if (roll < 86) {
            disconnect();
        } else if (roll < 87) {
            vanish_mid_frame();
        } else {
            auto hello = client_->hello();
            if (!hello) ledger_.problem("hello: " + hello.error().message);
        }
    }

    // Pipelined sends; waits for every answer so that no send is cut off by a later close.
    void burst() {
        struct Pending {
            std::mutex mutex;
            std::condition_variable done;
            std::size_t left = 0;
        };
        auto pending = std::make_shared<Pending>();
        const std::size_t count = random(2, 20);
        pending->left = count;
        for (std::size_t i = 0; i < count; ++i) {
            const std::size_t to = random(0, users_ - 1);
            std::string text = body();
            client_->send_async(user_name(to), text,
                                [this, pending, to, text](Result<Message> result) {
                                    record_send(to, text, result);
                                    std::lock_guard lock(pending->mutex);
                                    --pending->left;
                                    pending->done.notify_all();
                                });
        }
        std::unique_lock lock(pending->mutex);
        if (!pending->done.wait_for(lock, kRequestTimeout * 2,
                                    [&] { return pending->left == 0; })) {
            lock.unlock();
            ledger_.problem("pipelined sends never answered");
        }
    }

    void fetch_and_ack() {
        auto fetched = client_->fetch(random(0, 50));
        if (!fetched) return ledger_.problem("fetch: " + fetched.error().message);
        std::vector<MessageId> ids;
        for (const auto& m : fetched->messages) {
            ledger_.receive(index_, m, false);
            ids.push_back(m.id);
        }
        if (ids.empty()) return;
        auto acked = client_->ack(ids);
        if (!acked) ledger_.problem("ack: " + acked.error().message);
    }

    // A second connection that logs in, starts a frame and resets: the server must shrug.
    void vanish_mid_frame() {
        try {
            RawSocket raw(port_);
            raw.send_all(R"({"op":"login","username":")" + user_name(index_) + R"(","password":")" +
                         kPassword + "\"}\n");
            raw.read_line(kRequestTimeout);
            raw.send_all(R"({"op":"send","to":"soak0","body":"never fin)");
            raw.reset();
            std::lock_guard lock(ledger_.mutex);
            ++ledger_.resets;
        } catch (const std::exception& e) {
            ledger_.problem(std::string("raw socket: ") + e.what());
        }
    }

    const std::uint16_t port_;
    const std::size_t index_;
    const std::size_t users_;
    std::mt19937_64 rng_;
    Ledger& ledger_;
    std::unique_ptr<Client> client_;
    std::uint64_t counter_ = 0;
};

void run_phase(std::uint16_t port, std::size_t users, std::uint64_t seed, std::uint64_t phase,
               Ledger& ledger, std::chrono::seconds duration) {
    const auto until = Clock::now() + duration;
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < users; ++i) {
        threads.emplace_back([=, &ledger] {
            Actor actor(port, i, users, seed * 1000003 + phase * 1009 + i, ledger);
            actor.run(until);
        });
    }
    for (auto& t : threads) t.join();
}

// Every user fetches and acknowledges whatever is still queued, then checks the queue is empty.
void drain_all(std::uint16_t port, std::size_t users, Ledger& ledger) {
    for (std::size_t i = 0; i < users; ++i) {
        auto client = make_json_client(port);
        REQUIRE(client->connect().ok());
        REQUIRE(client->login(user_name(i), kPassword).ok());
        for (int page = 0; page < 100000; ++page) {
            auto fetched = client->fetch(1000);
            REQUIRE(fetched.ok());
            if (fetched->messages.empty()) break;
            for (const auto& m : fetched->messages) ledger.receive(i, m, false);
            REQUIRE(client->ack({}, fetched->messages.back().id).ok());
        }
        client->close();
        auto check = make_json_client(port);
        REQUIRE(check->connect().ok());
        auto login = check->login(user_name(i), kPassword);
        REQUIRE(login.ok());
        CHECK(login->unread == 0);
        check->close();
    }
}

std::size_t rss_kib(pid_t pid) {
    auto kib = resident_kib(pid);
    REQUIRE(kib.has_value());
    return *kib;
}

TEST_CASE("soak: random clients lose nothing and chatd memory returns near its warm-up level",
          "[hardening][soak]") {
    const std::uint64_t seconds = env_number("CHAT_SOAK_SECONDS", 60);
    const std::uint64_t warmup = std::max<std::uint64_t>(5, seconds / 6);
    const std::size_t users = std::max<std::uint64_t>(2, env_number("CHAT_SOAK_USERS", 8));
    const std::uint64_t seed = env_number("CHAT_SOAK_SEED", std::random_device{}());
    std::printf(
        "soak: seed %llu (CHAT_SOAK_SEED=%llu replays it), %zu users, %llu s warm-up, "
        "%llu s load\n",
        static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed), users,
        static_cast<unsigned long long>(warmup), static_cast<unsigned long long>(seconds));
    std::fflush(stdout);

#ifdef CHAT_SOAK_ASAN
    // ASan keeps freed memory in a quarantine (256 MiB by default), which would look like growth;
    // a small one keeps the resident size meaningful. chatd inherits this environment.
    {
        std::string options = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
        options += std::string(options.empty() ? "" : ":") + "quarantine_size_mb=8";
        setenv("ASAN_OPTIONS", options.c_str(), 1);
    }
#endif

    TempDir dir;
    e2e::RunningChatd server({"--store", "sqlite", "--db", (dir.path() / "soak.db").string(),
                              "--threads", "2", "--hash-threads", "2"});
    auto pid = find_child_process(e2e::chatd_path());
    REQUIRE(pid.has_value());
    const std::size_t start_kib = rss_kib(*pid);
    {
        auto setup = make_json_client(server.port);
        REQUIRE(setup->connect().ok());
        for (std::size_t i = 0; i < users; ++i) {
            REQUIRE(setup->create_account(user_name(i), kPassword).ok());
        }
        setup->close();
    }

    Ledger ledger(users);
    run_phase(server.port, users, seed, 0, ledger, std::chrono::seconds(warmup));
    drain_all(server.port, users, ledger);
    const std::size_t warm_kib = rss_kib(*pid);
    std::size_t warm_messages = 0;
    {
        std::lock_guard lock(ledger.mutex);
        warm_messages = ledger.confirmed.size();
    }

    run_phase(server.port, users, seed, 1, ledger, std::chrono::seconds(seconds));
    drain_all(server.port, users, ledger);
    const std::size_t end_kib = rss_kib(*pid);

    std::lock_guard lock(ledger.mutex);
    std::size_t missing = 0;
    std::size_t wrong_body = 0;
    for (const auto& [id, sent] : ledger.confirmed) {
        auto it = ledger.received[sent.to].find(id);
        if (it == ledger.received[sent.to].end()) {
            ++missing;
        } else if (it->second != sent.body_hash) {
            ++wrong_body;
        }
    }
    std::size_t received_total = 0;
    std::size_t unconfirmed = 0;
    for (const auto& per_user : ledger.received) {
        received_total += per_user.size();
        for (const auto& [id, hash] : per_user) {
            if (ledger.confirmed.count(id) == 0) ++unconfirmed;
        }
    }
    std::printf(
        "soak: %zu sends acknowledged (%zu in warm-up), %zu received (%zu pushes, %zu fetched "
        "copies), %zu missing, %zu wrong bodies, %zu received without an acknowledged send, "
        "%zu failed sends\n"
        "soak: %zu logins, %zu disconnects, %zu mid-frame resets\n"
        "soak: chatd VmRSS start %zu KiB, after warm-up %zu KiB, after load %zu KiB "
        "(bound %zu KiB)\n",
        ledger.confirmed.size(), warm_messages, received_total, ledger.pushes, ledger.fetched,
        missing, wrong_body, unconfirmed, ledger.failed_sends, ledger.logins, ledger.disconnects,
        ledger.resets, start_kib, warm_kib, end_kib, 2 * warm_kib + 20 * 1024);
    std::fflush(stdout);
    for (const auto& problem : ledger.problems) UNSCOPED_INFO("client problem: " << problem);
    CHECK(ledger.problems.empty());
    CHECK(ledger.confirmed.size() > warm_messages);
    CHECK(missing == 0);
    CHECK(wrong_body == 0);
    CHECK(unconfirmed <= ledger.failed_sends);
    CHECK(end_kib < 2 * warm_kib + 20 * 1024);
    CHECK(server.stop() == 0);  // a clean exit (and, under ASan, no leak report)
}

}  // namespace
}  // namespace chat::hardening
