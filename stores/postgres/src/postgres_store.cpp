// PostgresStore: the Store on a PostgreSQL database shared by several chatd nodes.
//
// Three kinds of connection, each used by one thread at a time:
//  - the writer's: one thread commits every append and asynchronous ack, whatever is pending in
//    one transaction (up to max_batch), and calls each `done` only after COMMIT succeeded;
//  - a small pool for the calls that run on the caller's thread (reads, create, delete, ack);
//  - the listener's: LISTEN chat_events, reporting what other nodes committed to StoreEvents.
// A connection found broken is opened again on its next use, paced by a doubling backoff, so
// the store recovers by itself after the database comes back; meanwhile calls fail with
// Errc::internal (a send is never reported stored unless its COMMIT succeeded).
//
// Ordering: every write transaction first locks the account rows of its recipients (in id
// order, so writers on different nodes never deadlock), and only then takes ids from the one
// sequence `message_ids`. Any two transactions writing to one recipient are therefore serialised
// from the moment either takes an id until it commits, so a recipient's ids become visible in
// increasing order and an `ack up_to N` never covers a message that commits later with an id
// below N.
#include "chat/postgres_store.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chat/log.hpp"
#include "chat/validation.hpp"
#include "pq.hpp"

namespace chat {

namespace {

using pq::Oid;

// Each step moves the schema from version N-1 to N, applied in order, each in one transaction.
// Add new steps at the end; never edit a step that has shipped.
constexpr const char* kMigrations[] = {
    // 1: accounts, message queues, the message-id sequence. name_lower compares bytewise
    // (COLLATE "C"), like the other stores: list order and uniqueness must not depend on the
    // server's locale.
    R"sql(
CREATE SEQUENCE account_ids;
CREATE TABLE accounts(
    id bigint PRIMARY KEY DEFAULT nextval('account_ids'),
    name text NOT NULL,
    name_lower text COLLATE "C" NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at bigint NOT NULL
);
ALTER SEQUENCE account_ids OWNED BY accounts.id;
CREATE SEQUENCE message_ids;
CREATE TABLE messages(
    id bigint PRIMARY KEY,
    recipient_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    sender text NOT NULL,
    recipient text NOT NULL,
    body bytea NOT NULL,  -- a body may hold NUL, which text cannot
    sent_at bigint NOT NULL
);
CREATE INDEX messages_by_recipient ON messages(recipient_id, id);
)sql",
};

constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// pg_advisory_lock key held while migrating ("chatcore" in ASCII).
constexpr const char* kMigrationLock = "7523649525184853605";

constexpr const char* kChannel = "chat_events";
// NOTIFY payloads must stay below 8000 bytes; a message whose report would not fit is reported
// by id and read back by the listener.
constexpr std::size_t kInlineLimit = 7900;

// Recipients remembered by find_recipient; beyond this many the cache starts afresh.
constexpr std::size_t kRecipientCacheLimit = 65536;

// Accounts read per step of a list scan (see SqliteStore).
constexpr std::size_t kListChunk = 256;

// How long the listener waits in poll() at most (it is woken at once on stop anyway).
constexpr int kListenPollMs = 1000;

const char* const kStorageFailure = "storage failure";

// clang-format off
const pq::Statement kCreateAccount{"create_account",
    "INSERT INTO accounts(name, name_lower, password_hash, created_at) VALUES($1, $2, $3, $4) "
    "RETURNING id", {Oid::text, Oid::text, Oid::text, Oid::int8}};
const pq::Statement kFindAccount{"find_account",
    "SELECT id, name, password_hash FROM accounts WHERE name_lower = $1", {Oid::text}};
const pq::Statement kLockAccount{"lock_account",
    "SELECT id FROM accounts WHERE id = $1 FOR UPDATE", {Oid::int8}};
const pq::Statement kDeleteQueue{"delete_queue",
    "DELETE FROM messages WHERE recipient_id = $1", {Oid::int8}};
const pq::Statement kDeleteAccount{"delete_account",
    "DELETE FROM accounts WHERE id = $1", {Oid::int8}};
const pq::Statement kNotify{"notify", "SELECT pg_notify('chat_events', $1)", {Oid::text}};
const pq::Statement kNotifyAll{"notify_all",
    "SELECT pg_notify('chat_events', p) FROM unnest($1::text[]) AS p", {Oid::text_array}};
const pq::Statement kLockRecipients{"lock_recipients",
    "SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE", {Oid::int8_array}};
const pq::Statement kTakeIds{"take_ids",
    "SELECT nextval('message_ids') FROM generate_series(1, $1)", {Oid::int8}};
const pq::Statement kInsertMessages{"insert_messages",
    "INSERT INTO messages(id, recipient_id, sender, recipient, body, sent_at) "
    "SELECT u.*, $6 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bytea[]) "
    "AS u", {Oid::int8_array, Oid::int8_array, Oid::text_array, Oid::text_array,
             Oid::bytea_array, Oid::int8}};
// The acks of a batch that name ids only, in one statement: (recipient, id) pairs.
const pq::Statement kAckPairs{"ack_pairs",
    "DELETE FROM messages m USING unnest($1::bigint[], $2::bigint[]) AS u(r, i) "
    "WHERE m.recipient_id = u.r AND m.id = u.i RETURNING m.recipient_id, m.id",
    {Oid::int8_array, Oid::int8_array}};
const pq::Statement kAck{"ack",
    "DELETE FROM messages WHERE recipient_id = $1 AND (id = ANY($2) OR id <= $3)",
    {Oid::int8, Oid::int8_array, Oid::int8}};
// One statement, so the count and the page come from one snapshot and agree.
const pq::Statement kFetch{"fetch",
    "WITH q AS (SELECT count(*) AS n FROM messages WHERE recipient_id = $1) "
    "SELECT q.n, m.id, m.sender, m.recipient, m.body, m.sent_at FROM q LEFT JOIN LATERAL "
    "(SELECT id, sender, recipient, body, sent_at FROM messages WHERE recipient_id = $1 "
    "ORDER BY id LIMIT $2) m ON true ORDER BY m.id", {Oid::int8, Oid::int8}};
const pq::Statement kCount{"count",
    "SELECT count(*) FROM messages WHERE recipient_id = $1", {Oid::int8}};
// No row when the account is gone.
const pq::Statement kQueueState{"queue_state",
    "SELECT (SELECT count(*) FROM messages WHERE recipient_id = $1), "
    "(SELECT coalesce(max(id), 0) FROM messages WHERE recipient_id = $1) "
    "FROM accounts WHERE id = $1", {Oid::int8}};
const pq::Statement kList{"list",
    "SELECT name, name_lower FROM accounts WHERE name_lower > $1 AND name_lower LIKE $2 "
    "ORDER BY name_lower LIMIT $3", {Oid::text, Oid::text, Oid::int8}};
const pq::Statement kNextId{"next_id",
    "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM message_ids", {}};
const pq::Statement kMessageById{"message_by_id",
    "SELECT id, sender, recipient, body, sent_at FROM messages WHERE id = $1", {Oid::int8}};
// clang-format on

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Ids are bigint in the database: one above INT64_MAX names no stored message.
constexpr auto kMaxStored = static_cast<MessageId>(std::numeric_limits<std::int64_t>::max());

std::string random_node_name() {
    std::random_device rd;
    static const char* const kHex = "0123456789abcdef";
    std::string out = "node-";
    for (int i = 0; i < 4; ++i) {
        std::uint32_t v = rd();
        for (int j = 0; j < 4; ++j) {
            out.push_back(kHex[v & 0xf]);
            v >>= 4;
        }
    }
    return out;
}

// --- Notification payloads: fields as `<length>:<bytes>`, so any text survives. ---
// m: node, recipient, id [, sent_at, from, to, body]  (without the last four: read it by id)
// d: node, account

void put_field(std::string& out, std::string_view field) {
    out += std::to_string(field.size());
    out += ':';
    out += field;
}

std::string message_payload(std::string_view node, AccountId recipient, const Message& m) {
    std::string out;
    put_field(out, "m");
    put_field(out, node);
    put_field(out, std::to_string(recipient));
    put_field(out, std::to_string(m.id));
    const std::size_t ids_only = out.size();
    put_field(out, std::to_string(m.sent_at));
    put_field(out, m.from);
    put_field(out, m.to);
    put_field(out, m.body);
    // A payload is text: one that would not fit, or a body with NUL, goes by id.
    if (out.size() >= kInlineLimit || m.body.find('\0') != std::string::npos) out.resize(ids_only);
    return out;
}

std::string deleted_payload(std::string_view node, AccountId account) {
    std::string out;
    put_field(out, "d");
    put_field(out, node);
    put_field(out, std::to_string(account));
    return out;
}

std::optional<std::vector<std::string_view>> split_fields(std::string_view payload) {
    std::vector<std::string_view> fields;
    while (!payload.empty()) {
        std::size_t length = 0;
        const auto colon = payload.find(':');
        if (colon == std::string_view::npos) return std::nullopt;
        const auto [end, ec] = std::from_chars(payload.data(), payload.data() + colon, length);
        if (ec != std::errc() || end != payload.data() + colon) return std::nullopt;
        payload.remove_prefix(colon + 1);
        if (length > payload.size()) return std::nullopt;
        fields.push_back(payload.substr(0, length));
        payload.remove_prefix(length);
    }
    return fields;
}

template <class T>
std::optional<T> parse_int(std::string_view text) {
    T out{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return out;
}

// The password in `url` as libpq reads it ("" when none), so messages can be scrubbed of it
// even where libpq quotes part of the string it could not parse.
std::string password_of(const std::string& url) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
    if (error != nullptr) PQfreemem(error);
    std::string out;
    if (options != nullptr) {
        for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
            if (std::string_view(o->keyword) == "password" && o->val != nullptr) out = o->val;
        }
        PQconninfoFree(options);
    }
    return out;
}

Message message_from_row(const pq::PgResult& r, int row, int first_col) {
    return Message{static_cast<MessageId>(r.int64(row, first_col)),
                   std::string(r.text(row, first_col + 1)), std::string(r.text(row, first_col + 2)),
                   r.bytes(row, first_col + 3), r.int64(row, first_col + 4)};
}

}  // namespace

struct PostgresStore::Impl {
    // One queued write: an append, or (is_ack) an ack.
    struct PendingWrite {
        bool is_ack = false;
        NewMessage message;      // append
        AppendDone done;         // append
        bool looked_up = false;  // append: its recipient was read afresh after a miss
        AccountId ack_recipient = 0;
        std::vector<MessageId> ack_ids;
        std::optional<MessageId> ack_up_to;
        AckDone ack_done;
    };
    struct Outcome {
        std::optional<Result<Message>> message;
        std::optional<Result<std::uint64_t>> acked;
    };

    // A pool connection lent to one call; returned on destruction.
    class Lease {
       public:
        Lease(Impl& impl, pq::Connection* conn) : impl_(impl), conn_(conn) {}
        ~Lease() { impl_.release(conn_); }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        pq::Connection& operator*() const noexcept { return *conn_; }
        pq::Connection* operator->() const noexcept { return conn_; }

       private:
        Impl& impl_;
        pq::Connection* conn_;
    };

    explicit Impl(PostgresOptions opts);
    ~Impl();

    // Messages: redacted, and scrubbed of the password wherever libpq quoted it.
    std::string scrub(std::string text) const;
    // Logs the detail of a failure and returns the error the caller sees (never the password).
    Error failure(std::string_view op, const std::string& detail);
    Error failure(std::string_view op, const pq::Connection& conn, const pq::PgResult& result);

    // Makes `conn` usable for `op`: drops a session the server has ended, reconnects when the
    // backoff allows. The error the caller returns when it is not usable now.
    std::optional<Error> ensure(pq::Connection& conn, std::string_view op);
    // A read on a pool connection; run once more on a fresh session when the first attempt
    // found the connection dead (the server restarted since its last use).
    pq::PgResult read(pq::Connection& conn, const pq::Statement& stmt,
                      const pq::Params& params = {});
    void connect_at_start(pq::Connection& conn);  // retries until connect_timeout, or throws
    void migrate(pq::Connection& conn);

    Lease lease();
    void release(pq::Connection* conn);

    // Writer thread.
    void writer_loop();
    std::vector<Outcome> commit_batch(std::vector<PendingWrite>& batch);
    // An append whose recipient row was gone: true when the name now has another account, which
    // `write` then names, to be queued again.
    bool readdress(PendingWrite& write);

    // The recipient cache: lower-cased name -> account, as last read. Every change that can
    // make an entry wrong (a delete here or elsewhere, lost reports) bumps the generation, so a
    // read that raced with it is not cached.
    std::optional<AccountRecord> cached_recipient(std::string_view name_lower, std::uint64_t& gen);
    void cache_recipient(const AccountRecord& record, std::uint64_t gen);
    void forget_account(AccountId id);
    void forget_all_accounts();

    // Listener thread.
    bool start_listening(std::string& error);
    void listener_loop();
    void handle_notification(std::string_view payload);
    // Runs `call` on the registered receiver, if any, under events_mutex_.
    template <class F>
    void report(F&& call);
    void wake_listener() noexcept;

    PostgresOptions options_;
    std::string label_;   // redacted url
    std::string secret_;  // the password, to scrub from messages

    // Pool.
    std::mutex pool_mutex_;
    std::condition_variable pool_cv_;
    std::vector<std::unique_ptr<pq::Connection>> pool_;
    std::vector<pq::Connection*> idle_;

    // Recipient cache.
    std::mutex cache_mutex_;
    std::unordered_map<std::string, AccountRecord> recipients_;
    std::uint64_t cache_generation_ = 0;

    // Writer.
    std::unique_ptr<pq::Connection> writer_conn_;
    std::mutex queue_mutex_;
    std::condition_variable work_cv_;
    std::condition_variable flushed_cv_;
    std::deque<PendingWrite> pending_;
    std::uint64_t accepted_ = 0;
    std::uint64_t completed_ = 0;
    bool stopping_ = false;
    std::thread writer_;

    // Listener.
    std::unique_ptr<pq::Connection> listen_conn_;
    std::recursive_mutex events_mutex_;  // recursive: a receiver may unregister from a callback
    StoreEvents* events_ = nullptr;
    std::atomic<bool> listener_stopping_{false};
    std::mutex listener_mutex_;  // for the backoff wait
    std::condition_variable listener_cv_;
    int wake_fds_[2] = {-1, -1};
    std::thread listener_;
};

PostgresStore::Impl::Impl(PostgresOptions opts) : options_(std::move(opts)) {
    if (options_.max_batch == 0) options_.max_batch = 1;
    if (options_.read_connections == 0) options_.read_connections = 1;
    if (options_.reconnect_min.count() <= 0) options_.reconnect_min = std::chrono::milliseconds(1);
    if (options_.reconnect_max < options_.reconnect_min) {
        options_.reconnect_max = options_.reconnect_min;
    }
    if (options_.node_name.empty()) options_.node_name = random_node_name();
    label_ = redact_postgres_url(options_.url);
    secret_ = password_of(options_.url);

    writer_conn_ = std::make_unique<pq::Connection>(options_.url, label_);
    listen_conn_ = std::make_unique<pq::Connection>(options_.url, label_);
    for (std::size_t i = 0; i < options_.read_connections; ++i) {
        pool_.push_back(std::make_unique<pq::Connection>(options_.url, label_));
        idle_.push_back(pool_.back().get());
    }

    connect_at_start(*writer_conn_);
    migrate(*writer_conn_);
    // Listening before the constructor returns: whatever another node commits from now on is
    // heard.
    std::string error;
    if (!start_listening(error)) {
        throw std::runtime_error("cannot listen on PostgreSQL at '" + label_ + "': " + error);
    }
    if (::pipe(wake_fds_) != 0) throw std::runtime_error("cannot create the listener's pipe");
    writer_ = std::thread([this] { writer_loop(); });
    listener_ = std::thread([this] { listener_loop(); });
}

PostgresStore::Impl::~Impl() {
    {
        std::lock_guard lock(queue_mutex_);
        stopping_ = true;
    }
    work_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
    {
        std::lock_guard lock(listener_mutex_);
        listener_stopping_ = true;
    }
    listener_cv_.notify_all();
    wake_listener();
    if (listener_.joinable()) listener_.join();
    for (int fd : wake_fds_) {
        if (fd >= 0) ::close(fd);
    }
}

std::string PostgresStore::Impl::scrub(std::string text) const {
    if (secret_.empty()) return text;
    for (auto at = text.find(secret_); at != std::string::npos; at = text.find(secret_, at + 3)) {
        text.replace(at, secret_.size(), "***");
    }
    return text;
}

Error PostgresStore::Impl::failure(std::string_view op, const std::string& detail) {
    log::write(log::Level::error, "store", "postgres call failed",
               log::Fields()
                   .add("op", op)
                   .add("db", label_)
                   .add("detail", "\"" + scrub(detail) + "\"")
                   .str());
    return make_error(Errc::internal, std::string(kStorageFailure) + " (" + std::string(op) + ")");
}

Error PostgresStore::Impl::failure(std::string_view op, const pq::Connection& conn,
                                   const pq::PgResult& result) {
    std::string detail = result.get() != nullptr ? result.message() : conn.error_message();
    const std::string state = result.sqlstate();
    if (!state.empty()) detail = state + " " + detail;
    if (!conn.usable()) detail += " (connection lost)";
    return failure(op, detail);
}

std::optional<Error> PostgresStore::Impl::ensure(pq::Connection& conn, std::string_view op) {
    conn.drop_if_dead();
    if (conn.usable()) return std::nullopt;
    auto unreachable = [&] {
        return make_error(Errc::internal, std::string(kStorageFailure) + " (" + std::string(op) +
                                              ": database unreachable)");
    };
    // Between attempts calls fail at once, unlogged: one line per attempt is enough.
    if (!conn.may_retry(std::chrono::steady_clock::now())) return unreachable();
    std::string error;
    if (!conn.connect(error)) {
        conn.attempt_failed(options_.reconnect_min, options_.reconnect_max);
        log::write(log::Level::warn, "store", "cannot reach postgres",
                   log::Fields()
                       .add("op", op)
                       .add("db", label_)
                       .add("detail", "\"" + scrub(error) + "\"")
                       .str());
        return unreachable();
    }
    conn.attempt_succeeded();
    return std::nullopt;
}

pq::PgResult PostgresStore::Impl::read(pq::Connection& conn, const pq::Statement& stmt,
                                       const pq::Params& params) {
    auto r = conn.run(stmt, params);
    if (r.ok() || conn.usable()) return r;
    if (ensure(conn, stmt.name)) return r;
    return conn.run(stmt, params);
}

void PostgresStore::Impl::connect_at_start(pq::Connection& conn) {
    const auto deadline = std::chrono::steady_clock::now() + options_.connect_timeout;
    std::chrono::milliseconds wait = options_.reconnect_min;
    for (;;) {
        std::string error;
        if (conn.connect(error)) return;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            throw std::runtime_error("cannot connect to PostgreSQL at '" + label_ +
                                     "': " + scrub(error));
        }
        std::this_thread::sleep_for(
            std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now)));
        wait = std::min(wait * 2, options_.reconnect_max);
    }
}

void PostgresStore::Impl::migrate(pq::Connection& conn) {
    auto fail = [&](const std::string& what, const pq::PgResult& r) {
        std::string detail = r.get() != nullptr ? r.message() : conn.error_message();
        throw std::runtime_error(what + " on PostgreSQL at '" + label_ + "': " + scrub(detail));
    };
    // Nodes starting at once take turns: the first migrates, the others then find it done.
    if (auto r =
            conn.exec((std::string("SELECT pg_advisory_lock(") + kMigrationLock + ")").c_str());
        !r.ok()) {
        fail("cannot take the migration lock", r);
    }
    int current = 0;
    try {
        if (auto r = conn.exec("CREATE TABLE IF NOT EXISTS schema_version("
                               "version integer PRIMARY KEY, applied_at bigint NOT NULL)");
            !r.ok()) {
            fail("cannot create schema_version", r);
        }
        {
            auto r = conn.exec("SELECT coalesce(max(version), 0) FROM schema_version");
            if (!r.ok() || r.rows() != 1) fail("cannot read the schema version", r);
            current = static_cast<int>(r.int64(0, 0));
        }
        if (current > kSchemaVersion) {
            throw std::runtime_error(
                "schema version " + std::to_string(current) + " of PostgreSQL at '" + label_ +
                "' is newer than this build supports (" + std::to_string(kSchemaVersion) + ")");
        }
        for (int version = current + 1; version <= kSchemaVersion; ++version) {
            if (auto r = conn.exec("BEGIN"); !r.ok()) fail("cannot begin migration", r);
            auto step = conn.exec(kMigrations[version - 1]);
            if (!step.ok()) {
                conn.exec("ROLLBACK");
                fail("migration to schema version " + std::to_string(version) + " failed", step);
            }
            const std::string record = "INSERT INTO schema_version(version, applied_at) VALUES(" +
                                       std::to_string(version) + ", " + std::to_string(now_ms()) +
                                       ")";
            if (auto r = conn.exec(record.c_str()); !r.ok()) {
                conn.exec("ROLLBACK");
                fail("cannot record schema version", r);
            }
            if (auto r = conn.exec("COMMIT"); !r.ok()) fail("cannot commit migration", r);
        }
    } catch (...) {
        conn.exec((std::string("SELECT pg_advisory_unlock(") + kMigrationLock + ")").c_str());
        throw;
    }
    conn.exec((std::string("SELECT pg_advisory_unlock(") + kMigrationLock + ")").c_str());
    if (current < kSchemaVersion) {
        log::write(
            log::Level::info, "store", "database migrated",
            log::Fields().add("db", label_).add("from", current).add("to", kSchemaVersion).str());
    }
}

PostgresStore::Impl::Lease PostgresStore::Impl::lease() {
    std::unique_lock lock(pool_mutex_);
    pool_cv_.wait(lock, [this] { return !idle_.empty(); });
    pq::Connection* conn = idle_.back();
    idle_.pop_back();
    return Lease(*this, conn);
}

void PostgresStore::Impl::release(pq::Connection* conn) {
    {
        std::lock_guard lock(pool_mutex_);
        idle_.push_back(conn);
    }
    pool_cv_.notify_one();
}

// --- Writer ---

void PostgresStore::Impl::writer_loop() {
    std::vector<PendingWrite> batch;
    for (;;) {
        {
            std::unique_lock lock(queue_mutex_);
            work_cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
            if (pending_.empty()) return;  // stopping, and everything accepted is done
            while (!pending_.empty() && batch.size() < options_.max_batch) {
                batch.push_back(std::move(pending_.front()));
                pending_.pop_front();
            }
        }
        std::vector<Outcome> outcomes = commit_batch(batch);
        // Outside every mutex: a callback may call back into this store (not flush).
        std::size_t requeued = 0;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            PendingWrite& write = batch[i];
            if (!write.is_ack && !write.looked_up && outcomes[i].message && !*outcomes[i].message &&
                outcomes[i].message->error().code == Errc::no_such_user && readdress(write)) {
                std::lock_guard lock(queue_mutex_);
                pending_.push_back(std::move(write));  // still counted as accepted
                ++requeued;
                continue;
            }
            try {
                if (write.is_ack) {
                    if (write.ack_done) write.ack_done(std::move(*outcomes[i].acked));
                } else if (write.done) {
                    write.done(std::move(*outcomes[i].message));
                }
            } catch (const std::exception& e) {
                log::write(log::Level::error, "store", "store callback threw",
                           log::Fields().add("what", e.what()).str());
            } catch (...) {
                log::write(log::Level::error, "store", "store callback threw");
            }
        }
        {
            std::lock_guard lock(queue_mutex_);
            completed_ += batch.size() - requeued;
        }
        flushed_cv_.notify_all();
        batch.clear();
    }
}

std::vector<PostgresStore::Impl::Outcome> PostgresStore::Impl::commit_batch(
    std::vector<PendingWrite>& batch) {
    pq::Connection& conn = *writer_conn_;
    bool in_transaction = false;
    auto fail_all = [&](Error error) {
        if (in_transaction && conn.usable()) conn.exec("ROLLBACK");
        std::vector<Outcome> failed(batch.size());
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (batch[i].is_ack) {
                failed[i].acked.emplace(error);
            } else {
                failed[i].message.emplace(error);
            }
        }
        return failed;
    };
    auto fail_with = [&](std::string_view op, const pq::PgResult& r) {
        return fail_all(failure(op, conn, r));
    };

    // What the batch asks for. Recipients are locked in id order (see the file comment); acks
    // naming ids only (what clients' auto-ack sends) go in one statement as (recipient, id)
    // pairs; acks with up_to one statement each.
    std::vector<std::int64_t> recipients;
    std::vector<std::int64_t> pair_recipients, pair_ids;
    std::vector<std::size_t> ranged_acks, appends;  // indexes into batch
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const PendingWrite& w = batch[i];
        recipients.push_back(w.is_ack ? w.ack_recipient : w.message.recipient);
        if (!w.is_ack) {
            appends.push_back(i);
        } else if (w.ack_up_to) {
            ranged_acks.push_back(i);
        } else {
            for (MessageId id : w.ack_ids) {
                if (id > kMaxStored) continue;
                pair_recipients.push_back(w.ack_recipient);
                pair_ids.push_back(static_cast<std::int64_t>(id));
            }
        }
    }
    std::sort(recipients.begin(), recipients.end());
    recipients.erase(std::unique(recipients.begin(), recipients.end()), recipients.end());

    // Round trip 1: BEGIN; lock the recipients; the acks; ids for every append (those whose
    // recipient turns out to be gone leave a gap, as sequences may). The server runs them in
    // order, so the ids are taken with the rows locked.
    using Call = pq::Connection::Call;
    std::vector<Call> calls;
    std::vector<std::string_view> ops;
    calls.push_back(Call{.sql = "BEGIN"});
    ops.push_back("begin write batch");
    pq::Params lock_params;
    lock_params.add_int8_array(recipients);
    calls.push_back(Call{.stmt = &kLockRecipients, .params = &lock_params});
    ops.push_back("lock recipients");
    pq::Params pair_params;
    const bool has_pairs = !pair_ids.empty();
    if (has_pairs) {
        pair_params.add_int8_array(pair_recipients).add_int8_array(pair_ids);
        calls.push_back(Call{.stmt = &kAckPairs, .params = &pair_params});
        ops.push_back("ack");
    }
    std::vector<pq::Params> ranged_params(ranged_acks.size());
    for (std::size_t k = 0; k < ranged_acks.size(); ++k) {
        const PendingWrite& w = batch[ranged_acks[k]];
        std::vector<std::int64_t> ids;
        for (MessageId id : w.ack_ids) {
            if (id <= kMaxStored) ids.push_back(static_cast<std::int64_t>(id));
        }
        ranged_params[k]
            .add(w.ack_recipient)
            .add_int8_array(ids)
            .add(static_cast<std::int64_t>(std::min(*w.ack_up_to, kMaxStored)));
        calls.push_back(Call{.stmt = &kAck, .params = &ranged_params[k]});
        ops.push_back("ack");
    }
    pq::Params take_params;
    if (!appends.empty()) {
        take_params.add(static_cast<std::int64_t>(appends.size()));
        calls.push_back(Call{.stmt = &kTakeIds, .params = &take_params});
        ops.push_back("take message ids");
    }

    if (auto e = ensure(conn, "connect writer")) return fail_all(*e);
    auto results = conn.run_pipeline(calls);
    // A session the server ended while idle shows only now, at BEGIN: nothing ran, so the round
    // trip is safe to repeat on a fresh one.
    if (!results[0].ok() && !conn.usable()) {
        if (auto e = ensure(conn, "connect writer")) return fail_all(*e);
        results = conn.run_pipeline(calls);
    }
    in_transaction = results[0].ok();
    for (std::size_t k = 0; k < results.size(); ++k) {
        if (!results[k].ok()) return fail_with(ops[k], results[k]);
    }
    std::size_t next = 1;
    std::vector<std::int64_t> present;
    {
        const auto& r = results[next++];
        for (int row = 0; row < r.rows(); ++row) present.push_back(r.int64(row, 0));
    }
    auto exists = [&](AccountId id) {
        return std::binary_search(present.begin(), present.end(), id);
    };

    std::vector<Outcome> outcomes(batch.size());
    if (has_pairs) {
        // Each removed message is credited, in queue order, to the first ack that named it.
        const auto& r = results[next++];
        std::vector<std::pair<std::int64_t, std::int64_t>> removed;
        for (int row = 0; row < r.rows(); ++row) {
            removed.emplace_back(r.int64(row, 0), r.int64(row, 1));
        }
        std::sort(removed.begin(), removed.end());
        for (std::size_t i = 0; i < batch.size(); ++i) {
            const PendingWrite& w = batch[i];
            if (!w.is_ack || w.ack_up_to) continue;
            std::uint64_t credited = 0;
            for (MessageId id : w.ack_ids) {
                if (id > kMaxStored) continue;
                const std::pair<std::int64_t, std::int64_t> key{w.ack_recipient,
                                                                static_cast<std::int64_t>(id)};
                auto at = std::lower_bound(removed.begin(), removed.end(), key);
                if (at == removed.end() || *at != key) continue;
                removed.erase(at);
                ++credited;
            }
            outcomes[i].acked.emplace(credited);
        }
    } else {
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (batch[i].is_ack && !batch[i].ack_up_to) outcomes[i].acked.emplace(0);
        }
    }
    for (std::size_t index : ranged_acks) outcomes[index].acked.emplace(results[next++].affected());

    // Round trip 2: the rows and their reports, and COMMIT.
    std::vector<std::int64_t> ids;
    if (!appends.empty()) {
        const auto& r = results[next++];
        if (r.rows() != static_cast<int>(appends.size())) return fail_with("take message ids", r);
        for (int row = 0; row < r.rows(); ++row) ids.push_back(r.int64(row, 0));
        std::sort(ids.begin(), ids.end());
    }
    std::vector<std::size_t> stored;  // appends whose recipient exists, in queue order
    for (std::size_t index : appends) {
        if (exists(batch[index].message.recipient)) {
            stored.push_back(index);
        } else {
            outcomes[index].message.emplace(make_error(Errc::no_such_user, "no such user"));
        }
    }
    calls.clear();
    ops.clear();
    pq::Params insert_params, notify_params;
    std::vector<std::string> payloads;
    if (!stored.empty()) {
        const std::int64_t sent_at = now_ms();
        std::vector<std::int64_t> to_ids;
        std::vector<std::string_view> senders, names, bodies;
        for (std::size_t k = 0; k < stored.size(); ++k) {
            const NewMessage& m = batch[stored[k]].message;
            to_ids.push_back(m.recipient);
            senders.push_back(m.from);
            names.push_back(m.to);
            bodies.push_back(m.body);
            Message message{static_cast<MessageId>(ids[k]), m.from, m.to, m.body, sent_at};
            payloads.push_back(message_payload(options_.node_name, m.recipient, message));
            outcomes[stored[k]].message.emplace(std::move(message));
        }
        ids.resize(stored.size());
        insert_params.add_int8_array(ids)
            .add_int8_array(to_ids)
            .add_text_array(senders)
            .add_text_array(names)
            .add_bytea_array(bodies)
            .add(sent_at);
        calls.push_back(Call{.stmt = &kInsertMessages, .params = &insert_params});
        ops.push_back("insert messages");
        const std::vector<std::string_view> views(payloads.begin(), payloads.end());
        notify_params.add_text_array(views);
        calls.push_back(Call{.stmt = &kNotifyAll, .params = &notify_params});
        ops.push_back("notify messages");
    }
    if (options_.before_commit) {
        // The test hook runs with the rows written and the transaction still open.
        if (!calls.empty()) {
            results = conn.run_pipeline(calls);
            for (std::size_t k = 0; k < results.size(); ++k) {
                if (!results[k].ok()) return fail_with(ops[k], results[k]);
            }
            calls.clear();
            ops.clear();
        }
        options_.before_commit();
    }
    calls.push_back(Call{.sql = "COMMIT"});
    ops.push_back("commit write batch");
    results = conn.run_pipeline(calls);
    for (std::size_t k = 0; k < results.size(); ++k) {
        // A COMMIT whose answer was lost may or may not have committed: reported as a failure,
        // never as stored.
        if (!results[k].ok()) return fail_with(ops[k], results[k]);
    }
    return outcomes;
}

bool PostgresStore::Impl::readdress(PendingWrite& write) {
    write.looked_up = true;
    forget_account(write.message.recipient);
    pq::Connection& conn = *writer_conn_;
    if (ensure(conn, "find recipient")) return false;
    pq::Params p;
    p.add(to_lower_ascii(write.message.to));
    auto r = read(conn, kFindAccount, p);
    if (!r.ok() || r.rows() == 0) return false;  // gone (or unknown now): no_such_user stands
    const AccountId now = r.int64(0, 0);
    if (now == write.message.recipient) return false;
    write.message.recipient = now;
    write.message.to = std::string(r.text(0, 1));
    return true;
}

// --- Recipient cache ---

std::optional<AccountRecord> PostgresStore::Impl::cached_recipient(std::string_view name_lower,
                                                                   std::uint64_t& gen) {
    std::lock_guard lock(cache_mutex_);
    gen = cache_generation_;
    if (auto it = recipients_.find(std::string(name_lower)); it != recipients_.end()) {
        return it->second;
    }
    return std::nullopt;
}

void PostgresStore::Impl::cache_recipient(const AccountRecord& record, std::uint64_t gen) {
    std::lock_guard lock(cache_mutex_);
    if (gen != cache_generation_) return;  // something was forgotten since the read began
    if (recipients_.size() >= kRecipientCacheLimit) recipients_.clear();
    recipients_.insert_or_assign(to_lower_ascii(record.name), record);
}

void PostgresStore::Impl::forget_account(AccountId id) {
    std::lock_guard lock(cache_mutex_);
    ++cache_generation_;
    std::erase_if(recipients_, [id](const auto& entry) { return entry.second.id == id; });
}

void PostgresStore::Impl::forget_all_accounts() {
    std::lock_guard lock(cache_mutex_);
    ++cache_generation_;
    recipients_.clear();
}

// --- Listener ---

bool PostgresStore::Impl::start_listening(std::string& error) {
    pq::Connection& conn = *listen_conn_;
    if (!conn.connect(error)) return false;
    auto r = conn.exec((std::string("LISTEN ") + kChannel).c_str());
    if (!r.ok()) {
        error = r.message();
        conn.close();
        return false;
    }
    return true;
}

void PostgresStore::Impl::wake_listener() noexcept {
    if (wake_fds_[1] < 0) return;
    const char byte = 1;
    [[maybe_unused]] auto n = ::write(wake_fds_[1], &byte, 1);
}

template <class F>
void PostgresStore::Impl::report(F&& call) {
    std::lock_guard lock(events_mutex_);
    if (events_ == nullptr) return;
    try {
        call(*events_);
    } catch (const std::exception& e) {
        log::write(log::Level::error, "store", "store events receiver threw",
                   log::Fields().add("what", e.what()).str());
    } catch (...) {
        log::write(log::Level::error, "store", "store events receiver threw");
    }
}

void PostgresStore::Impl::listener_loop() {
    pq::Connection& conn = *listen_conn_;
    bool lost = false;
    std::chrono::milliseconds wait = options_.reconnect_min;
    while (!listener_stopping_) {
        if (!conn.usable()) {
            if (!lost) {
                log::write(log::Level::warn, "store", "lost the postgres listening connection",
                           log::Fields().add("db", label_).str());
            }
            lost = true;
            conn.close();
            std::string error;
            if (!start_listening(error)) {
                std::unique_lock lock(listener_mutex_);
                listener_cv_.wait_for(lock, wait, [this] { return listener_stopping_.load(); });
                wait = std::min(wait * 2, options_.reconnect_max);
                continue;
            }
            wait = options_.reconnect_min;
            lost = false;
            log::write(log::Level::info, "store", "listening on postgres again",
                       log::Fields().add("db", label_).str());
            // Whatever was reported while we were away is gone, deletes among it.
            forget_all_accounts();
            report([](StoreEvents& e) { e.resync(); });
            continue;
        }
        pollfd fds[2] = {{PQsocket(conn.get()), POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
        const int n = ::poll(fds, 2, kListenPollMs);
        if (n < 0 && errno != EINTR) {
            conn.close();
            continue;
        }
        if (listener_stopping_) break;
        if (n <= 0 || (fds[0].revents == 0)) continue;
        if (PQconsumeInput(conn.get()) == 0) {
            conn.close();
            continue;
        }
        while (PGnotify* notify = PQnotifies(conn.get())) {
            const std::string payload = notify->extra != nullptr ? notify->extra : "";
            PQfreemem(notify);
            handle_notification(payload);
        }
    }
}

void PostgresStore::Impl::handle_notification(std::string_view payload) {
    const auto fields = split_fields(payload);
    if (!fields || fields->size() < 3) {
        log::write(log::Level::warn, "store", "unreadable store notification");
        return;
    }
    const auto& f = *fields;
    if (f[1] == options_.node_name) return;  // our own commit
    const auto id = parse_int<std::int64_t>(f[2]);
    if (!id) return;
    if (f[0] == "d") {
        forget_account(*id);
        report([&](StoreEvents& e) { e.deleted_elsewhere(*id); });
        return;
    }
    if (f[0] != "m" || f.size() < 4) return;
    const auto message_id = parse_int<MessageId>(f[3]);
    if (!message_id) return;
    if (f.size() >= 8) {
        const auto sent_at = parse_int<std::int64_t>(f[4]);
        if (!sent_at) return;
        const Message m{*message_id, std::string(f[5]), std::string(f[6]), std::string(f[7]),
                        *sent_at};
        report([&](StoreEvents& e) { e.stored_elsewhere(*id, m); });
        return;
    }
    // Too big to report inline: read it back (gone already if it was acked or its recipient
    // deleted meanwhile, and then there is nothing to push).
    pq::Params p;
    p.add(static_cast<std::int64_t>(*message_id));
    auto r = listen_conn_->run(kMessageById, p);
    if (!r.ok()) {
        (void)failure("read reported message", *listen_conn_, r);
        return;  // a lost connection is noticed by the loop, which then resyncs
    }
    if (r.rows() != 1) return;
    const Message m = message_from_row(r, 0, 0);
    report([&](StoreEvents& e) { e.stored_elsewhere(*id, m); });
}

// --- PostgresStore ---

PostgresStore::PostgresStore(PostgresOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

PostgresStore::~PostgresStore() {
    flush();
    impl_.reset();
}

int PostgresStore::schema_version() noexcept { return kSchemaVersion; }

Result<AccountRecord> PostgresStore::create_account(std::string_view name,
                                                    std::string_view password_hash) {
    auto& d = *impl_;
    auto conn = d.lease();
    if (auto e = d.ensure(*conn, "create account")) return *e;
    pq::Params p;
    p.add(name).add(to_lower_ascii(name)).add(password_hash).add(now_ms());
    auto r = conn->run(kCreateAccount, p);
    if (r.sqlstate() == "23505") return make_error(Errc::user_exists, "username already taken");
    if (!r.ok() || r.rows() != 1) return d.failure("create account", *conn, r);
    return AccountRecord{r.int64(0, 0), std::string(name), std::string(password_hash)};
}

Result<std::optional<AccountRecord>> PostgresStore::find_account(std::string_view name_lower) {
    auto& d = *impl_;
    auto conn = d.lease();
    if (auto e = d.ensure(*conn, "find account")) return *e;
    pq::Params p;
    p.add(name_lower);
    auto r = d.read(*conn, kFindAccount, p);
    if (!r.ok()) return d.failure("find account", *conn, r);
    if (r.rows() == 0) return std::optional<AccountRecord>{};
    return std::optional<AccountRecord>{
        AccountRecord{r.int64(0, 0), std::string(r.text(0, 1)), std::string(r.text(0, 2))}};
}

Result<bool> PostgresStore::delete_account(AccountId id) {
    auto& d = *impl_;
    auto conn = d.lease();
    if (auto e = d.ensure(*conn, "delete account")) return *e;
    auto abort = [&](std::string_view op, const pq::PgResult& r) {
        Error error = d.failure(op, *conn, r);
        if (conn->usable()) conn->exec("ROLLBACK");
        return error;
    };
    if (auto r = conn->exec("BEGIN"); !r.ok()) return d.failure("begin delete account", *conn, r);
    pq::Params p;
    p.add(id);
    {
        // The account row first, as every writer locks it (no deadlock with a write batch).
        auto r = conn->run(kLockAccount, p);
        if (!r.ok()) return abort("lock account", r);
        if (r.rows() == 0) {
            conn->exec("ROLLBACK");
            return false;
        }
    }
    // Explicit, so the queue goes even if the foreign-key cascade were ever dropped.
    if (auto r = conn->run(kDeleteQueue, p); !r.ok()) return abort("delete queue", r);
    if (auto r = conn->run(kDeleteAccount, p); !r.ok()) return abort("delete account", r);
    {
        pq::Params n;
        n.add(deleted_payload(d.options_.node_name, id));
        if (auto r = conn->run(kNotify, n); !r.ok()) return abort("notify delete", r);
    }
    if (auto r = conn->exec("COMMIT"); !r.ok()) return d.failure("commit delete account", *conn, r);
    d.forget_account(id);
    return true;
}

Result<std::optional<AccountRecord>> PostgresStore::find_recipient(std::string_view name_lower) {
    auto& d = *impl_;
    std::uint64_t gen = 0;
    if (auto hit = d.cached_recipient(name_lower, gen)) return std::optional<AccountRecord>{*hit};
    auto found = find_account(name_lower);
    if (found && found->has_value()) d.cache_recipient(**found, gen);
    return found;
}

void PostgresStore::append_message(NewMessage message, AppendDone done) {
    auto& d = *impl_;
    {
        std::lock_guard lock(d.queue_mutex_);
        Impl::PendingWrite write;
        write.message = std::move(message);
        write.done = std::move(done);
        d.pending_.push_back(std::move(write));
        ++d.accepted_;
    }
    d.work_cv_.notify_one();
}

void PostgresStore::ack_async(AccountId recipient, std::vector<MessageId> ids,
                              std::optional<MessageId> up_to, AckDone done) {
    auto& d = *impl_;
    {
        std::lock_guard lock(d.queue_mutex_);
        Impl::PendingWrite write;
        write.is_ack = true;
        write.ack_recipient = recipient;
        write.ack_ids = std::move(ids);
        write.ack_up_to = up_to;
        write.ack_done = std::move(done);
        d.pending_.push_back(std::move(write));
        ++d.accepted_;
    }
    d.work_cv_.notify_one();
}

Result<FetchResult> PostgresStore::fetch(AccountId recipient, std::size_t max) {
    auto& d = *impl_;
    auto conn = d.lease();
    if (auto e = d.ensure(*conn, "fetch queue")) return *e;
    pq::Params p;
    p.add(recipient).add(static_cast<std::int64_t>(
        std::min<std::size_t>(max, static_cast<std::size_t>(kMaxStored))));
    auto r = d.read(*conn, kFetch, p);
    if (!r.ok() || r.rows() < 1) return d.failure("fetch queue", *conn, r);
    FetchResult out;
    const auto total = static_cast<std::uint64_t>(r.int64(0, 0));
    for (int row = 0; row < r.rows(); ++row) {
        if (r.is_null(row, 1)) continue;  // the empty page of the outer join
        out.messages.push_back(message_from_row(r, row, 1));
    }
    out.remaining = total - out.messages.size();
    return out;
}

Result<std::uint64_t> PostgresStore::ack(AccountId recipient, std::span<const MessageId> ids,
                                         std::optional<MessageId> up_to) {
    auto& d = *impl_;
    auto conn = d.lease();
    if (auto e = d.ensure(*conn, "ack")) return *e;
    std::vector<std::int64_t> stored_ids;
    for (MessageId id : ids) {
        if (id <= kMaxStored) stored_ids.push_back(static_cast<std::int64_t>(id));
    }
    pq::Params p;
    p.add(recipient).add_int8_array(stored_ids);
    if (up_to) {
        p.add(static_cast<std::int64_t>(std::min(*up_to, kMaxStored)));
    } else {
        p.add_null();
    }
    auto r = conn->run(kAck, p);
    if (!r.ok()) return d.failure("ack", *conn, r);
    return r.affected();
}

Result<std::uint64_t> PostgresStore::count_queued(AccountId recipient) {
    auto& d = *impl_;
    auto conn = d.lease();
    if (auto e = d.ensure(*conn, "count queue")) return *e;
    pq::Params p;
    p.add(recipient);
    auto r = d.read(*conn, kCount, p);
    if (!r.ok() || r.rows() != 1) return d.failure("count queue", *conn, r);
    return static_cast<std::uint64_t>(r.int64(0, 0));
}

Result<QueueState> PostgresStore::queue_state(AccountId recipient) {
    auto& d = *impl_;
    auto conn = d.lease();
    if (auto e = d.ensure(*conn, "read queue state")) return *e;
    pq::Params p;
    p.add(recipient);
    auto r = d.read(*conn, kQueueState, p);
    if (!r.ok() || r.rows() > 1) return d.failure("read queue state", *conn, r);
    if (r.rows() == 0) {
        d.forget_account(recipient);
        return make_error(Errc::no_such_user, "no such user");
    }
    return QueueState{static_cast<std::uint64_t>(r.int64(0, 0)),
                      static_cast<MessageId>(r.int64(0, 1))};
}

Result<std::vector<std::string>> PostgresStore::list_accounts(
    std::string_view after_lower, std::string_view prefix_lower,
    const std::function<bool(std::string_view name)>& match, std::size_t limit) {
    auto& d = *impl_;
    const std::size_t want = limit == SIZE_MAX ? limit : limit + 1;
    // LIKE with the prefix's own wildcards escaped (backslash is LIKE's default escape).
    std::string pattern;
    for (char c : prefix_lower) {
        if (c == '\\' || c == '%' || c == '_') pattern.push_back('\\');
        pattern.push_back(c);
    }
    pattern.push_back('%');
    std::vector<std::string> out;
    std::string cursor(after_lower);
    auto conn = d.lease();
    if (auto e = d.ensure(*conn, "list accounts")) return *e;
    // Scan in chunks from the cursor, as SqliteStore does; `match` runs on this thread with a
    // pool connection held, and must not call this store.
    for (;;) {
        pq::Params p;
        p.add(cursor).add(pattern).add(static_cast<std::int64_t>(kListChunk));
        auto r = d.read(*conn, kList, p);
        if (!r.ok()) return d.failure("list accounts", *conn, r);
        for (int row = 0; row < r.rows(); ++row) {
            const std::string_view name = r.text(row, 0);
            if (!match || match(name)) {
                out.emplace_back(name);
                if (out.size() >= want) return out;
            }
            cursor.assign(r.text(row, 1));
        }
        if (static_cast<std::size_t>(r.rows()) < kListChunk) return out;
    }
}

Result<MessageId> PostgresStore::next_message_id() {
    auto& d = *impl_;
    auto conn = d.lease();
    if (auto e = d.ensure(*conn, "read message sequence")) return *e;
    auto r = d.read(*conn, kNextId);
    if (!r.ok() || r.rows() != 1) return d.failure("read message sequence", *conn, r);
    return static_cast<MessageId>(r.int64(0, 0));
}

void PostgresStore::flush() {
    auto& d = *impl_;
    // Waiting on the writer from its own thread (inside a `done`) could never finish.
    if (std::this_thread::get_id() == d.writer_.get_id()) return;
    std::unique_lock lock(d.queue_mutex_);
    const std::uint64_t target = d.accepted_;
    d.flushed_cv_.wait(lock, [&] { return d.completed_ >= target; });
}

void PostgresStore::set_events(StoreEvents* events) {
    // Taking the mutex waits for a callback in progress; the next one sees the new receiver.
    std::lock_guard lock(impl_->events_mutex_);
    impl_->events_ = events;
}

}  // namespace chat
