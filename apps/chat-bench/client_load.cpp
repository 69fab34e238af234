// ClientLoad: the load through chat::Client, exactly as an application would drive it — the
// same code for every transport, so they are measured alike (see load.hpp).
#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "account_setup.hpp"
#include "chat/builtin_transports.hpp"
#include "load.hpp"

namespace chat::bench {

namespace {

constexpr std::chrono::seconds kRequestTimeout{60};
constexpr std::chrono::seconds kDrainTimeout{30};
// The client setting (chat/transport.hpp, TransportInfo::client_settings) that bounds the sends
// on the wire at once; the gRPC transport has it.
constexpr std::string_view kMaxSendsInFlightSetting = "max_sends_in_flight";

// Thread use: see LoadGenerator.
class ClientLoad final : public LoadGenerator {
   public:
    ClientLoad(const BenchOptions& options, LoadTarget target)
        : options_(options), target_(std::move(target)) {}

    ~ClientLoad() override { close(); }

    void setup() override {
        const auto* info = builtin_transports().find(target_.transport);
        if (info == nullptr) {
            throw std::runtime_error("transport '" + target_.transport + "' is not built in");
        }
        ClientConfig config;
        config.timeout = kRequestTimeout;
        config.auto_ack = true;
        // Every send of the window on the wire at once, where the transport has a setting for
        // it (gRPC; JSON pipelines anyway).
        for (const auto& setting : info->client_settings) {
            if (setting.name == kMaxSendsInFlightSetting) {
                config.settings[setting.name] = std::to_string(options_.window);
            }
        }

        // Connected one at a time, so the sockets that appear belong to the client just made.
        for (unsigned i = 0; i < options_.pairs; ++i) {
            auto receiver = std::make_unique<Receiver>();
            receiver->name = target_.name_prefix + "r" + std::to_string(i);
            receiver->client = info->make_client(at(config, target_.receiver_endpoint(i)));
            ReceiverTally* tally = &receiver->tally;
            add_tally(*tally);
            receiver->client->on_message(
                [this, tally](const Message& m) { tally->record(m.body, measuring()); });
            receiver->client->on_disconnect([this](const Error&) { ++disconnects_; });
            connect_client(*receiver->client, target_.receiver_endpoint(i), receiver->fds);
            receivers_.push_back(std::move(receiver));
        }
        for (unsigned i = 0; i < options_.pairs; ++i) {
            auto sender = std::make_unique<Sender>();
            sender->name = target_.name_prefix + "s" + std::to_string(i);
            sender->to = receivers_[i]->name;
            sender->client = info->make_client(at(config, target_.sender_endpoint(i)));
            sender->client->on_disconnect([this](const Error&) { ++disconnects_; });
            connect_client(*sender->client, target_.sender_endpoint(i), sender->fds);
            senders_.push_back(std::move(sender));
        }

        // Password hashing makes account setup slow; overlap it.
        std::vector<std::pair<Client*, std::string>> accounts;
        for (auto& r : receivers_) accounts.emplace_back(r->client.get(), r->name);
        for (auto& s : senders_) accounts.emplace_back(s->client.get(), s->name);
        run_parallel(accounts.size(), [&](std::size_t index) {
            auto& [client, name] = accounts[index];
            auto created = client->create_account(name, kBenchPassword);
            if (!created) {
                throw std::runtime_error("create_account " + name + ": " + created.error().message);
            }
            auto login = client->login(name, kBenchPassword);
            if (!login) throw std::runtime_error("login " + name + ": " + login.error().message);
        });
    }

    void start() override {
        running_ = true;
        if (options_.rate > 0) {
            pacer_ = std::thread([this] { pace(); });
            return;
        }
        for (auto& sender : senders_) {
            for (unsigned k = 0; k < options_.window; ++k) issue(*sender, now_nanos());
        }
    }

    void stop() override {
        running_ = false;
        if (pacer_.joinable()) pacer_.join();
        const auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
        auto in_flight = [this] {
            int total = 0;
            for (auto& s : senders_) total += s->inflight.load();
            return total;
        };
        // Completions arrive on the clients' threads; there is no event to wait on here without
        // slowing every send down, so look every millisecond (bounded).
        while (in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        while (delivered_total() < sent_ok_total() && std::chrono::steady_clock::now() < deadline &&
               disconnects_.load() == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }

    void close() override {
        running_ = false;
        if (pacer_.joinable()) pacer_.join();
        // Closing waits for each client's threads; do it side by side.
        run_parallel(senders_.size(), [this](std::size_t i) { senders_[i]->client->close(); });
        run_parallel(receivers_.size(), [this](std::size_t i) { receivers_[i]->client->close(); });
        senders_.clear();
        forget_tallies();
        receivers_.clear();
    }

    LoadCounters counters() override {
        LoadCounters c = shared_counters();
        c.send_errors += disconnects_.load();
        for (auto& s : senders_) c.senders += wire_bytes(s->fds);
        for (auto& r : receivers_) c.receivers += wire_bytes(r->fds);
        return c;
    }

   private:
    struct Sender {
        std::string name;
        std::string to;
        std::unique_ptr<Client> client;
        std::vector<int> fds;
        std::atomic<int> inflight{0};
    };
    struct Receiver {
        std::string name;
        std::unique_ptr<Client> client;
        std::vector<int> fds;
        ReceiverTally tally;
    };

    static ClientConfig at(ClientConfig config, const Endpoint& endpoint) {
        config.host = endpoint.host;
        config.port = endpoint.port;
        return config;
    }

    void connect_client(Client& client, const Endpoint& endpoint, std::vector<int>& fds) {
        const auto before = open_sockets();
        if (auto connected = client.connect(); !connected) {
            throw std::runtime_error("cannot connect to " + target_.transport + " at " +
                                     endpoint.host + ":" + std::to_string(endpoint.port) + ": " +
                                     connected.error().message);
        }
        fds = new_server_sockets(before, open_sockets(), endpoint.port);
    }

    // Runs on the caller's thread or, from a completion, on the sender's client thread.
    void issue(Sender& sender, std::uint64_t stamp) {
        std::string body;
        make_body(stamp, options_.size, body);
        sender.inflight.fetch_add(1);
        sender.client->send_async(sender.to, body, [this, &sender](Result<Message> result) {
            count_send(result.ok());
            // Issue the next one before counting this one out, so the count never touches zero
            // while the loop goes on.
            if (result.ok() && options_.rate <= 0 && running_.load()) issue(sender, now_nanos());
            sender.inflight.fetch_sub(1);
        });
    }

    // Open loop: one send every 1/rate seconds, round robin over the senders, stamped with the
    // time it was due (so a late send shows as latency rather than hiding it).
    void pace() {
        const double interval = 1e9 / options_.rate;
        const std::uint64_t start = now_nanos();
        for (std::uint64_t k = 0; running_.load(); ++k) {
            const auto due = start + static_cast<std::uint64_t>(static_cast<double>(k) * interval);
            const auto now = now_nanos();
            if (due > now) std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
            Sender& sender = *senders_[k % senders_.size()];
            if (sender.inflight.load() >= static_cast<int>(options_.window)) {
                count_skipped();
                continue;
            }
            issue(sender, due);
        }
    }

    const BenchOptions& options_;
    const LoadTarget target_;
    std::vector<std::unique_ptr<Receiver>> receivers_;
    std::vector<std::unique_ptr<Sender>> senders_;
    std::thread pacer_;
    std::atomic<bool> running_{false};
    std::atomic<std::uint64_t> disconnects_{0};
};

}  // namespace

std::unique_ptr<LoadGenerator> make_client_load(const BenchOptions& options,
                                                const LoadTarget& target) {
    return std::make_unique<ClientLoad>(options, target);
}

}  // namespace chat::bench
