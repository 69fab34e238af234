// pq: the thin RAII layer PostgresStore uses over libpq. A Connection owns one PGconn and the
// statements prepared on it (prepared again after every reconnect, since a new session has none);
// a PgResult owns one PGresult; Params holds the parameters of one call, sent with explicit
// lengths in binary format for text (any byte sequence the server accepts as text, no escaping)
// and for the int8/text arrays the batched writes pass.
// Thread use: a Connection and its results belong to one thread at a time (the caller's lock).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace chat::pq {

// Type oids of the parameters we send (from pg_type; stable across server versions).
enum class Oid : ::Oid {
    bytea = 17,
    int8 = 20,
    text = 25,
    bytea_array = 1001,
    int8_array = 1016,
    text_array = 1009,
};

class PgResult {
   public:
    PgResult() = default;
    explicit PgResult(PGresult* result) : result_(result) {}

    PGresult* get() const noexcept { return result_.get(); }
    // The command ran (COMMAND_OK or TUPLES_OK).
    bool ok() const noexcept;
    int rows() const noexcept { return result_ ? PQntuples(result_.get()) : 0; }
    bool is_null(int row, int col) const noexcept {
        return PQgetisnull(result_.get(), row, col) != 0;
    }
    std::string_view text(int row, int col) const noexcept;
    std::int64_t int64(int row, int col) const;  // text form of an integer column
    // The bytes of a bytea column (text form: hex), any byte value included.
    std::string bytes(int row, int col) const;
    // Rows a DELETE/INSERT/UPDATE touched.
    std::uint64_t affected() const;
    // The five-character SQLSTATE of a failure ("" when none, e.g. the connection was lost).
    std::string sqlstate() const;
    // The server's or libpq's message for a failure, first line only.
    std::string message() const;

   private:
    struct Clear {
        void operator()(PGresult* r) const noexcept { PQclear(r); }
    };
    std::unique_ptr<PGresult, Clear> result_;
};

// Parameters of one statement. Every value is copied in, so temporaries are fine.
class Params {
   public:
    Params& add(std::int64_t value);
    Params& add(std::string_view text);
    Params& add_null();
    Params& add_int8_array(const std::vector<std::int64_t>& values);
    Params& add_text_array(const std::vector<std::string_view>& values);
    // bytea[]: any bytes, NUL included (text cannot hold NUL).
    Params& add_bytea_array(const std::vector<std::string_view>& values);

    int size() const noexcept { return static_cast<int>(values_.size()); }
    const char* const* values() const noexcept { return values_.data(); }
    const int* lengths() const noexcept { return lengths_.data(); }
    const int* formats() const noexcept { return formats_.data(); }

   private:
    void push(std::string bytes, int format, bool null = false);
    // Stable storage: the pointers in values_ point into these strings.
    std::vector<std::unique_ptr<std::string>> storage_;
    std::vector<const char*> values_;
    std::vector<int> lengths_;
    std::vector<int> formats_;
};

// A statement prepared by name on every connection that runs it.
struct Statement {
    const char* name;
    const char* sql;
    std::vector<Oid> types;
};

class Connection {
   public:
    // `conninfo` is what the user configured (URI or key=value); `label` is its redacted form
    // for messages.
    Connection(std::string conninfo, std::string label);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Opens the connection (closing any previous one). False with `error` set on failure.
    bool connect(std::string& error);
    void close() noexcept;
    // Connected and not known to be broken.
    bool usable() const noexcept;
    // Reads what an idle connection has received: a server that ended the session (a restart,
    // an administrator) has sent its goodbye by now. Closes the connection when it is dead, so
    // the next use reconnects instead of failing once on a stale session.
    void drop_if_dead() noexcept;
    PGconn* get() const noexcept { return conn_; }

    // A plain command (no parameters; several statements allowed).
    PgResult exec(const char* sql);
    // Runs `stmt`, preparing it on this connection first if needed.
    PgResult run(const Statement& stmt, const Params& params = {});

    // One step of a pipeline: a prepared statement with its parameters, or (stmt null) a
    // parameterless command such as BEGIN or COMMIT.
    struct Call {
        const Statement* stmt = nullptr;
        const Params* params = nullptr;
        const char* sql = nullptr;
    };
    // Sends every call at once in libpq's pipeline mode and reads their results: one round trip
    // for all of them. One result per call, in order; after a failed call the rest are
    // PGRES_PIPELINE_ABORTED (not ok), and if the connection breaks the rest are empty results.
    // Statements not yet prepared on this session are prepared first.
    std::vector<PgResult> run_pipeline(const std::vector<Call>& calls);
    // libpq's last message on this connection, first line only.
    std::string error_message() const;
    const std::string& label() const noexcept { return label_; }

    // Reconnect pacing after a loss: may a connect be tried now, and what to wait after a
    // failed one. Callers keep the backoff in the connection they reconnect.
    bool may_retry(std::chrono::steady_clock::time_point now) const noexcept {
        return now >= next_attempt_;
    }
    void attempt_failed(std::chrono::milliseconds min, std::chrono::milliseconds max);
    void attempt_succeeded() noexcept { backoff_ = {}; }

   private:
    bool prepare(const Statement& stmt, PgResult& failure);

    std::string conninfo_;
    std::string label_;
    PGconn* conn_ = nullptr;
    std::unordered_set<std::string> prepared_;
    std::chrono::milliseconds backoff_{0};
    std::chrono::steady_clock::time_point next_attempt_{};
};

// The first line of a libpq message, without the trailing newline.
std::string first_line(const char* message);

}  // namespace chat::pq
