// MemoryStore: the volatile Store. Everything lives behind one mutex; appends complete inline.
#include "chat/memory_store.hpp"

#include <chrono>
#include <cstdint>
#include <utility>

#include "chat/validation.hpp"

namespace chat {

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

struct MemoryStore::State {
    struct Account {
        AccountRecord record;
        std::map<MessageId, Message> queue;  // ordered by id, so oldest first
    };

    std::mutex mutex;
    // Ordered by lower-cased name so list_accounts can seek and walk in contract order.
    std::map<std::string, AccountId, std::less<>> by_name;
    std::unordered_map<AccountId, Account> by_id;
    AccountId next_account_id = 1;
    MessageId next_message_id = 1;
};

MemoryStore::MemoryStore() : state_(std::make_unique<State>()) {}

MemoryStore::~MemoryStore() = default;

Result<AccountRecord> MemoryStore::create_account(std::string_view name,
                                                  std::string_view password_hash) {
    std::string lower = to_lower_ascii(name);
    std::lock_guard lock(state_->mutex);
    if (state_->by_name.contains(lower)) {
        return make_error(Errc::user_exists, "username already taken");
    }
    AccountRecord record{state_->next_account_id++, std::string(name), std::string(password_hash)};
    state_->by_name.emplace(std::move(lower), record.id);
    state_->by_id.emplace(record.id, State::Account{record, {}});
    return record;
}

Result<std::optional<AccountRecord>> MemoryStore::find_account(std::string_view name_lower) {
    std::lock_guard lock(state_->mutex);
    auto it = state_->by_name.find(name_lower);
    if (it == state_->by_name.end()) return std::optional<AccountRecord>{};
    return std::optional<AccountRecord>{state_->by_id.at(it->second).record};
}

Result<std::optional<AccountRecord>> MemoryStore::find_recipient(std::string_view name_lower) {
    std::lock_guard lock(state_->mutex);
    auto it = state_->by_name.find(name_lower);
    if (it == state_->by_name.end()) return std::optional<AccountRecord>{};
    const AccountRecord& record = state_->by_id.at(it->second).record;
    return std::optional<AccountRecord>{AccountRecord{record.id, record.name, {}}};
}

Result<bool> MemoryStore::delete_account(AccountId id) {
    std::lock_guard lock(state_->mutex);
    auto it = state_->by_id.find(id);
    if (it == state_->by_id.end()) return false;
    state_->by_name.erase(to_lower_ascii(it->second.record.name));
    state_->by_id.erase(it);
    return true;
}

void MemoryStore::append_message(NewMessage message, AppendDone done) {
    Result<Message> result = make_error(Errc::no_such_user, "no such user");
    {
        std::lock_guard lock(state_->mutex);
        auto it = state_->by_id.find(message.recipient);
        if (it != state_->by_id.end()) {
            Message stored{state_->next_message_id++, std::move(message.from),
                           std::move(message.to), std::move(message.body), now_ms()};
            it->second.queue.emplace(stored.id, stored);
            result = std::move(stored);
        }
    }
    // Outside the lock: the callback may call back into this store.
    if (done) done(std::move(result));
}

Result<FetchResult> MemoryStore::fetch(AccountId recipient, std::size_t max) {
    std::lock_guard lock(state_->mutex);
    FetchResult out;
    auto it = state_->by_id.find(recipient);
    if (it == state_->by_id.end()) return out;
    const auto& queue = it->second.queue;
    for (auto q = queue.begin(); q != queue.end() && out.messages.size() < max; ++q) {
        out.messages.push_back(q->second);
    }
    out.remaining = queue.size() - out.messages.size();
    return out;
}

Result<std::uint64_t> MemoryStore::ack(AccountId recipient, std::span<const MessageId> ids,
                                       std::optional<MessageId> up_to) {
    std::lock_guard lock(state_->mutex);
    auto it = state_->by_id.find(recipient);
    if (it == state_->by_id.end()) return std::uint64_t{0};
    auto& queue = it->second.queue;
    std::uint64_t removed = 0;
    if (up_to) {
        auto end = queue.upper_bound(*up_to);
        for (auto q = queue.begin(); q != end;) {
            q = queue.erase(q);
            ++removed;
        }
    }
    for (MessageId id : ids) removed += queue.erase(id);
    return removed;
}

Result<std::uint64_t> MemoryStore::count_queued(AccountId recipient) {
    std::lock_guard lock(state_->mutex);
    auto it = state_->by_id.find(recipient);
    if (it == state_->by_id.end()) return std::uint64_t{0};
    return static_cast<std::uint64_t>(it->second.queue.size());
}

Result<std::vector<std::string>> MemoryStore::list_accounts(
    std::string_view after_lower, std::string_view prefix_lower,
    const std::function<bool(std::string_view name)>& match, std::size_t limit) {
    const std::size_t want = limit == SIZE_MAX ? limit : limit + 1;
    std::vector<std::string> out;
    std::lock_guard lock(state_->mutex);
    const auto& by_name = state_->by_name;
    // Start at whichever bound is further: past the cursor, and no earlier than the prefix.
    auto it = by_name.upper_bound(after_lower);
    auto from_prefix = by_name.lower_bound(prefix_lower);
    if (it != by_name.end() && (from_prefix == by_name.end() || it->first < from_prefix->first)) {
        it = from_prefix;
    }
    for (; it != by_name.end() && out.size() < want; ++it) {
        if (!it->first.starts_with(prefix_lower)) break;  // sorted: nothing further matches
        const std::string& name = state_->by_id.at(it->second).record.name;
        if (!match || match(name)) out.push_back(name);
    }
    return out;
}

Result<MessageId> MemoryStore::next_message_id() {
    std::lock_guard lock(state_->mutex);
    return state_->next_message_id;
}

}  // namespace chat
