// MemoryStore: a volatile Store for tests and `--store=memory`. Appends complete inline.
// Thread use: safe from any number of threads (one internal mutex).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "chat/store.hpp"

namespace chat {

class MemoryStore final : public Store {
   public:
    MemoryStore();
    ~MemoryStore() override;

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
    Result<std::uint64_t> count_queued(AccountId recipient) override;
    Result<std::vector<std::string>> list_accounts(
        std::string_view after_lower, std::string_view prefix_lower,
        const std::function<bool(std::string_view name)>& match, std::size_t limit) override;
    Result<MessageId> next_message_id() override;
    void flush() override {}

   private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace chat
