// SqliteStore: the durable Store on an embedded SQLite database.
//
// One connection, guarded by `db_mutex_` (the connection is opened without SQLite's own mutex).
// Reads and small writes run on the caller's thread. Appends and asynchronous acks go through a
// queue to one writer thread that commits whatever is pending in a single transaction, in queue
// order, so a burst of concurrent sends (and the acks of their receivers) shares one commit; each
// `done` runs only after its transaction committed.
//
// Message ids come from a persisted sequence row (never max(id)), bumped in the same transaction
// as the inserts, so ids are never reused after acks, deletes or restarts.
#include "chat/sqlite_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chat/log.hpp"
#include "chat/validation.hpp"

namespace chat {

namespace {

// Each step moves the schema from version N-1 to N, applied in order inside one transaction.
// Add new steps at the end; never edit a step that has shipped.
constexpr const char* kMigrations[] = {
    // 1: accounts, message queues, the message-id sequence.
    R"sql(
CREATE TABLE accounts(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE messages(
    id INTEGER PRIMARY KEY,
    recipient_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at INTEGER NOT NULL
);
CREATE INDEX messages_by_recipient ON messages(recipient_id, id);
CREATE TABLE meta(
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES('next_message_id', 1);
)sql",
};

constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

// Accounts read per step of a list scan; bounds the work done per statement when `match` rejects
// most names.
constexpr std::size_t kListChunk = 256;

constexpr int kBusyTimeoutMs = 5000;

// Accounts remembered by find_account; beyond this many the cache starts afresh.
constexpr std::size_t kAccountCacheLimit = 65536;

const char* const kStorageFailure = "storage failure";

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string_view column_text(sqlite3_stmt* stmt, int col) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
    if (text == nullptr) return {};
    return {text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, col))};
}

// The connection, closed on destruction (after every Statement declared after it).
class Connection {
   public:
    Connection() = default;
    ~Connection() { sqlite3_close_v2(db_); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    sqlite3** out() noexcept { return &db_; }
    sqlite3* get() const noexcept { return db_; }

   private:
    sqlite3* db_ = nullptr;
};

// A prepared statement, finalized on destruction.
class Statement {
   public:
    Statement() = default;
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    void prepare(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) !=
            SQLITE_OK) {
            throw std::runtime_error(std::string("cannot prepare statement: ") +
                                     sqlite3_errmsg(db));
        }
    }
    sqlite3_stmt* get() const noexcept { return stmt_; }

   private:
    sqlite3_stmt* stmt_ = nullptr;
};

// One use of a prepared statement: resets it and drops its bindings when the use ends, so the
// statement releases its read snapshot and no bound buffer outlives the call.
class Use {
   public:
    explicit Use(const Statement& s) : stmt_(s.get()) {}
    ~Use() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

    Use& bind(int index, std::int64_t value) {
        ok_ = ok_ && sqlite3_bind_int64(stmt_, index, value) == SQLITE_OK;
        return *this;
    }
    Use& bind(int index, std::string_view text) {
        // SQLITE_STATIC: the caller's buffer outlives this use (bindings are cleared on exit).
        ok_ = ok_ && sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                       SQLITE_STATIC) == SQLITE_OK;
        return *this;
    }
    // SQLITE_ROW, SQLITE_DONE or an error code. A failed bind reports SQLITE_MISUSE.
    int step() { return ok_ ? sqlite3_step(stmt_) : SQLITE_MISUSE; }
    sqlite3_stmt* get() const noexcept { return stmt_; }

   private:
    sqlite3_stmt* stmt_;
    bool ok_ = true;
};

}  // namespace

struct SqliteStore::Impl {
    // One queued write: an append, or (is_ack) an ack.
    struct PendingWrite {
        bool is_ack = false;
        NewMessage message;  // append
        AppendDone done;     // append
        AccountId ack_recipient = 0;
        std::vector<MessageId> ack_ids;
        std::optional<MessageId> ack_up_to;
        AckDone ack_done;
    };
    // What became of one PendingWrite.
    struct Outcome {
        std::optional<Result<Message>> message;
        std::optional<Result<std::uint64_t>> acked;
    };

    explicit Impl(SqliteOptions opts);
    ~Impl();

    // --- Everything below touching `db_` or a statement needs `db_mutex_` held. ---

    // Logs the detail of the last SQLite failure and returns the generic error the caller sees.
    Error failure(std::string_view op);
    bool exec(const char* sql);       // for statements run rarely (pragmas, migrations)
    bool run(const Statement& stmt);  // a prepared statement without parameters or rows

    void open();
    void migrate();
    void prepare_statements();

    // Writer thread.
    void writer_loop();
    std::vector<Outcome> commit_batch(std::vector<PendingWrite>& batch);
    // Inside a transaction, db_mutex_ held: deletes the acked messages; nullopt on failure.
    std::optional<std::uint64_t> delete_acked(AccountId recipient, std::span<const MessageId> ids,
                                              std::optional<MessageId> up_to);

    SqliteOptions options_;
    Connection connection_;
    sqlite3* db_ = nullptr;  // owned by connection_
    std::mutex db_mutex_;

    Statement begin_, commit_, rollback_;
    Statement insert_account_, find_account_, delete_account_, delete_queue_;
    Statement insert_message_, read_sequence_, write_sequence_;
    Statement fetch_, count_, ack_one_, ack_up_to_, list_;

    // Accounts by lower-cased name, as find_account last read them. Every send looks its
    // recipient up, and a read transaction of its own costs more than the rest of the send.
    // Exact because this connection is the database's only writer (see fetch): a created
    // account is read on first use, a deleted one is dropped here when its delete commits.
    std::unordered_map<std::string, AccountRecord> account_cache_;
    // Queue lengths by recipient, counted on first use and kept exact by every committed write
    // since (for the same reason), so fetch and login do not count a long queue each time.
    std::unordered_map<AccountId, std::uint64_t> queued_count_;
    // db_mutex_ held: the queue length of `recipient`; nullopt on failure.
    std::optional<std::uint64_t> queued(AccountId recipient);
    // db_mutex_ held, after a commit: adds `delta` to a counted queue length.
    void adjust_queued(AccountId recipient, std::int64_t delta);

    // Write queue, guarded by `queue_mutex_`. `accepted_`/`completed_` count writes so `flush`
    // waits only for what was accepted before it was called, even under a steady stream.
    std::mutex queue_mutex_;
    std::condition_variable work_cv_;
    std::condition_variable flushed_cv_;
    std::deque<PendingWrite> pending_;
    std::uint64_t accepted_ = 0;
    std::uint64_t completed_ = 0;
    bool stopping_ = false;
    bool writing_ = false;  // the writer has taken a batch and not yet finished it
    std::thread writer_;
};

SqliteStore::Impl::Impl(SqliteOptions opts) : options_(std::move(opts)) {
    if (options_.max_batch == 0) options_.max_batch = 1;
    try {
        open();
        migrate();
        prepare_statements();
    } catch (const std::exception& e) {
        // Members unwind in reverse order: statements are finalized before the connection closes.
        throw std::runtime_error("cannot open database '" + options_.path + "': " + e.what());
    }
    writer_ = std::thread([this] { writer_loop(); });
}

SqliteStore::Impl::~Impl() {
    {
        std::lock_guard lock(queue_mutex_);
        stopping_ = true;
    }
    work_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
}

Error SqliteStore::Impl::failure(std::string_view op) {
    log::write(log::Level::error, "store", "sqlite call failed",
               log::Fields()
                   .add("op", op)
                   .add("code", sqlite3_extended_errcode(db_))
                   .add("detail", std::string("\"") + sqlite3_errmsg(db_) + "\"")
                   .str());
    return make_error(Errc::internal, kStorageFailure);
}

bool SqliteStore::Impl::exec(const char* sql) {
    return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

bool SqliteStore::Impl::run(const Statement& stmt) {
    Use use(stmt);
    return use.step() == SQLITE_DONE;
}

void SqliteStore::Impl::open() {
    // NOMUTEX: this class serialises every use of the connection itself.
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(options_.path.c_str(), connection_.out(), flags, nullptr);
    db_ = connection_.get();
    if (rc != SQLITE_OK) {
        std::string detail = db_ ? sqlite3_errmsg(db_) : "out of memory";
        throw std::runtime_error(detail);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);

    const char* sync = options_.sync == SqliteOptions::Sync::full ? "PRAGMA synchronous=FULL"
                                                                  : "PRAGMA synchronous=NORMAL";
    for (const char* pragma : {"PRAGMA journal_mode=WAL", sync, "PRAGMA foreign_keys=ON"}) {
        if (!exec(pragma)) {
            throw std::runtime_error(std::string(pragma) + " failed: " + sqlite3_errmsg(db_));
        }
    }
}

void SqliteStore::Impl::migrate() {
    auto fail = [this](const std::string& what) {
        std::string detail = what + ": " + sqlite3_errmsg(db_);
        exec("ROLLBACK");
        throw std::runtime_error(detail);
    };
    // IMMEDIATE: take the write lock first so two processes cannot migrate the same file at once.
    if (!exec("BEGIN IMMEDIATE")) fail("cannot begin migration");
    if (!exec("CREATE TABLE IF NOT EXISTS schema_version("
              "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")) {
        fail("cannot create schema_version");
    }
    int current = 0;
    {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(db_, "SELECT coalesce(max(version), 0) FROM schema_version", -1,
                               &stmt, nullptr) != SQLITE_OK) {
            fail("cannot read schema version");
        }
        if (sqlite3_step(stmt) == SQLITE_ROW) current = sqlite3_column_int(stmt, 0);
        sqlite3_finalize(stmt);
    }
    if (current > kSchemaVersion) {
        exec("ROLLBACK");
        throw std::runtime_error("schema version " + std::to_string(current) +
                                 " is newer than this build supports (" +
                                 std::to_string(kSchemaVersion) + ")");
    }
    for (int version = current + 1; version <= kSchemaVersion; ++version) {
        if (!exec(kMigrations[version - 1])) {
            fail("migration to schema version " + std::to_string(version) + " failed");
        }
        const std::string record = "INSERT INTO schema_version(version, applied_at) VALUES(" +
                                   std::to_string(version) + ", " + std::to_string(now_ms()) + ")";
        if (!exec(record.c_str())) fail("cannot record schema version");
    }
    if (!exec("COMMIT")) fail("cannot commit migration");
    if (current < kSchemaVersion) {
        log::write(log::Level::info, "store", "database migrated",
                   log::Fields()
                       .add("path", options_.path)
                       .add("from", current)
                       .add("to", kSchemaVersion)
                       .str());
    }
}

void SqliteStore::Impl::prepare_statements() {
    begin_.prepare(db_, "BEGIN IMMEDIATE");
    commit_.prepare(db_, "COMMIT");
    rollback_.prepare(db_, "ROLLBACK");
    insert_account_.prepare(db_,
                            "INSERT INTO accounts(name, name_lower, password_hash, created_at) "
                            "VALUES(?1, ?2, ?3, ?4)");
    find_account_.prepare(db_,
                          "SELECT id, name, password_hash FROM accounts WHERE name_lower = ?1");
    delete_account_.prepare(db_, "DELETE FROM accounts WHERE id = ?1");
    delete_queue_.prepare(db_, "DELETE FROM messages WHERE recipient_id = ?1");
    insert_message_.prepare(db_,
                            "INSERT INTO messages(id, recipient_id, sender, recipient, body, "
                            "sent_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    read_sequence_.prepare(db_, "SELECT value FROM meta WHERE key = 'next_message_id'");
    write_sequence_.prepare(db_, "UPDATE meta SET value = ?1 WHERE key = 'next_message_id'");
    fetch_.prepare(db_,
                   "SELECT id, sender, recipient, body, sent_at FROM messages "
                   "WHERE recipient_id = ?1 ORDER BY id LIMIT ?2");
    count_.prepare(db_, "SELECT count(*) FROM messages WHERE recipient_id = ?1");
    ack_one_.prepare(db_, "DELETE FROM messages WHERE recipient_id = ?1 AND id = ?2");
    ack_up_to_.prepare(db_, "DELETE FROM messages WHERE recipient_id = ?1 AND id <= ?2");
    list_.prepare(db_,
                  "SELECT name, name_lower FROM accounts WHERE name_lower > ?1 AND "
                  "name_lower >= ?2 ORDER BY name_lower LIMIT ?3");
}

void SqliteStore::Impl::writer_loop() {
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
            writing_ = true;
        }
        std::vector<Outcome> outcomes = commit_batch(batch);
        // Outside both mutexes: a callback may call back into this store (not flush).
        for (std::size_t i = 0; i < batch.size(); ++i) {
            PendingWrite& write = batch[i];
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
            completed_ += batch.size();
            writing_ = false;
        }
        flushed_cv_.notify_all();
        batch.clear();
    }
}

std::optional<std::uint64_t> SqliteStore::Impl::delete_acked(AccountId recipient,
                                                             std::span<const MessageId> ids,
                                                             std::optional<MessageId> up_to) {
    // Rows already removed by `up_to` (or a repeated id) delete nothing the second time, so
    // counting changes per statement counts the union exactly once.
    // SQLite's integers are signed: an id above INT64_MAX is no stored message, and an `up_to`
    // above it means "everything" (cast as it is, it would turn negative and match nothing).
    constexpr auto kMaxStored = static_cast<MessageId>(std::numeric_limits<std::int64_t>::max());
    std::uint64_t removed = 0;
    if (up_to) {
        Use use(ack_up_to_);
        use.bind(1, recipient).bind(2, static_cast<std::int64_t>(std::min(*up_to, kMaxStored)));
        if (use.step() != SQLITE_DONE) return std::nullopt;
        removed += static_cast<std::uint64_t>(sqlite3_changes(db_));
    }
    for (MessageId id : ids) {
        if (id > kMaxStored) continue;
        Use use(ack_one_);
        use.bind(1, recipient).bind(2, static_cast<std::int64_t>(id));
        if (use.step() != SQLITE_DONE) return std::nullopt;
        removed += static_cast<std::uint64_t>(sqlite3_changes(db_));
    }
    return removed;
}

std::optional<std::uint64_t> SqliteStore::Impl::queued(AccountId recipient) {
    if (auto it = queued_count_.find(recipient); it != queued_count_.end()) return it->second;
    Use use(count_);
    use.bind(1, recipient);
    if (use.step() != SQLITE_ROW) return std::nullopt;
    const auto count = static_cast<std::uint64_t>(sqlite3_column_int64(use.get(), 0));
    queued_count_.emplace(recipient, count);
    return count;
}

void SqliteStore::Impl::adjust_queued(AccountId recipient, std::int64_t delta) {
    auto it = queued_count_.find(recipient);
    if (it == queued_count_.end()) return;  // not counted yet: counted when first needed
    it->second = static_cast<std::uint64_t>(static_cast<std::int64_t>(it->second) + delta);
}

std::vector<SqliteStore::Impl::Outcome> SqliteStore::Impl::commit_batch(
    std::vector<PendingWrite>& batch) {
    std::lock_guard lock(db_mutex_);
    auto fail_all = [&](std::string_view op) {
        Error error = failure(op);
        if (!sqlite3_get_autocommit(db_) && !run(rollback_)) failure("rollback");
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

    if (!run(begin_)) return fail_all("begin append batch");
    std::int64_t next_id = 0;
    {
        Use use(read_sequence_);
        if (use.step() != SQLITE_ROW) return fail_all("read message sequence");
        next_id = sqlite3_column_int64(use.get(), 0);
    }

    const std::int64_t sent_at = now_ms();
    const std::int64_t first_id = next_id;
    std::vector<Outcome> outcomes(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        PendingWrite& pending = batch[i];
        if (pending.is_ack) {
            auto removed = delete_acked(pending.ack_recipient, pending.ack_ids, pending.ack_up_to);
            if (!removed) return fail_all("ack");
            outcomes[i].acked.emplace(*removed);
            continue;
        }
        const NewMessage& m = pending.message;
        Use use(insert_message_);
        use.bind(1, next_id)
            .bind(2, m.recipient)
            .bind(3, m.from)
            .bind(4, m.to)
            .bind(5, m.body)
            .bind(6, sent_at);
        const int rc = use.step();
        if (rc == SQLITE_DONE) {
            outcomes[i].message.emplace(
                Message{static_cast<MessageId>(next_id), m.from, m.to, m.body, sent_at});
            ++next_id;
        } else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
            // The recipient was deleted after the caller looked it up; only this message fails.
            outcomes[i].message.emplace(make_error(Errc::no_such_user, "no such user"));
        } else {
            return fail_all("insert message");
        }
    }

    if (next_id != first_id) {
        Use use(write_sequence_);
        use.bind(1, next_id);
        if (use.step() != SQLITE_DONE) return fail_all("write message sequence");
    }
    if (!run(commit_)) return fail_all("commit write batch");
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (batch[i].is_ack) {
            adjust_queued(batch[i].ack_recipient, -static_cast<std::int64_t>(**outcomes[i].acked));
        } else if (outcomes[i].message->ok()) {
            adjust_queued(batch[i].message.recipient, 1);
        }
    }
    return outcomes;
}

// --- SqliteStore ---

SqliteStore::SqliteStore(SqliteOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

SqliteStore::~SqliteStore() {
    flush();
    impl_.reset();
}

int SqliteStore::schema_version() noexcept { return kSchemaVersion; }

Result<AccountRecord> SqliteStore::create_account(std::string_view name,
                                                  std::string_view password_hash) {
    const std::string lower = to_lower_ascii(name);
    std::lock_guard lock(impl_->db_mutex_);
    Use use(impl_->insert_account_);
    use.bind(1, name).bind(2, lower).bind(3, password_hash).bind(4, now_ms());
    const int rc = use.step();
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
        return make_error(Errc::user_exists, "username already taken");
    }
    if (rc != SQLITE_DONE) return impl_->failure("create account");
    return AccountRecord{sqlite3_last_insert_rowid(impl_->db_), std::string(name),
                         std::string(password_hash)};
}

Result<std::optional<AccountRecord>> SqliteStore::find_account(std::string_view name_lower) {
    auto& d = *impl_;
    std::lock_guard lock(d.db_mutex_);
    const std::string key(name_lower);
    if (auto it = d.account_cache_.find(key); it != d.account_cache_.end()) {
        return std::optional<AccountRecord>{it->second};
    }
    Use use(d.find_account_);
    use.bind(1, name_lower);
    const int rc = use.step();
    if (rc == SQLITE_DONE) return std::optional<AccountRecord>{};
    if (rc != SQLITE_ROW) return d.failure("find account");
    AccountRecord record{sqlite3_column_int64(use.get(), 0), std::string(column_text(use.get(), 1)),
                         std::string(column_text(use.get(), 2))};
    if (d.account_cache_.size() >= kAccountCacheLimit) d.account_cache_.clear();
    d.account_cache_.emplace(key, record);
    return std::optional<AccountRecord>{std::move(record)};
}

Result<std::optional<AccountRecord>> SqliteStore::find_recipient(std::string_view name_lower) {
    {
        auto& d = *impl_;
        std::lock_guard lock(d.db_mutex_);
        if (auto it = d.account_cache_.find(std::string(name_lower));
            it != d.account_cache_.end()) {
            return std::optional<AccountRecord>{AccountRecord{it->second.id, it->second.name, {}}};
        }
    }
    auto found = find_account(name_lower);  // reads it into the cache
    if (found && found->has_value()) (*found)->password_hash.clear();
    return found;
}

Result<bool> SqliteStore::delete_account(AccountId id) {
    auto& d = *impl_;
    std::lock_guard lock(d.db_mutex_);
    if (!d.run(d.begin_)) return d.failure("begin delete account");
    auto abort = [&](std::string_view op) {
        Error error = d.failure(op);
        if (!sqlite3_get_autocommit(d.db_) && !d.run(d.rollback_)) d.failure("rollback");
        return error;
    };
    {
        // Explicit, so the queue goes even if the foreign-key cascade were ever disabled.
        Use use(d.delete_queue_);
        use.bind(1, id);
        if (use.step() != SQLITE_DONE) return abort("delete queue");
    }
    bool existed = false;
    {
        Use use(d.delete_account_);
        use.bind(1, id);
        if (use.step() != SQLITE_DONE) return abort("delete account");
        existed = sqlite3_changes(d.db_) > 0;
    }
    if (!d.run(d.commit_)) return abort("commit delete account");
    d.queued_count_.erase(id);
    std::erase_if(d.account_cache_, [id](const auto& entry) { return entry.second.id == id; });
    return existed;
}

void SqliteStore::append_message(NewMessage message, AppendDone done) {
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

void SqliteStore::ack_async(AccountId recipient, std::vector<MessageId> ids,
                            std::optional<MessageId> up_to, AckDone done) {
    auto& d = *impl_;
    bool run_here = false;
    {
        std::lock_guard lock(d.queue_mutex_);
        // An idle writer: a transaction of its own right here costs less than a hand-over to
        // the writer and back. A busy one: join its next group commit rather than wait for the
        // store mutex until the current commit is done.
        run_here = d.pending_.empty() && !d.writing_;
        if (!run_here) {
            Impl::PendingWrite write;
            write.is_ack = true;
            write.ack_recipient = recipient;
            write.ack_ids = std::move(ids);
            write.ack_up_to = up_to;
            write.ack_done = std::move(done);
            d.pending_.push_back(std::move(write));
            ++d.accepted_;
        }
    }
    if (run_here) {
        done(ack(recipient, ids, up_to));
    } else {
        d.work_cv_.notify_one();
    }
}

Result<FetchResult> SqliteStore::fetch(AccountId recipient, std::size_t max) {
    auto& d = *impl_;
    std::lock_guard lock(d.db_mutex_);
    FetchResult out;
    const auto counted = d.queued(recipient);
    if (!counted) return d.failure("count queue");
    const std::uint64_t total = *counted;
    if (max > 0 && total > 0) {
        Use use(d.fetch_);
        use.bind(1, recipient)
            .bind(2, static_cast<std::int64_t>(std::min<std::uint64_t>(max, total)));
        int rc = 0;
        while ((rc = use.step()) == SQLITE_ROW) {
            sqlite3_stmt* s = use.get();
            out.messages.push_back(
                Message{static_cast<MessageId>(sqlite3_column_int64(s, 0)),
                        std::string(column_text(s, 1)), std::string(column_text(s, 2)),
                        std::string(column_text(s, 3)), sqlite3_column_int64(s, 4)});
        }
        if (rc != SQLITE_DONE) return d.failure("fetch queue");
    }
    // Both reads ran under db_mutex_, and only this connection writes, so they agree.
    out.remaining = total - out.messages.size();
    return out;
}

Result<std::uint64_t> SqliteStore::ack(AccountId recipient, std::span<const MessageId> ids,
                                       std::optional<MessageId> up_to) {
    auto& d = *impl_;
    std::lock_guard lock(d.db_mutex_);
    if (!d.run(d.begin_)) return d.failure("begin ack");
    auto abort = [&](std::string_view op) {
        Error error = d.failure(op);
        if (!sqlite3_get_autocommit(d.db_) && !d.run(d.rollback_)) d.failure("rollback");
        return error;
    };
    auto removed = d.delete_acked(recipient, ids, up_to);
    if (!removed) return abort("ack");
    if (!d.run(d.commit_)) return abort("commit ack");
    d.adjust_queued(recipient, -static_cast<std::int64_t>(*removed));
    return *removed;
}

Result<std::uint64_t> SqliteStore::count_queued(AccountId recipient) {
    auto& d = *impl_;
    std::lock_guard lock(d.db_mutex_);
    const auto counted = d.queued(recipient);
    if (!counted) return d.failure("count queue");
    return *counted;
}

Result<std::vector<std::string>> SqliteStore::list_accounts(
    std::string_view after_lower, std::string_view prefix_lower,
    const std::function<bool(std::string_view name)>& match, std::size_t limit) {
    auto& d = *impl_;
    const std::size_t want = limit == SIZE_MAX ? limit : limit + 1;
    std::vector<std::string> out;
    std::string cursor(after_lower);
    std::lock_guard lock(d.db_mutex_);
    // Scan in chunks from the cursor: each chunk is one short statement, and the scan stops as
    // soon as names leave the prefix range or enough matches are found.
    // `match` runs under db_mutex_; it is a pure pattern test and must not call this store.
    for (;;) {
        Use use(d.list_);
        use.bind(1, cursor).bind(2, prefix_lower).bind(3, static_cast<std::int64_t>(kListChunk));
        std::size_t rows = 0;
        int rc = 0;
        while ((rc = use.step()) == SQLITE_ROW) {
            ++rows;
            std::string_view name = column_text(use.get(), 0);
            std::string_view lower = column_text(use.get(), 1);
            if (!lower.starts_with(prefix_lower)) return out;
            if (!match || match(name)) {
                out.emplace_back(name);
                if (out.size() >= want) return out;
            }
            cursor.assign(lower);
        }
        if (rc != SQLITE_DONE) return d.failure("list accounts");
        if (rows < kListChunk) return out;
    }
}

Result<MessageId> SqliteStore::next_message_id() {
    auto& d = *impl_;
    std::lock_guard lock(d.db_mutex_);
    Use use(d.read_sequence_);
    if (use.step() != SQLITE_ROW) return d.failure("read message sequence");
    return static_cast<MessageId>(sqlite3_column_int64(use.get(), 0));
}

void SqliteStore::flush() {
    auto& d = *impl_;
    // Waiting on the writer from its own thread (inside a `done`) could never finish.
    if (std::this_thread::get_id() == d.writer_.get_id()) return;
    std::unique_lock lock(d.queue_mutex_);
    const std::uint64_t target = d.accepted_;
    d.flushed_cv_.wait(lock, [&] { return d.completed_ >= target; });
}

}  // namespace chat
