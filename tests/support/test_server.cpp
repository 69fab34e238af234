// TestServer, PushInbox and unique test usernames.
#include "support/test_server.hpp"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>

#include "chat/builtin_transports.hpp"
#include "chat/memory_store.hpp"
#include "chat/sqlite_store.hpp"
#ifdef CHAT_TEST_HAVE_POSTGRES
#include "chat/postgres_store.hpp"
#include "support/pg_server.hpp"
#endif

namespace chat::test {

namespace {

ServiceConfig test_service_config(const Limits& limits) {
    ServiceConfig config;
    config.limits = limits;
    config.hash_threads = 1;
    // The cheapest Argon2id cost libsodium accepts (crypto_pwhash_OPSLIMIT_MIN / MEMLIMIT_MIN):
    // the suites create hundreds of accounts and must stay fast.
    config.pwhash_opslimit = 1;
    config.pwhash_memlimit = 8192;
    return config;
}

const TransportInfo& find_transport(std::string_view name) {
    const TransportInfo* info = builtin_transports().find(name);
    if (info == nullptr) {
        throw std::runtime_error("transport not built in: " + std::string(name));
    }
    return *info;
}

}  // namespace

std::string unique_name(std::string_view tag) {
    static std::atomic<unsigned long> counter{0};
    const std::string suffix = "_" + std::to_string(++counter);
    const std::size_t room = Limits::kMaxUsername - suffix.size();
    return std::string(tag.substr(0, room)) + suffix;
}

void PushInbox::attach(const std::shared_ptr<PushInbox>& inbox, Client& client) {
    client.on_message([inbox](const Message& message) { inbox->add_message(message); });
    client.on_logged_out([inbox](LogoutReason reason) { inbox->add_logged_out(reason); });
    client.on_disconnect([inbox](const Error& error) { inbox->add_disconnect(error); });
}

void PushInbox::add_message(const Message& message) {
    {
        std::lock_guard lock(mutex_);
        messages_.push_back(message);
        if (saw_logged_out_) ++after_logged_out_;
    }
    changed_.notify_all();
}

void PushInbox::add_logged_out(LogoutReason reason) {
    {
        std::lock_guard lock(mutex_);
        logged_out_.push_back(reason);
        saw_logged_out_ = true;
    }
    changed_.notify_all();
}

void PushInbox::add_disconnect(const Error& error) {
    {
        std::lock_guard lock(mutex_);
        disconnects_.push_back(error);
    }
    changed_.notify_all();
}

std::optional<Message> PushInbox::wait_message(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return !messages_.empty(); })) return std::nullopt;
    Message message = std::move(messages_.front());
    messages_.pop_front();
    return message;
}

std::vector<Message> PushInbox::wait_messages(std::size_t count,
                                              std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
    std::vector<Message> out;
    while (out.size() < count && !messages_.empty()) {
        out.push_back(std::move(messages_.front()));
        messages_.pop_front();
    }
    return out;
}

std::optional<LogoutReason> PushInbox::wait_logged_out(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return !logged_out_.empty(); })) {
        return std::nullopt;
    }
    LogoutReason reason = logged_out_.front();
    logged_out_.pop_front();
    return reason;
}

std::optional<Error> PushInbox::wait_disconnect(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return !disconnects_.empty(); })) {
        return std::nullopt;
    }
    Error error = std::move(disconnects_.front());
    disconnects_.pop_front();
    return error;
}

bool PushInbox::expect_no_message(std::chrono::milliseconds window) {
    std::unique_lock lock(mutex_);
    return !changed_.wait_for(lock, window, [&] { return !messages_.empty(); });
}

std::size_t PushInbox::pending_messages() const {
    std::lock_guard lock(mutex_);
    return messages_.size();
}

std::size_t PushInbox::messages_after_logged_out() const {
    std::lock_guard lock(mutex_);
    return after_logged_out_;
}

Limits test_limits() {
    Limits limits;
    limits.rate_limit = 0;
    return limits;
}

std::string default_store_setup() {
    const char* env = std::getenv("CHAT_TEST_STORE");
    return env != nullptr && *env != '\0' ? std::string(env) : std::string("memory");
}

// A database file in the temp directory with a fresh name, removed (with its WAL companions)
// when this is destroyed.
struct TempDbFile {
    std::filesystem::path path;

    TempDbFile() = default;
    TempDbFile(const TempDbFile&) = delete;
    TempDbFile& operator=(const TempDbFile&) = delete;
    ~TempDbFile() {
        if (path.empty()) return;
        std::error_code ec;
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
            std::filesystem::remove(path.string() + suffix, ec);
        }
    }

    void make_fresh() {
        static std::atomic<unsigned> counter{0};
        std::random_device rd;
        path =
            std::filesystem::temp_directory_path() /
            ("chat_test_server_" + std::to_string(rd()) + "_" + std::to_string(++counter) + ".db");
    }
};

// One node: a store (its own, or the node's connection to the shared database), a core on it and
// the transports serving that core. `db_file` comes first, so it outlives the store using it.
struct TestServer::Node {
    TempDbFile db_file;
    std::unique_ptr<Store> store;
    std::unique_ptr<ChatService> service;
    std::vector<std::unique_ptr<ServerTransport>> servers;  // parallel to transports_
};

namespace {

// The stores of a set-up: one per node. A SQLite store's file is named in `sqlite_file`.
std::vector<std::unique_ptr<Store>> make_stores(const std::string& setup, TempDbFile& sqlite_file) {
    std::vector<std::unique_ptr<Store>> stores;
    if (setup == "memory") {
        stores.push_back(std::make_unique<MemoryStore>());
        return stores;
    }
    if (setup == "sqlite") {
        sqlite_file.make_fresh();
        SqliteOptions options;
        options.path = sqlite_file.path.string();
        stores.push_back(std::make_unique<SqliteStore>(options));
        return stores;
    }
    if (setup == "pg1" || setup == "pg3") {
#ifdef CHAT_TEST_HAVE_POSTGRES
        const std::string url = PgServer::shared().create_database();
        const std::size_t count = setup == "pg3" ? 3 : 1;
        for (std::size_t i = 0; i < count; ++i) {
            PostgresOptions options;
            options.url = url;
            options.node_name = "node" + std::to_string(i + 1);
            stores.push_back(std::make_unique<PostgresStore>(options));
        }
        return stores;
#else
        throw std::runtime_error("store set-up " + setup + " needs a build with PostgreSQL");
#endif
    }
    throw std::runtime_error("unknown store set-up: " + setup + " (memory, pg1 or pg3)");
}

}  // namespace

TestServer::TestServer(std::string transport, TestServerOptions options)
    : transports_{std::move(transport)}, options_(std::move(options)) {
    for (const auto& extra : options_.also_serve) {
        if (extra != transports_.front()) transports_.push_back(extra);
    }
    ServerConfig config;
    config.listen = "127.0.0.1";
    config.port = 0;
    config.threads = options_.io_threads;
    try {
        TempDbFile sqlite_file;  // declared first: outlives the stores below if one throws
        auto stores = make_stores(options_.store, sqlite_file);
        for (auto& store : stores) {
            auto node = std::make_unique<Node>();
            node->db_file.path = std::exchange(sqlite_file.path, {});
            node->store = std::move(store);
            node->service =
                std::make_unique<ChatService>(*node->store, test_service_config(options_.limits));
            nodes_.push_back(std::move(node));
        }
        for (auto& node : nodes_) {
            for (const auto& name : transports_) {
                auto server = find_transport(name).make_server(*node->service, config);
                if (!server) throw std::runtime_error("transport made no server: " + name);
                server->start();
                node->servers.push_back(std::move(server));
            }
        }
    } catch (...) {
        stop();
        throw;
    }
}

TestServer::~TestServer() { stop(); }

void TestServer::stop() {
    for (auto& node : nodes_) {
        for (auto& server : node->servers) server->stop();
    }
}

ChatService& TestServer::service() noexcept { return *nodes_.front()->service; }

std::size_t TestServer::index_of(std::string_view transport) const {
    if (transport.empty()) return 0;
    for (std::size_t i = 0; i < transports_.size(); ++i) {
        if (transports_[i] == transport) return i;
    }
    throw std::runtime_error("transport not served by this test server: " + std::string(transport));
}

std::uint16_t TestServer::port(std::string_view transport, std::size_t node) const {
    return nodes_.at(node)->servers.at(index_of(transport))->local_port();
}

TestClient TestServer::make_client(bool auto_ack, std::string_view transport) const {
    const std::size_t index = index_of(transport);
    const std::size_t node = options_.one_node ? 0 : next_node_++ % nodes_.size();
    ClientConfig config;
    config.host = "127.0.0.1";
    config.port = nodes_.at(node)->servers.at(index)->local_port();
    config.timeout = options_.client_timeout;
    config.auto_ack = auto_ack;
    TestClient out;
    out.client = find_transport(transports_[index]).make_client(config);
    if (!out.client) throw std::runtime_error("transport made no client: " + transports_[index]);
    out.inbox = std::make_shared<PushInbox>();
    PushInbox::attach(out.inbox, *out.client);
    return out;
}

TestClient TestServer::connect_client(bool auto_ack, std::string_view transport) const {
    TestClient out = make_client(auto_ack, transport);
    auto connected = out->connect();
    if (!connected) {
        throw std::runtime_error("connect failed: " + std::string(to_string(connected.code())) +
                                 ": " + connected.error().message);
    }
    return out;
}

}  // namespace chat::test
