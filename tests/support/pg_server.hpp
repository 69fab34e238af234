// PgServer: a private PostgreSQL 15 server for one test process, in a fresh temporary directory,
// listening on a Unix socket in that directory only (no TCP port, nothing shared with other
// tests). Started with initdb + pg_ctl (as the `postgres` user when the tests run as root, since
// PostgreSQL refuses to run as root), stopped and removed in the destructor.
//
// Each test takes a fresh database with create_database(), so tests never see each other's data.
// Thread use: construct and destroy on one thread; create_database() and url() from any thread.
#pragma once

#include <memory>
#include <string>

namespace chat::test {

class PgServer final {
   public:
    // Throws std::runtime_error (with the server's log) when PostgreSQL cannot be started.
    PgServer();
    ~PgServer();  // pg_ctl stop -m immediate, then removes the directory
    PgServer(const PgServer&) = delete;
    PgServer& operator=(const PgServer&) = delete;

    // One server shared by every test of this process: the test run's own when ctest started one
    // (scripts/pg-test-server), else one started on first use and stopped at exit. Throws like
    // the constructor.
    static PgServer& shared();

    // True when the PostgreSQL server programs are installed (tests skip with a message when not).
    static bool available();

    // Creates a database with a fresh name and returns a libpq URI for it.
    std::string create_database();
    // A libpq URI of the database `name` on this server.
    std::string url(const std::string& name) const;

    // pg_ctl restart -m fast (for outage tests); returns once the server accepts connections.
    void restart();
    // pg_ctl stop -m fast / start: an outage the test controls.
    void stop();
    void start();

   private:
    struct Attach {};
    // A server already running with its socket in `dir`, not stopped by the destructor.
    PgServer(Attach, const std::string& dir);

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace chat::test
