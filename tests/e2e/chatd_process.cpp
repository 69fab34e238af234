// ChatdProcess: runs the real chatd binary for a test (see chatd_process.hpp).
#include "chatd_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace chat::e2e {

const char* chatd_path() { return CHAT_CHATD_PATH; }

ChatdProcess::ChatdProcess(std::vector<std::string> args, std::vector<std::string> env) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");

    std::vector<std::string> argv_strings;
    argv_strings.emplace_back(chatd_path());
    for (auto& arg : args) argv_strings.push_back(std::move(arg));
    std::vector<char*> argv;
    for (auto& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);

    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        std::string entry(*e);
        // A test sees only the variables it sets (the test process itself sets gRPC's cipher
        // list when its own clients use TLS).
        if (entry.rfind("CHATD_", 0) == 0 || entry.rfind("GRPC_SSL_CIPHER_SUITES=", 0) == 0) {
            continue;
        }
        env_strings.push_back(std::move(entry));
    }
    for (auto& entry : env) env_strings.push_back(std::move(entry));
    std::vector<char*> envp;
    for (auto& entry : env_strings) envp.push_back(entry.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        pid_ = -1;
        throw std::runtime_error(std::string("cannot start chatd: ") + std::strerror(rc));
    }
    stderr_fd_ = fds[0];
    drainer_ = std::thread([this] { drain(); });
}

ChatdProcess::~ChatdProcess() {
    if (pid_ > 0) {
        kill(pid_, SIGKILL);
        reap(std::chrono::seconds(20));
    }
    if (drainer_.joinable()) drainer_.join();
    if (stderr_fd_ >= 0) close(stderr_fd_);
}

void ChatdProcess::drain() {
    char buffer[4096];
    while (true) {
        ssize_t n = read(stderr_fd_, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        std::lock_guard lock(mutex_);
        if (n <= 0) {
            eof_ = true;
            changed_.notify_all();
            return;
        }
        log_.append(buffer, static_cast<std::size_t>(n));
        changed_.notify_all();
    }
}

std::optional<std::uint16_t> ChatdProcess::wait_port(std::string_view transport,
                                                     std::chrono::milliseconds timeout) {
    const std::string marker = "listening transport=" + std::string(transport) + " ";
    std::unique_lock lock(mutex_);
    std::optional<std::uint16_t> port;
    changed_.wait_for(lock, timeout, [&] {
        auto at = log_.find(marker);
        if (at != std::string::npos) {
            auto line_end = log_.find('\n', at);
            if (line_end != std::string::npos) {
                auto port_at = log_.find(" port=", at);
                if (port_at != std::string::npos && port_at < line_end) {
                    port = static_cast<std::uint16_t>(std::stoi(log_.substr(port_at + 6)));
                    return true;
                }
            }
        }
        return eof_;
    });
    return port;
}

bool ChatdProcess::wait_log(std::string_view text, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
        return log_.find(text) != std::string::npos || eof_;
    }) && log_.find(text) != std::string::npos;
}

int ChatdProcess::stop(int signal, std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    kill(pid_, signal);
    return reap(timeout);
}

int ChatdProcess::wait_exit(std::chrono::milliseconds timeout) { return reap(timeout); }

int ChatdProcess::reap(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    // The stderr pipe reaches EOF when the process is gone: an event to wait on, no polling.
    bool exited = false;
    {
        std::unique_lock lock(mutex_);
        exited = changed_.wait_for(lock, timeout, [this] { return eof_; });
    }
    if (!exited) kill(pid_, SIGKILL);
    int status = 0;
    pid_t r = 0;
    do {
        r = waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    pid_ = -1;
    if (!exited || r < 0) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

std::string ChatdProcess::log() const {
    std::lock_guard lock(mutex_);
    return log_;
}

namespace {

// The defaults of a test server; a flag given in `extra` replaces its default.
std::vector<std::string> memory_args(std::vector<std::string> extra) {
    const std::vector<std::pair<std::string, std::string>> defaults = {
        {"--store", "memory"},   {"--json-port", "0"},    {"--rate-limit", "0"},
        {"--transport", "json"}, {"--hash-threads", "2"}, {"--threads", "2"}};
    std::vector<std::string> args;
    for (const auto& [flag, value] : defaults) {
        bool overridden = false;
        for (const auto& arg : extra) {
            if (arg == flag || arg.rfind(flag + "=", 0) == 0) overridden = true;
        }
        if (!overridden) {
            args.push_back(flag);
            args.push_back(value);
        }
    }
    for (auto& arg : extra) args.push_back(std::move(arg));
    return args;
}

}  // namespace

RunningChatd::RunningChatd(std::vector<std::string> extra)
    : process(memory_args(std::move(extra))) {
    auto found = process.wait_port();
    if (!found) {
        throw std::runtime_error("chatd did not report its port; log:\n" + process.log());
    }
    port = *found;
}

RunningChatd::~RunningChatd() {
    if (!stopped) stop();
}

int RunningChatd::stop() {
    stopped = true;
    return process.stop(SIGTERM);
}

}  // namespace chat::e2e
