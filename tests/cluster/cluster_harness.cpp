// The pieces of a cluster test (see cluster_harness.hpp).
#include "cluster_harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "chat/builtin_transports.hpp"

extern char** environ;

namespace chat::cluster {

using namespace std::chrono_literals;

const char* haproxy_path() { return CHAT_HAPROXY_PATH; }

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "chat-cluster-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

std::uint16_t pick_free_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        close(fd);
        throw std::runtime_error("cannot bind an ephemeral port");
    }
    close(fd);
    return ntohs(addr.sin_port);
}

namespace {

// True when something accepts a TCP connection on 127.0.0.1:port right now.
bool accepts(std::uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
}

std::vector<std::string> node_args(const std::string& name, const std::string& pg_url,
                                   std::vector<std::string> extra) {
    std::vector<std::string> args = {"--store=postgres",
                                     "--pg-url",
                                     pg_url,
                                     "--node-name",
                                     name,
                                     "--transport=json,grpc",
                                     "--json-port=0",
                                     "--grpc-port=0",
                                     "--threads=2",
                                     "--hash-threads=1",
                                     "--rate-limit=0",
                                     "--max-connections-per-address=0",
                                     "--hash-jobs-per-address=0"};
    for (auto& arg : extra) args.push_back(std::move(arg));
    return args;
}

// The test's HAProxy config: the settings of scripts/cluster's, on the given ports.
std::string haproxy_config(std::uint16_t json_port, std::uint16_t grpc_port,
                           const std::vector<Haproxy::Backend>& backends) {
    std::ostringstream out;
    out << "global\n"
           "    maxconn 4096\n"
           "defaults\n"
           "    mode tcp\n"
           "    log stdout format raw local0 info\n"
           "    option tcplog\n"
           "    option dontlognull\n"
           "    timeout connect 2s\n"
           "    timeout client 1h\n"
           "    timeout server 1h\n"
           "    timeout tunnel 1h\n"
           "    retries 2\n"
           "    option redispatch\n"
           "    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions\n";
    for (const std::string transport : {"json", "grpc"}) {
        out << "frontend front_" << transport << "\n"
            << "    bind 127.0.0.1:" << (transport == "json" ? json_port : grpc_port) << "\n"
            << "    default_backend nodes_" << transport << "\n"
            << "backend nodes_" << transport << "\n"
            << "    balance leastconn\n"
            << "    option tcp-check\n";
        for (const auto& backend : backends) {
            out << "    server " << backend.name
                << " 127.0.0.1:" << (transport == "json" ? backend.json_port : backend.grpc_port)
                << " check\n";
        }
    }
    return out.str();
}

}  // namespace

Node::Node(std::string name, const std::string& pg_url, std::vector<std::string> extra)
    : name_(std::move(name)), process_(node_args(name_, pg_url, std::move(extra))) {
    auto json = process_.wait_port("json", 30s);
    auto grpc = json ? process_.wait_port("grpc", 10s) : std::nullopt;
    if (!json || !grpc || !process_.wait_log(" chatd ready ", 10s)) {
        throw std::runtime_error("node " + name_ + " did not come up; log:\n" + process_.log());
    }
    json_port_ = *json;
    grpc_port_ = *grpc;
}

void Node::kill9() { process_.stop(SIGKILL); }

int Node::stop() { return process_.stop(SIGTERM); }

Haproxy::Haproxy(const std::filesystem::path& dir, const std::vector<Backend>& backends)
    : log_path_(dir / "haproxy.log"), json_port_(pick_free_port()), grpc_port_(pick_free_port()) {
    const auto config_path = dir / "haproxy.cfg";
    {
        std::ofstream config(config_path);
        config << haproxy_config(json_port_, grpc_port_, backends);
        if (!config) throw std::runtime_error("cannot write " + config_path.string());
    }
    std::vector<std::string> argv_strings = {haproxy_path(), "-db", "-f", config_path.string()};
    std::vector<char*> argv;
    for (auto& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        pid_ = -1;
        throw std::runtime_error(std::string("cannot start haproxy: ") + std::strerror(rc));
    }
    // Ready once both front ports accept: HAProxy binds them before it serves. Nothing to wait
    // on but the ports themselves, so this polls, bounded.
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!(accepts(json_port_) && accepts(grpc_port_))) {
        if (exited() || std::chrono::steady_clock::now() > deadline) {
            std::string output = log();
            if (pid_ > 0) kill(pid_, SIGKILL);
            exited();
            while (pid_ > 0 && waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
            }
            pid_ = -1;
            throw std::runtime_error("haproxy did not come up; its output:\n" + output);
        }
        std::this_thread::sleep_for(20ms);
    }
}

bool Haproxy::exited() {
    if (pid_ <= 0) return true;
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
    }
    return false;
}

Haproxy::~Haproxy() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!exited() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
}

std::string Haproxy::log() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

Peer::Peer(const Options& options) {
    ClientConfig config;
    config.host = "127.0.0.1";
    config.port = options.port;
    config.timeout = options.timeout;
    config.reconnect.enabled = options.reconnect;
    // Fast retries: a test waits for them.
    config.reconnect.min_backoff = 50ms;
    config.reconnect.max_backoff = 500ms;
    const auto* info = builtin_transports().find(options.transport);
    if (info == nullptr) throw std::runtime_error("no transport " + options.transport);
    client_ = info->make_client(config);
    client_->on_message([this](const Message& message) {
        std::lock_guard lock(mutex_);
        state_.received.push_back(message);
        state_.epoch.push_back(state_.lost);
        changed_.notify_all();
    });
    client_->on_logged_out([this](LogoutReason reason) {
        std::lock_guard lock(mutex_);
        state_.logged_out = reason;
        changed_.notify_all();
    });
    client_->on_disconnect([this](const Error& error) {
        std::lock_guard lock(mutex_);
        state_.disconnected = error;
        state_.up = false;
        changed_.notify_all();
    });
    client_->on_reconnect([this](const ReconnectEvent& event) {
        std::lock_guard lock(mutex_);
        switch (event.kind) {
            case ReconnectEvent::Kind::lost:
                ++state_.lost;
                state_.up = false;
                break;
            case ReconnectEvent::Kind::restored:
                ++state_.restored;
                state_.up = true;
                break;
            case ReconnectEvent::Kind::gave_up:
                ++state_.gave_up;
                break;
        }
        changed_.notify_all();
    });
    if (auto connected = client_->connect(); !connected) {
        throw std::runtime_error("connect to port " + std::to_string(options.port) + ": " +
                                 connected.error().message);
    }
}

Peer::~Peer() { client_->close(); }

bool Peer::wait_until(const std::function<bool(const State&)>& ready,
                      std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return ready(state_); });
}

bool Peer::wait_up(std::chrono::milliseconds timeout) {
    bool up = wait_until([](const State& s) { return s.up || s.gave_up > 0; }, timeout);
    std::lock_guard lock(mutex_);
    return up && state_.up && state_.gave_up == 0;
}

bool Peer::wait_message(MessageId id, std::chrono::milliseconds timeout) {
    return wait_until(
        [id](const State& s) {
            for (const auto& message : s.received) {
                if (message.id == id) return true;
            }
            return false;
        },
        timeout);
}

Peer::State Peer::state() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void create_account(std::uint16_t port, const std::string& name, const std::string& password) {
    Peer peer(Peer::Options{.transport = "json", .port = port});
    if (auto created = peer.client().create_account(name, password); !created) {
        throw std::runtime_error("create_account " + name + ": " + created.error().message);
    }
}

}  // namespace chat::cluster
