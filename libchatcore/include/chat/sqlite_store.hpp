// SqliteStore: the embedded durable Store (the default). WAL mode, prepared statements, a schema
// version table with migrations, and a single writer thread that commits queued appends in groups
// so many concurrent sends share one commit.
// Thread use: safe from any number of threads. `done` callbacks of appends run on the writer
// thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "chat/store.hpp"

namespace chat {

struct SqliteOptions {
    std::string path = "chatd.db";
    // NORMAL (default): in WAL mode a committed send survives a crash of the process; a power
    // loss may lose the last commits. FULL: every commit is synced; survives power loss too.
    enum class Sync { normal, full } sync = Sync::normal;
    std::size_t max_batch = 1024;  // appends committed together at most
};

class SqliteStore final : public Store {
   public:
    // Opens (creating if needed) and migrates the database. Throws std::runtime_error on failure
    // (start-up only).
    explicit SqliteStore(SqliteOptions options);
    ~SqliteStore() override;  // flushes pending appends, stops the writer

    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    Result<AccountRecord> create_account(std::string_view name,
                                         std::string_view password_hash) override;
    Result<std::optional<AccountRecord>> find_account(std::string_view name_lower) override;
    // Without the password hash (see Store::find_recipient).
    Result<std::optional<AccountRecord>> find_recipient(std::string_view name_lower) override;
    Result<bool> delete_account(AccountId id) override;
    void append_message(NewMessage message, AppendDone done) override;
    Result<FetchResult> fetch(AccountId recipient, std::size_t max) override;
    Result<std::uint64_t> ack(AccountId recipient, std::span<const MessageId> ids,
                              std::optional<MessageId> up_to) override;
    // While the writer is busy, queued and committed with the next group of appends (so the
    // caller never waits for the store mutex behind a commit); when it is idle, run at once.
    void ack_async(AccountId recipient, std::vector<MessageId> ids, std::optional<MessageId> up_to,
                   AckDone done) override;
    Result<std::uint64_t> count_queued(AccountId recipient) override;
    Result<std::vector<std::string>> list_accounts(
        std::string_view after_lower, std::string_view prefix_lower,
        const std::function<bool(std::string_view name)>& match, std::size_t limit) override;
    Result<MessageId> next_message_id() override;
    void flush() override;

    // The schema version this build writes (tests check migrations).
    static int schema_version() noexcept;

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace chat
