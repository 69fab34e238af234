// PgServer: a private PostgreSQL server for the tests of one process (see pg_server.hpp).
// Thread use: construct, restart/stop/start and destroy on one thread; create_database() and
// url() from any thread.
#include "pg_server.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace chat::test {

namespace {

const char* const kBinDir = "/usr/lib/postgresql/15/bin";

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string percent_encode(std::string_view text) {
    static const char* const kHex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xf]);
        }
    }
    return out;
}

}  // namespace

struct PgServer::Impl {
    std::filesystem::path dir;  // owns everything below
    std::string data;           // the cluster
    std::string log;            // the server's log
    std::string output;         // what the last command printed
    bool as_postgres = false;   // running as root: the programs run as `postgres`
    bool running = false;
    std::mutex db_mutex;
    unsigned next_db = 0;

    // Runs a server program (as `postgres` when we are root), its output to `output`. Returns
    // its exit status.
    int run(const std::vector<std::string>& args) {
        std::vector<std::string> argv;
        if (as_postgres) argv = {"runuser", "-u", "postgres", "--"};
        argv.insert(argv.end(), args.begin(), args.end());
        const pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error("fork failed");
        if (pid == 0) {
            const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
                ::close(fd);
            }
            std::vector<char*> raw;
            for (auto& a : argv) raw.push_back(a.data());
            raw.push_back(nullptr);
            ::execvp(raw[0], raw.data());
            ::_exit(127);
        }
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

    void must(const std::vector<std::string>& args, const std::string& what) {
        if (run(args) != 0) {
            throw std::runtime_error("PostgreSQL test server: " + what + " failed:\n" +
                                     read_file(output) + "\n--- server log ---\n" + read_file(log));
        }
    }

    std::string bin(const char* program) const { return std::string(kBinDir) + "/" + program; }

    void start() {
        // Unix socket in our directory only; no TCP; durability off (tests, not data).
        const std::string opts =
            "-k " + dir.string() + " -c listen_addresses='' -c fsync=off -c max_connections=200";
        must({bin("pg_ctl"), "-D", data, "-o", opts, "-w", "-t", "60", "-l", log, "start"},
             "pg_ctl start");
        running = true;
    }

    void stop(const char* mode) {
        if (!running) return;
        running = false;
        must({bin("pg_ctl"), "-D", data, "-m", mode, "-w", "-t", "60", "stop"}, "pg_ctl stop");
    }
};

PgServer::PgServer() : impl_(std::make_unique<Impl>()) {
    auto& d = *impl_;
    std::string pattern = (std::filesystem::temp_directory_path() / "chat_pg_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    d.dir = pattern;
    d.data = (d.dir / "data").string();
    d.log = (d.dir / "server.log").string();
    d.output = (d.dir / "command.log").string();
    d.as_postgres = ::geteuid() == 0;
    try {
        // PostgreSQL refuses to run as root: the directory belongs to `postgres` then, readable
        // by us, the data directory private to it as initdb wants.
        ::chmod(d.dir.c_str(), 0755);
        std::filesystem::create_directory(d.data);
        ::chmod(d.data.c_str(), 0700);
        if (d.as_postgres) {
            const passwd* pw = ::getpwnam("postgres");
            if (pw == nullptr) throw std::runtime_error("running as root and no user postgres");
            for (const auto& p : {d.dir.string(), d.data}) {
                if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
                    throw std::runtime_error("cannot chown " + p);
                }
            }
        }
        d.must({d.bin("initdb"), "-D", d.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                "--locale=C", "--no-sync"},
               "initdb");
        d.start();
    } catch (...) {
        std::error_code ec;
        std::filesystem::remove_all(d.dir, ec);
        throw;
    }
}

PgServer::~PgServer() {
    try {
        impl_->stop("immediate");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
    }
    std::error_code ec;
    std::filesystem::remove_all(impl_->dir, ec);
}

PgServer& PgServer::shared() {
    static PgServer server;
    return server;
}

bool PgServer::available() {
    return ::access((std::string(kBinDir) + "/initdb").c_str(), X_OK) == 0;
}

std::string PgServer::url(const std::string& name) const {
    return "postgresql:///" + percent_encode(name) +
           "?host=" + percent_encode(impl_->dir.string()) + "&user=postgres";
}

std::string PgServer::create_database() {
    std::string name;
    {
        std::lock_guard lock(impl_->db_mutex);
        name = "chat_test_" + std::to_string(::getpid()) + "_" + std::to_string(impl_->next_db++);
    }
    PGconn* conn = PQconnectdb(url("postgres").c_str());
    std::string error;
    if (PQstatus(conn) != CONNECTION_OK) {
        error = PQerrorMessage(conn);
    } else {
        PGresult* r = PQexec(conn, ("CREATE DATABASE " + name).c_str());
        if (PQresultStatus(r) != PGRES_COMMAND_OK) error = PQresultErrorMessage(r);
        PQclear(r);
    }
    PQfinish(conn);
    if (!error.empty()) {
        throw std::runtime_error("CREATE DATABASE " + name + " failed: " + error +
                                 "\n--- server log ---\n" + read_file(impl_->log));
    }
    return url(name);
}

void PgServer::restart() {
    impl_->stop("fast");
    impl_->start();
}

void PgServer::stop() { impl_->stop("fast"); }

void PgServer::start() {
    if (!impl_->running) impl_->start();
}

}  // namespace chat::test
