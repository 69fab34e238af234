// What chat-bench needs of PostgreSQL for `--store postgres`: a server (the one --pg-url names,
// or a private one started here in a temporary directory), and a fresh database in it per cell.
//
// Everything goes through PostgreSQL's own programs as subprocesses (initdb, pg_ctl, psql), so
// chat-bench does not link libpq and builds the same with or without the PostgreSQL store: the
// server side is what is measured, and chatd is the only client of the database that counts.
//
// The private server keeps PostgreSQL's default durability (fsync on, synchronous_commit on):
// the numbers are those of the product as shipped, not of a server tuned to lose commits. It
// listens only on a Unix socket in its directory (no TCP port to collide with). PostgreSQL
// refuses to run as root, so as root initdb and pg_ctl run as the `postgres` user.
// Thread use: one controlling thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace chat::bench {

// Where Debian puts PostgreSQL 15's server programs.
inline constexpr const char* kDefaultPgBinDir = "/usr/lib/postgresql/15/bin";

// Runs `argv` (argv[0] looked up in PATH), stdin from /dev/null, and waits. Returns the exit
// status (127 if it could not start, 128 + signal if killed); stdout and stderr together go
// to `output`.
int run_program(const std::vector<std::string>& argv, std::string& output);

// `url` (a libpq URI postgres[ql]://... or a keyword/value connection string) pointing at the
// database `dbname` instead of its own. Keyword/value strings get a trailing dbname=, which
// libpq lets override an earlier one.
std::string pg_url_with_database(const std::string& url, const std::string& dbname);

// True when PostgreSQL's server programs are in `bin_dir` and psql is on PATH.
bool pg_server_programs_found(const std::string& bin_dir = kDefaultPgBinDir);

// A PostgreSQL server of chat-bench's own, in a fresh temporary directory; stopped and removed
// by stop() or the destructor.
class PrivatePgServer final {
   public:
    // initdb and start; throws std::runtime_error with the programs' output when it cannot.
    explicit PrivatePgServer(const std::string& bin_dir = kDefaultPgBinDir);
    ~PrivatePgServer();  // stop()
    PrivatePgServer(const PrivatePgServer&) = delete;
    PrivatePgServer& operator=(const PrivatePgServer&) = delete;

    // A connection string for the superuser's `postgres` database (over the socket).
    std::string url() const;
    // The postmaster (every backend is its child). 0 once stopped.
    pid_t pid() const noexcept { return pid_; }
    // Stops it (fast shutdown) and removes its directory. Idempotent.
    void stop();

   private:
    std::vector<std::string> as_server_user(std::vector<std::string> argv) const;

    std::string bin_dir_;
    std::string dir_;  // the socket lives here; the cluster in dir_/data
    pid_t pid_ = 0;
};

// A database made for one cell in the server at `server_url` (CREATE DATABASE through psql),
// dropped again (WITH (FORCE): no node may keep it alive) by drop() or the destructor.
class PgDatabase final {
   public:
    // Throws std::runtime_error with psql's output when the database cannot be made.
    PgDatabase(std::string server_url, std::string name);
    ~PgDatabase();  // drop(), errors ignored
    PgDatabase(const PgDatabase&) = delete;
    PgDatabase& operator=(const PgDatabase&) = delete;

    const std::string& name() const noexcept { return name_; }
    // The connection string of this database, for chatd.
    std::string url() const { return pg_url_with_database(server_url_, name_); }
    // Returns false (psql's output in `error`) when the drop fails. Idempotent.
    bool drop(std::string& error);

   private:
    std::string server_url_;
    std::string name_;
    bool exists_ = false;
};

}  // namespace chat::bench
