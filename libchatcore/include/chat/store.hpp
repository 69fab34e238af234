// Store: the durable state of the chat domain (accounts, per-recipient message queues, the
// message-id sequence). ChatService enforces the rules; a Store only keeps what it is told.
// Thread use: every implementation is safe to call from any number of threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chat/error.hpp"
#include "chat/types.hpp"

namespace chat {

struct AccountRecord {
    AccountId id = 0;
    std::string name;           // canonical (as first registered)
    std::string password_hash;  // libsodium crypto_pwhash_str output
};

// A message to be stored; the store assigns `id` (strictly increasing over the store's whole
// lifetime, never reused, also across restarts) and `sent_at` (ms since epoch, UTC).
struct NewMessage {
    AccountId recipient = 0;
    std::string from;  // canonical sender name (kept even if the sender is deleted later)
    std::string to;    // canonical recipient name
    std::string body;
};

// Called once per append, possibly on another thread (the store's writer), after the message is
// durable — or with an error (no_such_user if the recipient vanished meanwhile; internal on
// failure). Must not block for long and must not call back into the same store synchronously
// from a writer thread in a way that waits on the writer.
using AppendDone = std::function<void(Result<Message>)>;

// Called once per ack_async with how many messages it removed, or an error; same rules as
// AppendDone.
using AckDone = std::function<void(Result<std::uint64_t>)>;

// A recipient's queue at one moment: how many messages and the highest id among them.
struct QueueState {
    std::uint64_t count = 0;
    MessageId last = 0;  // 0: empty, or not known (a store no other node writes to)
};

// What a store shared by several chatd nodes reports about what the *other* nodes committed
// (a store no other process writes to reports nothing). ChatService registers itself, so that
// it pushes such messages to its own live sessions and ends the sessions of an account deleted
// elsewhere; the session registry stays local to each node.
// Thread use: called on the store's own thread(s), one call at a time; must not block for long
// and must not wait for the store's writer.
class StoreEvents {
   public:
    virtual ~StoreEvents() = default;
    // Another node stored `message` for `recipient` and committed it.
    virtual void stored_elsewhere(AccountId recipient, const Message& message) = 0;
    // Another node deleted the account `account` and committed it.
    virtual void deleted_elsewhere(AccountId account) = 0;
    // Reports may have been lost (the link to the other nodes was down for a while): the
    // receiver checks what it holds against the store again (accounts of live sessions, their
    // queues).
    virtual void resync() = 0;
};

class Store {
   public:
    virtual ~Store() = default;

    // Creates an account. `user_exists` when the lower-cased name is taken.
    virtual Result<AccountRecord> create_account(std::string_view name,
                                                 std::string_view password_hash) = 0;

    // Looks up by lower-cased name. nullopt when absent.
    virtual Result<std::optional<AccountRecord>> find_account(std::string_view name_lower) = 0;
    // The same lookup for a send's recipient, which a store shared with other nodes may answer
    // from a cache: an account deleted elsewhere may still be found for a moment. Its
    // append_message must then not store the message for the dead account: it finds the name's
    // current account itself, or answers `no_such_user`. Logins and checks of whether an
    // account still exists use find_account. The record's password_hash may be left empty (a
    // send needs only the id and the name; every send looks its recipient up, and copying the
    // hash is measurable there). Default: find_account().
    virtual Result<std::optional<AccountRecord>> find_recipient(std::string_view name_lower) {
        return find_account(name_lower);
    }

    // Removes the account and every message queued *for* it. Messages it sent stay.
    // Returns false when no such account.
    virtual Result<bool> delete_account(AccountId id) = 0;

    // Stores a message durably, then calls `done` (see AppendDone). Returns at once or after the
    // message is durable, depending on the implementation; either way `done` is called once.
    virtual void append_message(NewMessage message, AppendDone done) = 0;

    // The oldest `max` queued messages of `recipient`, oldest first, and how many remain beyond.
    virtual Result<FetchResult> fetch(AccountId recipient, std::size_t max) = 0;

    // Removes from `recipient`'s queue the messages in `ids` and, if given, every one with
    // id <= up_to. Returns how many were removed (ids not in the queue are not counted).
    virtual Result<std::uint64_t> ack(AccountId recipient, std::span<const MessageId> ids,
                                      std::optional<MessageId> up_to) = 0;
    // The same, completed through `done` once the removal is durable, so a store may fold it
    // into the commit of other writes. It may take effect before appends still pending (whose
    // messages have no id yet, so no ack can name them). The default runs ack() and calls
    // `done` before returning.
    virtual void ack_async(AccountId recipient, std::vector<MessageId> ids,
                           std::optional<MessageId> up_to, AckDone done) {
        done(ack(recipient, ids, up_to));
    }

    // Number of messages queued for `recipient`.
    virtual Result<std::uint64_t> count_queued(AccountId recipient) = 0;
    // The count and the highest queued id, read together (one snapshot). A store shared with
    // other nodes must give the id: a node then knows which reports from elsewhere a login's
    // unread count already covered; and it answers `no_such_user` when the account is gone (it
    // may have been deleted elsewhere after the login found it). Default: count_queued() and
    // last 0.
    virtual Result<QueueState> queue_state(AccountId recipient) {
        auto count = count_queued(recipient);
        if (!count) return count.error();
        return QueueState{*count, 0};
    }

    // Canonical names of accounts whose lower-cased name is > `after_lower` (all if empty), that
    // start with `prefix_lower` and satisfy `match`, ascending by lower-cased name. Returns at most
    // `limit` + 1 names, so the caller can tell whether more exist.
    virtual Result<std::vector<std::string>> list_accounts(
        std::string_view after_lower, std::string_view prefix_lower,
        const std::function<bool(std::string_view name)>& match, std::size_t limit) = 0;

    // The id the next stored message will get at least (diagnostics and tests).
    virtual Result<MessageId> next_message_id() = 0;

    // Blocks until every append accepted so far is durable and its `done` has run.
    virtual void flush() = 0;

    // Registers who hears what other nodes commit (see StoreEvents); null: nobody. Once this
    // returns, the previous receiver is not called any more. Default: a store of one node
    // ignores it.
    virtual void set_events(StoreEvents* events) { (void)events; }
};

}  // namespace chat
