// PostgresStore: the Store for several chatd nodes sharing one PostgreSQL database. Accounts and
// queues live in PostgreSQL; each node keeps its own sessions. What another node commits reaches
// this node through LISTEN/NOTIFY and is reported to the registered StoreEvents (ChatService):
// a message to push to local sessions, an account deleted elsewhere, and a resync after the
// listening connection was lost (notifications sent meanwhile are gone).
//
// Durability: append_message completes only after COMMIT (synchronous_commit as the server is
// configured; on by default). Concurrent appends share commits (a writer groups them). Ids come
// from one sequence and are taken while the recipients' account rows are locked, so for any one
// recipient ids become visible in increasing order: an `ack up_to N` can never remove a message
// the client could not yet have seen.
//
// Outages: while PostgreSQL is unreachable every call fails with Errc::internal (a send is never
// reported stored unless it was committed); the store reconnects by itself with backoff.
// Thread use: safe from any number of threads. `done` callbacks of appends and acks run on the
// writer thread; StoreEvents are called on the listener thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "chat/store.hpp"

namespace chat {

struct PostgresOptions {
    // A libpq connection string or URI, e.g. "postgresql://chat:secret@db.example/chat".
    std::string url;
    std::size_t max_batch = 256;       // appends (and acks) committed together at most
    std::size_t read_connections = 2;  // a small pool for fetch, find, list, count
    // Start-up: how long to keep trying to reach the database before the constructor throws.
    std::chrono::milliseconds connect_timeout{10000};
    // After a lost connection: the first retry waits reconnect_min, doubling up to reconnect_max.
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{5000};
    // Names this node in its notifications (so it ignores its own). Empty: a random name.
    std::string node_name{};
    // Tests only: runs on the writer thread inside each write transaction, after its rows are
    // written and before COMMIT (to hold a transaction open on purpose).
    std::function<void()> before_commit{};
};

class PostgresStore final : public Store {
   public:
    // Connects, creates or migrates the schema (under an advisory lock, so several nodes may
    // start at once) and starts listening. Throws std::runtime_error when the database cannot be
    // reached within connect_timeout or the schema is newer than this build (start-up only).
    explicit PostgresStore(PostgresOptions options);
    ~PostgresStore() override;  // completes pending appends, stops its threads

    PostgresStore(const PostgresStore&) = delete;
    PostgresStore& operator=(const PostgresStore&) = delete;

    Result<AccountRecord> create_account(std::string_view name,
                                         std::string_view password_hash) override;
    Result<std::optional<AccountRecord>> find_account(std::string_view name_lower) override;
    // From a cache of what earlier lookups read (see Store::find_recipient).
    Result<std::optional<AccountRecord>> find_recipient(std::string_view name_lower) override;
    Result<bool> delete_account(AccountId id) override;
    void append_message(NewMessage message, AppendDone done) override;
    Result<FetchResult> fetch(AccountId recipient, std::size_t max) override;
    Result<std::uint64_t> ack(AccountId recipient, std::span<const MessageId> ids,
                              std::optional<MessageId> up_to) override;
    void ack_async(AccountId recipient, std::vector<MessageId> ids, std::optional<MessageId> up_to,
                   AckDone done) override;
    Result<std::uint64_t> count_queued(AccountId recipient) override;
    Result<QueueState> queue_state(AccountId recipient) override;
    Result<std::vector<std::string>> list_accounts(
        std::string_view after_lower, std::string_view prefix_lower,
        const std::function<bool(std::string_view name)>& match, std::size_t limit) override;
    Result<MessageId> next_message_id() override;
    void flush() override;
    void set_events(StoreEvents* events) override;

    // The schema version this build writes (tests check migrations).
    static int schema_version() noexcept;

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// `url` with any password in it replaced by "***" (for logs and error messages).
std::string redact_postgres_url(std::string_view url);

}  // namespace chat
