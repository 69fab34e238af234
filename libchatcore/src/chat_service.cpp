// ChatService: every rule of docs/protocol.md, the session registry and the push path.
#include "chat/chat_service.hpp"

#include <future>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "chat/account_pattern.hpp"
#include "chat/log.hpp"
#include "chat/validation.hpp"
#include "login_throttle.hpp"
#include "password.hpp"

namespace chat {
namespace {

// A lockout's remaining time in whole seconds, rounded up (what people are told to wait).
long long seconds_of(std::chrono::steady_clock::duration wait) {
    return static_cast<long long>(std::chrono::ceil<std::chrono::seconds>(wait).count());
}

Error not_logged_in() { return make_error(Errc::not_logged_in, "log in first"); }
Error bad_credentials() {
    return make_error(Errc::bad_credentials, "unknown user or wrong password");
}
Error busy() { return make_error(Errc::server_busy, "server is busy, try again shortly"); }

Error refused(detail::HashPool::Admit why) {
    switch (why) {
        case detail::HashPool::Admit::connection_full:
            return make_error(Errc::server_busy,
                              "too many password checks in flight on this connection; wait for "
                              "their replies");
        case detail::HashPool::Admit::address_full:
            return make_error(Errc::server_busy,
                              "too many password checks in flight from your address; try again "
                              "shortly");
        default:
            return busy();
    }
}

// The throttle key of an account name tried from an address.
std::string throttle_key(const std::string& name_lower, const Origin& origin) {
    if (origin.address.empty()) return name_lower;
    return name_lower + '|' + origin.address;
}

}  // namespace

struct ChatService::Impl final : StoreEvents {
    struct Session {
        AccountId account = 0;
        std::string username;
        std::vector<std::shared_ptr<Sink>> sinks;
        std::chrono::steady_clock::time_point last_used;
        // The highest id the login's unread count covered: a report from another node of a
        // message up to it is not pushed (it was committed before the login counted; on one
        // node such a message is never pushed to the new session either).
        MessageId counted_up_to = 0;
    };

    Impl(Store& s, ServiceConfig c)
        : store(s),
          config(std::move(c)),
          throttle(config.login_free_failures, config.login_lockout, config.login_lockout_max),
          origin_throttle(config.login_free_failures_per_connection, config.login_lockout,
                          config.login_lockout_max),
          pool(config.hash_threads,
               detail::HashPool::Limits{config.hash_queue_limit, config.hash_jobs_per_connection,
                                        config.hash_jobs_per_address}) {
        detail::ensure_sodium();
    }
    ~Impl() override { store.set_events(nullptr); }

    Store& store;
    ServiceConfig config;

    // Guards sessions/by_account. Sinks are called under it, which is what makes "no push
    // follows logged_out" hold: once a session is removed here, no send can reach its sinks.
    mutable std::mutex mutex;
    std::unordered_map<SessionId, Session> sessions;
    std::unordered_map<AccountId, std::vector<SessionId>> by_account;
    // Accounts deleted (or being deleted) by this service. Account ids are never reused, so a
    // login that verified a password against a record read before the delete is refused here,
    // under the same lock that ends the account's sessions. One id per deleted account.
    std::unordered_set<AccountId> deleted;
    SessionId next_session = 1;

    detail::LoginThrottle throttle;         // per account name and peer address
    detail::LoginThrottle origin_throttle;  // per connection (Origin::connection)

    std::once_flag dummy_once;
    std::string dummy_hash;  // verified against for unknown users, so timing does not tell

    detail::HashPool pool;  // last member: destroyed (joined) first

    // The session's account and name, marking it used. nullopt when not logged in.
    std::optional<std::pair<AccountId, std::string>> use(SessionId id) {
        std::lock_guard lock(mutex);
        auto it = sessions.find(id);
        if (it == sessions.end()) return std::nullopt;
        it->second.last_used = std::chrono::steady_clock::now();
        return std::make_pair(it->second.account, it->second.username);
    }

    // nullopt when the account was deleted meanwhile.
    std::optional<SessionId> open_session(AccountId account, std::string username,
                                          std::shared_ptr<Sink> sink) {
        std::lock_guard lock(mutex);
        if (deleted.contains(account)) return std::nullopt;
        const SessionId id = next_session++;
        Session s;
        s.account = account;
        s.username = std::move(username);
        if (sink) s.sinks.push_back(std::move(sink));
        s.last_used = std::chrono::steady_clock::now();
        sessions.emplace(id, std::move(s));
        by_account[account].push_back(id);
        return id;
    }

    void set_counted(SessionId id, MessageId last) {
        std::lock_guard lock(mutex);
        auto it = sessions.find(id);
        if (it != sessions.end()) it->second.counted_up_to = last;
    }

    Result<void> end_session(SessionId id) {
        std::lock_guard lock(mutex);
        if (!sessions.contains(id)) return not_logged_in();
        erase_session_locked(id);
        return {};
    }

    // Caller holds `mutex`.
    void erase_session_locked(SessionId id) {
        auto it = sessions.find(id);
        if (it == sessions.end()) return;
        auto acc = by_account.find(it->second.account);
        if (acc != by_account.end()) {
            std::erase(acc->second, id);
            if (acc->second.empty()) by_account.erase(acc);
        }
        sessions.erase(it);
    }

    // Ends every session of `account` and marks it deleted (no login opens one again); returns
    // their sinks, to be told logged_out once the caller has answered.
    std::vector<std::shared_ptr<Sink>> end_account_locked(AccountId account) {
        deleted.insert(account);
        std::vector<std::shared_ptr<Sink>> sinks;
        auto acc = by_account.find(account);
        if (acc == by_account.end()) return sinks;
        const auto ids = acc->second;
        for (SessionId sid : ids) {
            auto& s = sessions.at(sid);
            sinks.insert(sinks.end(), s.sinks.begin(), s.sinks.end());
            erase_session_locked(sid);
        }
        return sinks;
    }

    static void tell_logged_out(const std::vector<std::shared_ptr<Sink>>& sinks) {
        for (const auto& sink : sinks) sink->logged_out(LogoutReason::account_deleted);
    }

    // StoreEvents: what other nodes sharing the store committed.
    void stored_elsewhere(AccountId recipient, const Message& message) override {
        push_elsewhere(message, recipient);
    }

    // A push of what another node stored: to the sessions whose unread count did not cover it.
    void push_elsewhere(const Message& m, AccountId recipient) {
        std::lock_guard lock(mutex);
        auto acc = by_account.find(recipient);
        if (acc == by_account.end()) return;
        for (SessionId sid : acc->second) {
            const Session& s = sessions.at(sid);
            if (m.id <= s.counted_up_to) continue;
            for (const auto& sink : s.sinks) sink->deliver(m);
        }
    }

    void deleted_elsewhere(AccountId account) override {
        std::vector<std::shared_ptr<Sink>> sinks;
        {
            std::lock_guard lock(mutex);
            sinks = end_account_locked(account);
        }
        if (!sinks.empty()) {
            log::write(log::Level::info, "core", "account deleted on another node",
                       log::Fields().add("account", account).str());
        }
        tell_logged_out(sinks);
    }

    // Reports were lost: every account with a live session here is checked again. One that is
    // gone was deleted elsewhere; the others get their queued messages pushed once more (a
    // message whose report was lost is among them; delivery is at-least-once and clients drop
    // ids they have seen).
    void resync() override {
        std::vector<std::pair<AccountId, std::string>> live;
        {
            std::lock_guard lock(mutex);
            live.reserve(by_account.size());
            for (const auto& [account, ids] : by_account) {
                if (!ids.empty()) live.emplace_back(account, sessions.at(ids.front()).username);
            }
        }
        std::size_t pushed = 0;
        for (const auto& [account, name] : live) {
            auto found = store.find_account(to_lower_ascii(name));
            if (!found) continue;  // the store is down again; the next resync covers it
            if (!found->has_value() || (*found)->id != account) {
                deleted_elsewhere(account);
                continue;
            }
            auto queued = store.fetch(account, Limits::kMaxFetch);
            if (!queued) continue;
            for (const Message& m : queued->messages) push_elsewhere(m, account);
            pushed += queued->messages.size();
        }
        log::write(log::Level::info, "core", "resynchronised with the store",
                   log::Fields().add("accounts", live.size()).add("pushed", pushed).str());
    }

    void push(const Message& m, AccountId recipient) {
        std::lock_guard lock(mutex);
        auto acc = by_account.find(recipient);
        if (acc == by_account.end()) return;
        for (SessionId sid : acc->second) {
            for (const auto& sink : sessions.at(sid).sinks) sink->deliver(m);
        }
    }

    const std::string& dummy() {
        std::call_once(dummy_once, [this] {
            dummy_hash = detail::hash_password("not a password", config.pwhash_opslimit,
                                               config.pwhash_memlimit)
                             .value_or("");
        });
        return dummy_hash;
    }

    Result<std::optional<AccountRecord>> find(std::string_view name) {
        return store.find_account(to_lower_ascii(name));
    }

    // Refused hash jobs are logged once per interval with a count: a flood of refused calls
    // must not become a flood of log lines.
    std::mutex refusal_mutex;
    std::chrono::steady_clock::time_point refusal_logged{};
    std::uint64_t refusals_unlogged = 0;

    void note_refusal(const Origin& origin) {
        constexpr auto kInterval = std::chrono::seconds(10);
        const auto now = std::chrono::steady_clock::now();
        std::uint64_t count = 0;
        {
            std::lock_guard lock(refusal_mutex);
            ++refusals_unlogged;
            if (now - refusal_logged < kInterval) return;
            refusal_logged = now;
            count = std::exchange(refusals_unlogged, 0);
        }
        log::write(log::Level::warn, "core", "password checks refused (server_busy)",
                   log::Fields()
                       .add("count", count)
                       .add("last_conn", origin.connection.empty() ? "-" : origin.connection)
                       .add("last_peer", origin.address.empty() ? "-" : origin.address)
                       .str());
    }

    // Queues a hash job for `origin`; a refused job completes `done` with server_busy.
    template <class T, class Job>
    void submit(const Origin& origin, Job&& job, const ChatService::Done<T>& done) {
        const auto admitted =
            pool.submit(origin.connection, origin.address, std::forward<Job>(job));
        if (admitted == detail::HashPool::Admit::ok) return;
        note_refusal(origin);
        done(refused(admitted));
    }
};

ChatService::ChatService(Store& store, ServiceConfig config)
    : impl_(std::make_unique<Impl>(store, std::move(config))) {
    store.set_events(impl_.get());
}

ChatService::~ChatService() = default;

const ServiceConfig& ChatService::config() const noexcept { return impl_->config; }
const Limits& ChatService::limits() const noexcept { return impl_->config.limits; }

Result<HelloInfo> ChatService::hello(int version) const {
    if (version == 0) version = Limits::kProtocolVersion;
    if (version != Limits::kProtocolVersion) {
        return make_error(Errc::unsupported_version, "this server speaks protocol version 1 only");
    }
    return HelloInfo{version, impl_->config.server_name, impl_->config.limits.max_frame};
}

void ChatService::create_account(std::string username, std::string password, Done<void> done,
                                 Origin origin) {
    if (!is_valid_username(username)) {
        return done(make_error(Errc::invalid_username,
                               "a username is 1-32 characters of A-Z a-z 0-9 _ . -"));
    }
    if (!is_valid_password(password)) {
        return done(make_error(Errc::invalid_password, "a password is 1-256 bytes of valid UTF-8"));
    }
    // Refuse a taken name before paying for a hash.
    auto existing = impl_->find(username);
    if (!existing) return done(existing.error());
    if (existing->has_value()) {
        return done(make_error(Errc::user_exists, "username " + username + " is taken"));
    }
    Impl* impl = impl_.get();
    auto job = [impl, username = std::move(username), password = std::move(password), done]() {
        auto hash = detail::hash_password(password, impl->config.pwhash_opslimit,
                                          impl->config.pwhash_memlimit);
        if (!hash) {
            log::write(log::Level::error, "core", "password hashing failed");
            return done(make_error(Errc::internal, "could not create the account"));
        }
        auto created = impl->store.create_account(username, *hash);
        if (!created) return done(created.error());
        log::write(log::Level::info, "core", "account created",
                   log::Fields().add("user", username).str());
        done(Result<void>{});
    };
    impl_->submit(origin, std::move(job), done);
}

void ChatService::login(std::string username, std::string password, std::shared_ptr<Sink> sink,
                        Done<LoginResult> done, Origin origin) {
    if (!is_valid_username(username) || password.empty()) return done(bad_credentials());
    Impl* impl = impl_.get();
    auto job = [impl, username = std::move(username), password = std::move(password),
                sink = std::move(sink), done, origin]() mutable {
        const auto now = std::chrono::steady_clock::now();
        auto refuse = [&](std::chrono::steady_clock::duration wait, const char* what) {
            done(make_error(Errc::rate_limited, std::string("too many failed logins ") + what +
                                                    "; try again in " +
                                                    std::to_string(seconds_of(wait)) + " s"));
        };
        const std::string& conn = origin.connection;
        if (!conn.empty()) {
            if (auto wait = impl->origin_throttle.wait_for(conn, now); wait.count() > 0) {
                return refuse(wait, "on this connection");
            }
        }
        // Unknown names are throttled like real ones, so lockouts do not reveal which exist.
        const std::string key = throttle_key(to_lower_ascii(username), origin);
        if (auto wait = impl->throttle.wait_for(key, now); wait.count() > 0) {
            return refuse(wait, "for this account");
        }
        auto failed = [&] {
            // A lockout that starts here is worth an operator's attention (guessing at work).
            if (auto lock_for = impl->throttle.failed(key, now); lock_for.count() > 0) {
                log::write(log::Level::warn, "core", "failed logins: account name locked",
                           log::Fields()
                               .add("user", to_lower_ascii(username))
                               .add("peer", origin.address.empty() ? "-" : origin.address)
                               .add("seconds", seconds_of(lock_for))
                               .str());
            }
            if (conn.empty()) return done(bad_credentials());
            if (auto lock_for = impl->origin_throttle.failed(conn, now); lock_for.count() > 0) {
                log::write(
                    log::Level::warn, "core", "failed logins: connection locked",
                    log::Fields().add("conn", conn).add("seconds", seconds_of(lock_for)).str());
            }
            done(bad_credentials());
        };
        auto found = impl->find(username);
        if (!found) return done(found.error());
        if (!found->has_value()) {
            // Spend the same effort as a real check so response time does not reveal names.
            (void)detail::verify_password(impl->dummy(), password);
            return failed();
        }
        const AccountRecord& account = **found;
        if (!detail::verify_password(account.password_hash, password)) return failed();
        impl->throttle.succeeded(key);
        if (!conn.empty()) impl->origin_throttle.succeeded(conn);
        // The session (and its sink) first, the count after: a message stored in between is
        // then pushed, counted, or both, and never only left for a later fetch.
        const auto sid = impl->open_session(account.id, account.name, std::move(sink));
        if (!sid) return done(bad_credentials());  // deleted while the password was checked
        auto unread = impl->store.queue_state(account.id);
        if (!unread) {
            (void)impl->end_session(*sid);
            // Deleted on another node after we found it: as if it had been gone already.
            if (unread.error().code == Errc::no_such_user) return done(bad_credentials());
            return done(unread.error());
        }
        impl->set_counted(*sid, unread->last);
        done(LoginResult{account.name, unread->count, *sid});
    };
    impl_->submit(origin, std::move(job), done);
}

Result<void> ChatService::logout(SessionId session) { return impl_->end_session(session); }

void ChatService::send(SessionId session, std::string_view to, std::string body,
                       Done<Message> done) {
    auto me = impl_->use(session);
    if (!me) return done(not_logged_in());
    if (!is_valid_body(body)) {
        return done(
            make_error(Errc::invalid_message, "a message body is 1-16384 bytes of valid UTF-8"));
    }
    if (!is_valid_username(to)) {
        return done(make_error(Errc::no_such_user, "no such user"));
    }
    auto recipient = impl_->store.find_recipient(to_lower_ascii(to));
    if (!recipient) return done(recipient.error());
    if (!recipient->has_value()) {
        return done(make_error(Errc::no_such_user, std::string(to) + " does not exist"));
    }
    const AccountId rid = (*recipient)->id;
    NewMessage m{rid, std::move(me->second), (*recipient)->name, std::move(body)};
    Impl* impl = impl_.get();
    impl_->store.append_message(std::move(m),
                                [impl, rid, done = std::move(done)](Result<Message> stored) {
                                    if (stored) impl->push(*stored, rid);
                                    done(std::move(stored));
                                });
}

Result<FetchResult> ChatService::fetch(SessionId session, std::uint64_t max) {
    auto me = impl_->use(session);
    if (!me) return not_logged_in();
    auto page =
        impl_->store.fetch(me->first, clamp_page(max, Limits::kDefaultFetch, Limits::kMaxFetch));
    if (!page) return page;
    // A page is also bounded in bytes (bodies and names), so that one reply stays small next to
    // the outbound limits whatever the bodies hold; what is cut off is counted in `remaining`.
    // The oldest message always goes, so a fetch loop makes progress.
    const std::size_t budget = impl_->config.limits.max_fetch_bytes;
    std::size_t used = 0;
    std::size_t keep = 0;
    for (const Message& m : page->messages) {
        used += m.body.size() + m.from.size() + m.to.size();
        if (keep > 0 && used > budget) break;
        ++keep;
    }
    if (keep < page->messages.size()) {
        page->remaining += page->messages.size() - keep;
        page->messages.resize(keep);
    }
    return page;
}

Result<std::uint64_t> ChatService::ack(SessionId session, std::span<const MessageId> ids,
                                       std::optional<MessageId> up_to) {
    auto me = impl_->use(session);
    if (!me) return not_logged_in();
    if (ids.empty() && !up_to) return std::uint64_t{0};
    return impl_->store.ack(me->first, ids, up_to);
}

void ChatService::ack(SessionId session, std::vector<MessageId> ids, std::optional<MessageId> up_to,
                      Done<std::uint64_t> done) {
    auto me = impl_->use(session);
    if (!me) return done(not_logged_in());
    if (ids.empty() && !up_to) return done(std::uint64_t{0});
    impl_->store.ack_async(me->first, std::move(ids), up_to, std::move(done));
}

Result<AccountPage> ChatService::list_accounts(SessionId session, std::string_view pattern,
                                               std::uint64_t limit, std::string_view after) {
    if (!impl_->use(session)) return not_logged_in();
    const AccountPattern glob(pattern);
    const std::size_t page = clamp_page(limit, Limits::kDefaultList, Limits::kMaxList);
    auto names = impl_->store.list_accounts(
        after, glob.literal_prefix(), [&glob](std::string_view name) { return glob.matches(name); },
        page);
    if (!names) return names.error();
    AccountPage out;
    out.accounts = std::move(*names);
    if (out.accounts.size() > page) {
        out.accounts.resize(page);
        out.next = to_lower_ascii(out.accounts.back());
    }
    return out;
}

void ChatService::delete_account(SessionId session, std::string password, Done<void> done,
                                 Origin origin) {
    auto me = impl_->use(session);
    if (!me) return done(not_logged_in());
    if (password.empty()) return done(bad_credentials());
    Impl* impl = impl_.get();
    auto job = [impl, session, me = std::move(*me), password = std::move(password), done,
                origin]() {
        // Wrong passwords here are guesses like failed logins, and count against the same key.
        const auto now = std::chrono::steady_clock::now();
        const std::string key = throttle_key(to_lower_ascii(me.second), origin);
        if (auto wait = impl->throttle.wait_for(key, now); wait.count() > 0) {
            return done(make_error(Errc::rate_limited,
                                   "too many wrong passwords for this account; try again in " +
                                       std::to_string(seconds_of(wait)) + " s"));
        }
        auto found = impl->find(me.second);
        if (!found) return done(found.error());
        if (!found->has_value() || (*found)->id != me.first) {
            return done(bad_credentials());
        }
        if (!detail::verify_password((*found)->password_hash, password)) {
            (void)impl->throttle.failed(key, now);
            return done(bad_credentials());
        }
        {
            // Claim the delete: of two racing deletes of one account only one goes on, and no
            // login opens a session for the account from here on.
            std::lock_guard lock(impl->mutex);
            if (!impl->sessions.contains(session) || impl->deleted.contains(me.first)) {
                return done(not_logged_in());
            }
            impl->deleted.insert(me.first);
        }
        auto deleted = impl->store.delete_account(me.first);
        if (!deleted) {
            std::lock_guard lock(impl->mutex);
            impl->deleted.erase(me.first);
            return done(deleted.error());
        }
        std::vector<std::shared_ptr<Sink>> sinks;
        {
            std::lock_guard lock(impl->mutex);
            sinks = impl->end_account_locked(me.first);
        }
        log::write(log::Level::info, "core", "account deleted",
                   log::Fields().add("user", me.second).str());
        done(Result<void>{});
        Impl::tell_logged_out(sinks);
    };
    impl_->submit(origin, std::move(job), done);
}

Result<void> ChatService::attach_sink(SessionId session, std::shared_ptr<Sink> sink) {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->sessions.find(session);
    if (it == impl_->sessions.end()) return not_logged_in();
    it->second.sinks.push_back(std::move(sink));
    it->second.last_used = std::chrono::steady_clock::now();
    return {};
}

void ChatService::detach_sink(SessionId session, const Sink* sink) {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->sessions.find(session);
    if (it == impl_->sessions.end()) return;
    std::erase_if(it->second.sinks, [sink](const auto& s) { return s.get() == sink; });
    it->second.last_used = std::chrono::steady_clock::now();
}

std::optional<std::string> ChatService::session_user(SessionId session) {
    auto me = impl_->use(session);
    if (!me) return std::nullopt;
    return std::move(me->second);
}

std::size_t ChatService::expire_idle_sessions(std::chrono::steady_clock::duration max_idle) {
    const auto cutoff = std::chrono::steady_clock::now() - max_idle;
    std::lock_guard lock(impl_->mutex);
    std::vector<SessionId> idle;
    for (const auto& [id, s] : impl_->sessions) {
        if (s.sinks.empty() && s.last_used < cutoff) idle.push_back(id);
    }
    for (SessionId id : idle) impl_->erase_session_locked(id);
    return idle.size();
}

std::size_t ChatService::session_count() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->sessions.size();
}

namespace {

// Runs a callback-style call and waits for its completion.
template <class T, class Call>
Result<T> wait_for(Call&& call) {
    std::promise<Result<T>> promise;
    auto future = promise.get_future();
    call([&promise](Result<T> r) { promise.set_value(std::move(r)); });
    return future.get();
}

}  // namespace

Result<void> ChatService::create_account_sync(std::string username, std::string password) {
    return wait_for<void>([&](Done<void> d) {
        create_account(std::move(username), std::move(password), std::move(d));
    });
}

Result<LoginResult> ChatService::login_sync(std::string username, std::string password,
                                            std::shared_ptr<Sink> sink) {
    return wait_for<LoginResult>([&](Done<LoginResult> d) {
        login(std::move(username), std::move(password), std::move(sink), std::move(d));
    });
}

Result<Message> ChatService::send_sync(SessionId session, std::string_view to, std::string body) {
    return wait_for<Message>(
        [&](Done<Message> d) { send(session, to, std::move(body), std::move(d)); });
}

Result<void> ChatService::delete_account_sync(SessionId session, std::string password) {
    return wait_for<void>(
        [&](Done<void> d) { delete_account(session, std::move(password), std::move(d)); });
}

}  // namespace chat
