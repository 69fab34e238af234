// RedisServer: spawns and stops the reference redis-server (see redis_server.hpp).
#include "redis_server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench_options.hpp"
#include "raw_json.hpp"
#include "resp.hpp"

extern char** environ;

namespace chat::bench {

namespace {

constexpr std::chrono::seconds kStartTimeout{15};
constexpr std::chrono::seconds kStopGrace{15};
constexpr int kStartAttempts = 3;

// A loopback port nobody holds right now (the kernel's pick for port 0). Another process may
// take it before redis-server binds it: the caller retries.
std::uint16_t free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        const int error = errno;
        close(fd);
        throw std::runtime_error(std::string("cannot pick a port: ") + std::strerror(error));
    }
    close(fd);
    return ntohs(address.sin_port);
}

// One PING on a fresh connection; true on +PONG.
bool answers_ping(std::uint16_t port) {
    Endpoint endpoint;
    endpoint.port = port;
    int fd = -1;
    try {
        fd = connect_tcp(endpoint);
    } catch (const std::exception&) {
        return false;
    }
    std::string request;
    resp::append_command(request, {"PING"});
    std::string buffer;
    resp::Value value;
    bool ok = false;
    try {
        redis_request(fd, request, buffer, value);
        ok = value.kind == resp::Kind::simple && value.text == "PONG";
    } catch (const std::exception&) {
    }
    close(fd);
    return ok;
}

std::string read_file(const std::string& path) {
    std::ifstream file(path);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

}  // namespace

void redis_request(int fd, const std::string& command, std::string& buffer, resp::Value& value) {
    if (::write(fd, command.data(), command.size()) != static_cast<ssize_t>(command.size())) {
        throw std::runtime_error("redis: write failed");
    }
    buffer.clear();
    char chunk[512];
    for (;;) {
        std::size_t used = 0;
        const auto result = resp::parse(buffer, value, used);
        if (result == resp::Parse::complete) {
            buffer.resize(used);  // nothing follows a reply nobody else asked for
            return;
        }
        if (result == resp::Parse::malformed) throw std::runtime_error("redis: malformed reply");
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) throw std::runtime_error("redis: connection closed or timed out");
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
}

pid_t spawn_pinned(const std::vector<std::string>& args, char* const* envp, int log_fd,
                   const std::vector<int>& cpus) {
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& arg : copy) argv.push_back(arg.data());
    argv.push_back(nullptr);

    cpu_set_t saved;
    const bool pin = !cpus.empty();
    if (pin) {
        if (sched_getaffinity(0, sizeof saved, &saved) != 0) {
            throw std::runtime_error(std::string("sched_getaffinity: ") + std::strerror(errno));
        }
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int cpu : cpus) CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            throw std::runtime_error(std::string("cannot pin the server: ") + std::strerror(errno));
        }
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, log_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, log_fd, STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp);
    posix_spawn_file_actions_destroy(&actions);
    if (pin) sched_setaffinity(0, sizeof saved, &saved);
    if (rc != 0) {
        throw std::runtime_error("cannot start " + args.front() + ": " + std::strerror(rc));
    }
    return pid;
}

RedisServer::RedisServer(const std::string& binary, const std::vector<int>& cpus) {
    log_path_ = (std::filesystem::temp_directory_path() /
                 ("chat-bench-redis-" + std::to_string(getpid()) + ".log"))
                    .string();
    std::string why;
    for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
        if (start_once(binary, cpus, why)) return;
    }
    std::error_code ec;
    std::filesystem::remove(log_path_, ec);
    throw std::runtime_error("redis-server did not start (" + why + ")");
}

bool RedisServer::start_once(const std::string& binary, const std::vector<int>& cpus,
                             std::string& why) {
    port_ = free_port();
    const std::vector<std::string> args = {binary,
                                           "--port",
                                           std::to_string(port_),
                                           "--bind",
                                           "127.0.0.1",
                                           "--save",
                                           "",
                                           "--appendonly",
                                           "no",
                                           "--daemonize",
                                           "no",
                                           "--io-threads",
                                           "1",
                                           "--maxclients",
                                           "10000",
                                           "--client-output-buffer-limit",
                                           "pubsub 0 0 0",
                                           "--dir",
                                           std::filesystem::temp_directory_path().string(),
                                           "--loglevel",
                                           "warning"};
    const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0) throw std::runtime_error("cannot write " + log_path_);
    try {
        pid_ = spawn_pinned(args, environ, log_fd, cpus);
    } catch (...) {
        ::close(log_fd);
        throw;
    }
    ::close(log_fd);
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            why = "it exited; its log: " + read_file(log_path_);
            return false;
        }
        if (answers_ping(port_)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    why =
        "no answer to PING on port " + std::to_string(port_) + "; its log: " + read_file(log_path_);
    stop();
    return false;
}

RedisServer::~RedisServer() {
    stop();
    std::error_code ec;
    std::filesystem::remove(log_path_, ec);
}

int RedisServer::stop() {
    if (pid_ <= 0) return exit_status_;
    kill(pid_, SIGTERM);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + kStopGrace;
    for (;;) {
        const pid_t done = waitpid(pid_, &status, WNOHANG);
        if (done == pid_ || (done < 0 && errno != EINTR)) break;
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid_, SIGKILL);
            while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_status_;
}

}  // namespace chat::bench
