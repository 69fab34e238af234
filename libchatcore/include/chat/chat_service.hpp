// ChatService: the one entry point for every operation of docs/protocol.md. Transports decode a
// request, call one method here and encode the result; every domain rule lives behind this API.
//
// Sessions are owned here: `login` creates one (optionally with a Sink attached at once so no
// push can be missed), every other operation names it by SessionId.
//
// Slow work never runs on the caller's thread when the caller does not want it to: password
// hashing (create_account, login, delete_account) runs on a small bounded worker pool and
// completes a callback; `send` completes its callback once the store has made the message
// durable (with SqliteStore: on its writer thread, after the group commit).
//
// Thread use: every method may be called from any number of threads at once. Callbacks run on
// the hashing pool, the store's writer thread, or inline on the caller's thread; they must not
// block. The blocking *_sync helpers must not be called from inside such a callback.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chat/error.hpp"
#include "chat/limits.hpp"
#include "chat/sink.hpp"
#include "chat/store.hpp"
#include "chat/types.hpp"

namespace chat {

struct ServiceConfig {
    Limits limits;
    std::string server_name = "chatd/0.1.0";
    // Password hashing pool. 0 threads: hash inline on the calling thread (tests, embedding).
    unsigned hash_threads = 2;
    std::size_t hash_queue_limit = 1024;  // pending hash jobs beyond this get `server_busy`
    // Fairness of the pool: hash jobs (create_account, login, delete_account) queued or running
    // at once per connection and per peer address (Origin); beyond either, `server_busy`. Jobs are
    // served round-robin over connections, so a flood on one does not starve the others.
    std::size_t hash_jobs_per_connection = 4;
    std::size_t hash_jobs_per_address = 32;
    // Argon2id cost (libsodium crypto_pwhash_str). Defaults: t=2, 19 MiB.
    unsigned long long pwhash_opslimit = 2;
    std::size_t pwhash_memlimit = 19u * 1024u * 1024u;
    // Password guessing: after this many failed password checks in a row for one account name
    // from one peer address (Origin::address; logins and delete_account alike), that name refuses
    // attempts from that address (`rate_limited`) for login_lockout, doubling with each further
    // failure up to login_lockout_max. A successful login resets it. Keyed by address so that a
    // stranger's wrong guesses cannot lock the owner out from elsewhere. 0 turns it off.
    unsigned login_free_failures = 5;
    std::chrono::milliseconds login_lockout{1000};
    std::chrono::milliseconds login_lockout_max{60000};
    // The same per connection: after this many failed logins in a row on one connection (the
    // `origin` a transport passes to login), logins on it are refused (`rate_limited`) for the
    // same lockout, whatever name they try; opening a new connection is the way on. 0: off.
    unsigned login_free_failures_per_connection = 5;
};

// Where a request comes from, for throttling and fair shares. `connection` is unique among the
// connections open at once (e.g. "json#17"); `address` is the peer's network address without
// the port (e.g. "127.0.0.1"). Either may be empty: not limited or throttled by that key.
struct Origin {
    std::string connection;
    std::string address;
};

class ChatService final {
   public:
    template <class T>
    using Done = std::function<void(Result<T>)>;

    ChatService(Store& store, ServiceConfig config = {});
    ~ChatService();  // waits for queued hash jobs to finish
    ChatService(const ChatService&) = delete;
    ChatService& operator=(const ChatService&) = delete;

    const ServiceConfig& config() const noexcept;
    const Limits& limits() const noexcept;

    // `version` 0 means "not given" (1). unsupported_version for any other than 1.
    Result<HelloInfo> hello(int version) const;

    // Account creation does not touch any session.
    void create_account(std::string username, std::string password, Done<void> done,
                        Origin origin = {});

    // Verifies the password and opens a new session; `sink` (may be null) is attached to it
    // before any message can be pushed. bad_credentials for an unknown/malformed name, an empty
    // or wrong password; rate_limited while the name or the origin is locked out after failed
    // logins (see ServiceConfig). `origin` names the connection and address the attempt came
    // from. A login that races the account's deletion either ends with the other sessions
    // (logged_out) or is refused (bad_credentials): no session outlives its account. `unread`
    // is counted after the sink is attached, so a message stored meanwhile is counted, pushed,
    // or both (at-least-once), never neither.
    void login(std::string username, std::string password, std::shared_ptr<Sink> sink,
               Done<LoginResult> done, Origin origin = {});

    // Ends the session. not_logged_in for an unknown session.
    Result<void> logout(SessionId session);

    // Stores the message durably, pushes it to every live session of the recipient, then
    // completes. no_such_user for an unknown or malformed recipient.
    void send(SessionId session, std::string_view to, std::string body, Done<Message> done);

    // Oldest unacknowledged messages first; `max` 0 = default, clamped to the maximum.
    Result<FetchResult> fetch(SessionId session, std::uint64_t max);

    // Acknowledges the union of `ids` and every queued id <= `up_to`; returns how many left the
    // queue.
    Result<std::uint64_t> ack(SessionId session, std::span<const MessageId> ids,
                              std::optional<MessageId> up_to);
    // The same, completing once the removal is durable; a store with group commit (SQLite)
    // commits it together with other writes instead of in a transaction of its own.
    void ack(SessionId session, std::vector<MessageId> ids, std::optional<MessageId> up_to,
             Done<std::uint64_t> done);

    // One page of accounts matching `pattern`; `after` is a cursor from a previous page.
    Result<AccountPage> list_accounts(SessionId session, std::string_view pattern,
                                      std::uint64_t limit, std::string_view after);

    // Verifies the password, deletes the account and its queue, ends all its sessions. `done`
    // runs first; then every session's sinks (the caller's too) get logged_out(account_deleted).
    // Wrong passwords count against the same lockout as failed logins. Of two deletes of one
    // account racing, one succeeds and the other gets not_logged_in.
    void delete_account(SessionId session, std::string password, Done<void> done,
                        Origin origin = {});

    // Session plumbing for transports.
    Result<void> attach_sink(SessionId session, std::shared_ptr<Sink> sink);
    void detach_sink(SessionId session, const Sink* sink);
    // The canonical username of a live session; also marks it used now.
    std::optional<std::string> session_user(SessionId session);
    // Ends sessions unused for longer than `max_idle` that have no sink attached. Returns count.
    std::size_t expire_idle_sessions(std::chrono::steady_clock::duration max_idle);
    std::size_t session_count() const;

    // Blocking conveniences over the callback API (tests, examples, simple embedders).
    Result<void> create_account_sync(std::string username, std::string password);
    Result<LoginResult> login_sync(std::string username, std::string password,
                                   std::shared_ptr<Sink> sink = nullptr);
    Result<Message> send_sync(SessionId session, std::string_view to, std::string body);
    Result<void> delete_account_sync(SessionId session, std::string password);

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace chat
