// ServerProcess: spawns and stops chatd (see server_process.hpp).
#include "server_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "redis_server.hpp"

extern char** environ;

namespace chat::bench {

namespace {

constexpr std::size_t kTailBytes = 16 * 1024;
constexpr std::chrono::seconds kStartTimeout{30};
constexpr std::chrono::seconds kStopGrace{30};

// `key=value` out of one log line; empty when absent.
std::string field(const std::string& line, const std::string& key) {
    const std::string needle = " " + key + "=";
    auto at = line.find(needle);
    if (at == std::string::npos) return {};
    at += needle.size();
    auto end = line.find(' ', at);
    return line.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) out += (out.empty() ? "" : ",") + name;
    return out;
}

}  // namespace

std::string find_chatd(const std::string& self_path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path self = fs::canonical(self_path, ec);
    if (ec) self = fs::path(self_path);
    const fs::path dir = self.parent_path();
    for (const fs::path& candidate : {dir / ".." / "chatd" / "chatd", dir / "chatd"}) {
        if (fs::is_regular_file(candidate, ec) && access(candidate.c_str(), X_OK) == 0) {
            return fs::weakly_canonical(candidate, ec).string();
        }
    }
    return {};
}

ServerProcess::ServerProcess(SpawnOptions options) : options_(std::move(options)) {
    std::vector<std::string> args = {options_.chatd_path,
                                     "--transport",
                                     join(options_.transports),
                                     "--listen",
                                     "127.0.0.1",
                                     "--json-port",
                                     "0",
                                     "--grpc-port",
                                     "0",
                                     "--ws-port",
                                     "0",
                                     "--store",
                                     options_.store,
                                     "--rate-limit",
                                     "0",
                                     "--max-connections",
                                     std::to_string(options_.max_connections),
                                     "--max-connections-per-address",
                                     "0",
                                     "--log-level",
                                     "info"};
    if (options_.store == "sqlite") {
        args.insert(args.end(), {"--db", options_.db_path});
    }
    if (options_.store == "postgres") {
        // Through the environment, which keeps a password in it out of the process list.
        if (options_.pg_url.empty()) throw std::runtime_error("--store postgres needs its URL");
    }
    if (!options_.node_name.empty()) {
        args.insert(args.end(), {"--node-name", options_.node_name});
    }
    if (options_.io_threads != 0) {
        args.insert(args.end(), {"--threads", std::to_string(options_.io_threads)});
    }
    // The server sees no CHATD_* variables of ours: only the flags above (and the database URL)
    // configure it.
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::strncmp(*e, "CHATD_", 6) != 0) env_strings.emplace_back(*e);
    }
    if (options_.store == "postgres") env_strings.push_back("CHATD_PG_URL=" + options_.pg_url);
    std::vector<char*> envp;
    for (auto& entry : env_strings) envp.push_back(entry.data());
    envp.push_back(nullptr);

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    try {
        pid_ = spawn_pinned(args, envp.data(), fds[1], options_.cpus);
    } catch (...) {
        close(fds[0]);
        close(fds[1]);
        pid_ = -1;
        throw;
    }
    close(fds[1]);
    log_fd_ = fds[0];
    drainer_ = std::thread([this] { drain(); });
    if (!wait_ports(kStartTimeout)) {
        stop();
        // No destructor runs after a throwing constructor: the drainer must end here.
        drainer_.join();
        close(log_fd_);
        log_fd_ = -1;
        std::string tail = log_tail();
        throw std::runtime_error("chatd did not start listening; its log:\n" + tail);
    }
}

ServerProcess::~ServerProcess() {
    stop();
    if (drainer_.joinable()) drainer_.join();
    if (log_fd_ >= 0) close(log_fd_);
}

void ServerProcess::drain() {
    char buffer[8192];
    for (;;) {
        const ssize_t n = read(log_fd_, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        std::lock_guard lock(mutex_);
        if (n <= 0) {
            eof_ = true;
            changed_.notify_all();
            return;
        }
        const std::string_view chunk(buffer, static_cast<std::size_t>(n));
        tail_.append(chunk);
        if (tail_.size() > 2 * kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
        partial_.append(chunk);
        std::size_t start = 0;
        for (auto newline = partial_.find('\n'); newline != std::string::npos;
             newline = partial_.find('\n', start)) {
            const std::string line = partial_.substr(start, newline - start);
            start = newline + 1;
            if (const auto at = line.find(" chatd threads "); at != std::string::npos) {
                threads_ = line.substr(at + 15);
                continue;
            }
            if (line.find(" listening ") == std::string::npos) continue;
            const std::string name = field(line, "transport");
            const std::string port = field(line, "port");
            if (!name.empty() && !port.empty()) {
                ports_[name] = static_cast<std::uint16_t>(std::stoul(port));
                changed_.notify_all();
            }
        }
        partial_.erase(0, start);
        if (partial_.size() > kTailBytes) partial_.clear();  // a line that never ends
    }
}

bool ServerProcess::wait_ports(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [this] {
        if (eof_) return true;
        for (const auto& name : options_.transports) {
            if (!ports_.contains(name)) return false;
        }
        return true;
    }) && !eof_;
}

std::optional<std::uint16_t> ServerProcess::port(const std::string& transport) const {
    std::lock_guard lock(mutex_);
    auto it = ports_.find(transport);
    if (it == ports_.end()) return std::nullopt;
    return it->second;
}

std::string ServerProcess::threads() const {
    std::lock_guard lock(mutex_);
    return threads_;
}

std::string ServerProcess::log_tail() const {
    std::lock_guard lock(mutex_);
    return tail_.size() > kTailBytes ? tail_.substr(tail_.size() - kTailBytes) : tail_;
}

int ServerProcess::stop() {
    if (pid_ <= 0) return exit_status_;
    kill(pid_, SIGTERM);
    {
        // Its end of the log pipe closes when it exits.
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, kStopGrace, [this] { return eof_; })) kill(pid_, SIGKILL);
    }
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (!options_.db_path.empty()) {
        std::error_code ec;
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::filesystem::remove(options_.db_path + suffix, ec);
        }
    }
    return exit_status_;
}

}  // namespace chat::bench
