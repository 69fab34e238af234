// PostgreSQL servers and databases for chat-bench (see postgres_setup.hpp).
#include "postgres_setup.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

extern char** environ;

namespace chat::bench {

namespace {

constexpr const char* kServerUser = "postgres";

std::string psql_command(const std::string& url, const std::string& sql, std::string& output) {
    const int status =
        run_program({"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql}, output);
    return status == 0 ? std::string() : "psql exited with status " + std::to_string(status);
}

bool executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

}  // namespace

int run_program(const std::vector<std::string>& argv, std::string& output) {
    output.clear();
    std::vector<std::string> args = argv;
    std::vector<char*> raw;
    for (auto& arg : args) raw.push_back(arg.data());
    raw.push_back(nullptr);

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return 127;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, raw[0], &actions, nullptr, raw.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        output = "cannot run " + argv[0] + ": " + std::strerror(rc);
        return 127;
    }
    // Until every writer is gone: the program, and anything it left running that kept the pipe
    // (pg_ctl points the server's output at its log file, so the server does not).
    char buffer[4096];
    for (;;) {
        const ssize_t n = read(fds[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (output.size() < 64 * 1024) output.append(buffer, static_cast<std::size_t>(n));
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string pg_url_with_database(const std::string& url, const std::string& dbname) {
    for (const std::string scheme : {"postgresql://", "postgres://"}) {
        if (url.rfind(scheme, 0) != 0) continue;
        // scheme://[userinfo@][hosts][/dbname][?parameters]
        const std::size_t authority_end = url.find_first_of("/?", scheme.size());
        if (authority_end == std::string::npos) return url + "/" + dbname;
        const std::size_t query = url.find('?', authority_end);
        const std::string rest = query == std::string::npos ? std::string() : url.substr(query);
        return url.substr(0, authority_end) + "/" + dbname + rest;
    }
    return url + (url.empty() ? "" : " ") + "dbname=" + dbname;
}

bool pg_server_programs_found(const std::string& bin_dir) {
    if (!executable(bin_dir + "/initdb") || !executable(bin_dir + "/pg_ctl")) return false;
    std::string output;
    return run_program({"psql", "--version"}, output) == 0;
}

PrivatePgServer::PrivatePgServer(const std::string& bin_dir) : bin_dir_(bin_dir) {
    namespace fs = std::filesystem;
    if (!pg_server_programs_found(bin_dir_)) {
        throw std::runtime_error("PostgreSQL's programs are not installed (" + bin_dir_ +
                                 "/initdb, pg_ctl and psql); give --pg-url of a running server");
    }
    std::string pattern = (fs::temp_directory_path() / "chat-bench-pg-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
    }
    dir_ = pattern;
    chmod(dir_.c_str(), 0755);
    if (geteuid() == 0) {
        const passwd* user = getpwnam(kServerUser);
        if (user == nullptr || chown(dir_.c_str(), user->pw_uid, user->pw_gid) != 0) {
            const std::string dir = dir_;
            stop();
            throw std::runtime_error("running as root, but cannot hand " + dir +
                                     " to the postgres user");
        }
    }
    auto fail = [this](const std::string& what, const std::string& output) {
        std::string log;
        std::ifstream in(dir_ + "/server.log");
        std::getline(in, log, '\0');
        stop();
        return std::runtime_error(what + ":\n" + output + log);
    };
    std::string output;
    // --no-sync only skips flushing initdb's own files; the server keeps fsync on.
    if (run_program(as_server_user({bin_dir_ + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U",
                                    kServerUser, "--no-sync"}),
                    output) != 0) {
        throw fail("initdb failed", output);
    }
    if (run_program(as_server_user({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-l",
                                    dir_ + "/server.log", "-w", "-t", "60", "-o",
                                    "-k " + dir_ + " -c listen_addresses=''", "start"}),
                    output) != 0) {
        throw fail("pg_ctl start failed", output);
    }
    std::ifstream pid_file(dir_ + "/data/postmaster.pid");
    long pid = 0;
    if (!(pid_file >> pid) || pid <= 0) throw fail("no postmaster.pid after pg_ctl start", "");
    pid_ = static_cast<pid_t>(pid);
}

PrivatePgServer::~PrivatePgServer() { stop(); }

std::vector<std::string> PrivatePgServer::as_server_user(std::vector<std::string> argv) const {
    if (geteuid() != 0) return argv;
    argv.insert(argv.begin(), {"runuser", "-u", kServerUser, "--"});
    return argv;
}

std::string PrivatePgServer::url() const {
    return "host=" + dir_ + " user=" + kServerUser + " dbname=postgres";
}

void PrivatePgServer::stop() {
    if (dir_.empty()) return;
    std::string output;
    // Also after a failed start, which may leave a server behind.
    std::error_code ec;
    const bool running = pid_ > 0 || std::filesystem::exists(dir_ + "/data/postmaster.pid", ec);
    if (running && run_program(as_server_user({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-m",
                                               "fast", "-w", "-t", "60", "stop"}),
                               output) != 0) {
        (void)run_program(
            as_server_user({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "immediate", "stop"}),
            output);
    }
    pid_ = 0;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
}

PgDatabase::PgDatabase(std::string server_url, std::string name)
    : server_url_(std::move(server_url)), name_(std::move(name)) {
    std::string output;
    const std::string error = psql_command(server_url_, "CREATE DATABASE " + name_, output);
    if (!error.empty()) {
        throw std::runtime_error("cannot create the database " + name_ + " (" + error + "):\n" +
                                 output);
    }
    exists_ = true;
}

PgDatabase::~PgDatabase() {
    std::string error;
    (void)drop(error);
}

bool PgDatabase::drop(std::string& error) {
    if (!exists_) return true;
    exists_ = false;
    std::string output;
    error = psql_command(server_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)", output);
    if (!error.empty()) error += ": " + output;
    return error.empty();
}

}  // namespace chat::bench
