// pq: RAII over libpq (see pq.hpp). Thread use: one thread at a time per Connection.
#include "pq.hpp"

#include <poll.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace chat::pq {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void put_u64(std::string& out, std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8)
        out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// The binary wire form of a one-dimensional array without nulls (what array_recv reads).
std::string array_header(std::size_t count, Oid element) {
    std::string out;
    put_u32(out, count == 0 ? 0 : 1);  // dimensions (an empty array has none)
    put_u32(out, 0);                   // no nulls
    put_u32(out, static_cast<std::uint32_t>(element));
    if (count > 0) {
        put_u32(out, static_cast<std::uint32_t>(count));
        put_u32(out, 1);  // lower bound
    }
    return out;
}

// Libpq prints server notices (e.g. "relation already exists, skipping") to stderr by default;
// none of them is worth a line there.
void ignore_notice(void*, const char*) {}

}  // namespace

std::string first_line(const char* message) {
    if (message == nullptr) return {};
    std::string_view text(message);
    const auto end = text.find('\n');
    if (end != std::string_view::npos) text = text.substr(0, end);
    return std::string(text);
}

// --- PgResult ---

bool PgResult::ok() const noexcept {
    if (!result_) return false;
    const auto status = PQresultStatus(result_.get());
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

std::string_view PgResult::text(int row, int col) const noexcept {
    const char* value = PQgetvalue(result_.get(), row, col);
    return {value, static_cast<std::size_t>(PQgetlength(result_.get(), row, col))};
}

std::int64_t PgResult::int64(int row, int col) const {
    const std::string_view value = text(row, col);
    std::int64_t out = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (ec != std::errc() || end != value.data() + value.size()) {
        throw std::runtime_error("not an integer: " + std::string(value));
    }
    return out;
}

std::uint64_t PgResult::affected() const {
    const char* count = PQcmdTuples(result_.get());
    std::uint64_t out = 0;
    if (count != nullptr) std::from_chars(count, count + std::strlen(count), out);
    return out;
}

std::string PgResult::sqlstate() const {
    if (!result_) return {};
    const char* state = PQresultErrorField(result_.get(), PG_DIAG_SQLSTATE);
    return state != nullptr ? state : "";
}

std::string PgResult::message() const {
    if (!result_) return "no result";
    return first_line(PQresultErrorMessage(result_.get()));
}

std::string PgResult::bytes(int row, int col) const {
    const auto* text = reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, col));
    std::size_t length = 0;
    unsigned char* raw = PQunescapeBytea(text, &length);
    if (raw == nullptr) throw std::runtime_error("unreadable bytea value");
    std::string out(reinterpret_cast<const char*>(raw), length);
    PQfreemem(raw);
    return out;
}

// --- Params ---

void Params::push(std::string bytes, int format, bool null) {
    auto stored = std::make_unique<std::string>(std::move(bytes));
    values_.push_back(null ? nullptr : stored->data());
    lengths_.push_back(static_cast<int>(stored->size()));
    formats_.push_back(format);
    storage_.push_back(std::move(stored));
}

Params& Params::add(std::int64_t value) {
    push(std::to_string(value), 0);  // text form: NUL-terminated by std::string
    return *this;
}

Params& Params::add(std::string_view text) {
    push(std::string(text), 1);  // binary form of text is the bytes themselves
    return *this;
}

Params& Params::add_null() {
    push({}, 0, true);
    return *this;
}

Params& Params::add_int8_array(const std::vector<std::int64_t>& values) {
    std::string out = array_header(values.size(), Oid::int8);
    for (std::int64_t v : values) {
        put_u32(out, 8);
        put_u64(out, static_cast<std::uint64_t>(v));
    }
    push(std::move(out), 1);
    return *this;
}

Params& Params::add_bytea_array(const std::vector<std::string_view>& values) {
    std::string out = array_header(values.size(), Oid::bytea);
    for (std::string_view v : values) {
        put_u32(out, static_cast<std::uint32_t>(v.size()));
        out.append(v);
    }
    push(std::move(out), 1);
    return *this;
}

Params& Params::add_text_array(const std::vector<std::string_view>& values) {
    std::string out = array_header(values.size(), Oid::text);
    for (std::string_view v : values) {
        put_u32(out, static_cast<std::uint32_t>(v.size()));
        out.append(v);
    }
    push(std::move(out), 1);
    return *this;
}

// --- Connection ---

Connection::Connection(std::string conninfo, std::string label)
    : conninfo_(std::move(conninfo)), label_(std::move(label)) {}

Connection::~Connection() { close(); }

void Connection::close() noexcept {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
    prepared_.clear();
}

bool Connection::connect(std::string& error) {
    close();
    // The configured string is expanded as `dbname`; the keywords after it override what it
    // says about encoding and timeouts. Keepalives let a dead TCP peer be noticed by an idle
    // connection (the listener's).
    const char* keywords[] = {
        "dbname",           "client_encoding",           "connect_timeout",
        "keepalives",       "keepalives_idle",           "keepalives_interval",
        "keepalives_count", "fallback_application_name", nullptr};
    const char* values[] = {conninfo_.c_str(), "UTF8", "5", "1", "10", "5", "3", "chatd", nullptr};
    conn_ = PQconnectdbParams(keywords, values, 1);
    if (conn_ == nullptr) {
        error = "out of memory";
        return false;
    }
    if (PQstatus(conn_) != CONNECTION_OK) {
        error = first_line(PQerrorMessage(conn_));
        close();
        return false;
    }
    PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
    return true;
}

bool Connection::usable() const noexcept {
    return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}

void Connection::drop_if_dead() noexcept {
    if (conn_ == nullptr) return;
    pollfd pfd{PQsocket(conn_), POLLIN, 0};
    if (PQstatus(conn_) == CONNECTION_OK && pfd.fd >= 0 && ::poll(&pfd, 1, 0) > 0) {
        PQconsumeInput(conn_);  // failure shows in PQstatus
    }
    if (PQstatus(conn_) != CONNECTION_OK) close();
}

PgResult Connection::exec(const char* sql) {
    if (conn_ == nullptr) return PgResult{};
    return PgResult{PQexec(conn_, sql)};
}

bool Connection::prepare(const Statement& stmt, PgResult& failure) {
    if (prepared_.contains(stmt.name)) return true;
    std::vector<::Oid> types;
    types.reserve(stmt.types.size());
    for (Oid t : stmt.types) types.push_back(static_cast<::Oid>(t));
    PgResult prepared{
        PQprepare(conn_, stmt.name, stmt.sql, static_cast<int>(types.size()), types.data())};
    if (!prepared.ok()) {
        failure = std::move(prepared);
        return false;
    }
    prepared_.insert(stmt.name);
    return true;
}

PgResult Connection::run(const Statement& stmt, const Params& params) {
    if (conn_ == nullptr) return PgResult{};
    if (PgResult failure; !prepare(stmt, failure)) return failure;
    return PgResult{PQexecPrepared(conn_, stmt.name, params.size(), params.values(),
                                   params.lengths(), params.formats(), 0)};
}

std::vector<PgResult> Connection::run_pipeline(const std::vector<Call>& calls) {
    std::vector<PgResult> results(calls.size());
    if (conn_ == nullptr) return results;
    for (std::size_t i = 0; i < calls.size(); ++i) {
        if (calls[i].stmt == nullptr) continue;
        if (PgResult failure; !prepare(*calls[i].stmt, failure)) {
            results[i] = std::move(failure);
            return results;
        }
    }
    if (PQenterPipelineMode(conn_) == 0) return results;
    static const Params kNone;
    bool sent = true;
    for (const Call& call : calls) {
        const Params& p = call.params != nullptr ? *call.params : kNone;
        const int queued =
            call.stmt != nullptr
                ? PQsendQueryPrepared(conn_, call.stmt->name, p.size(), p.values(), p.lengths(),
                                      p.formats(), 0)
                : PQsendQueryParams(conn_, call.sql, 0, nullptr, nullptr, nullptr, nullptr, 0);
        if (queued == 0) {
            sent = false;
            break;
        }
    }
    if (!sent || PQpipelineSync(conn_) == 0) {
        close();  // the session's state is unknown: a fresh one is opened on next use
        return results;
    }
    // Each call's result, then a null that ends it; the sync's result last.
    for (std::size_t i = 0; i < calls.size(); ++i) {
        PGresult* r = PQgetResult(conn_);
        if (r == nullptr) {
            close();
            return results;
        }
        results[i] = PgResult{r};
        while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
        if (PQstatus(conn_) != CONNECTION_OK) {
            close();
            return results;
        }
    }
    for (;;) {
        PGresult* r = PQgetResult(conn_);
        if (r == nullptr) {
            if (PQstatus(conn_) != CONNECTION_OK) close();
            break;
        }
        const bool synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (synced) break;
    }
    if (conn_ != nullptr && PQexitPipelineMode(conn_) == 0) close();
    return results;
}

std::string Connection::error_message() const {
    if (conn_ == nullptr) return "not connected";
    return first_line(PQerrorMessage(conn_));
}

void Connection::attempt_failed(std::chrono::milliseconds min, std::chrono::milliseconds max) {
    backoff_ = backoff_.count() == 0 ? min : std::min(backoff_ * 2, max);
    next_attempt_ = std::chrono::steady_clock::now() + backoff_;
}

}  // namespace chat::pq
