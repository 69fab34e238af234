// ChatService: every rule of PROTOCOL.md, the session registry and the push path.
#include "chat/chat_service.hpp"

#include <future>
#include <mutex>
#include <unordered_map>
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

}  // namespace

struct ChatService::Impl {
    struct Session {
        AccountId account = 0;
        std::string username;
        std::vector<std::shared_ptr<Sink>> sinks;
        std::chrono::steady_clock::time_point last_used;
    };

    Impl(Store& s, ServiceConfig c)
        : store(s),
          config(std::move(c)),
          throttle(config.login_free_failures, config.login_lockout, config.login_lockout_max),
          origin_throttle(config.login_free_failures_per_connection, config.login_lockout,
                          config.login_lockout_max),
          pool(config.hash_threads, config.hash_queue_limit) {
        detail::ensure_sodium();
    }

    Store& store;
    ServiceConfig config;

    // Guards sessions/by_account. Sinks are called under it, which is what makes "no push
    // follows logged_out" hold: once a session is removed here, no send can reach its sinks.
    mutable std::mutex mutex;
    std::unordered_map<SessionId, Session> sessions;
    std::unordered_map<AccountId, std::vector<SessionId>> by_account;
    SessionId next_session = 1;

    detail::LoginThrottle throttle;
    detail::LoginThrottle origin_throttle;  // per connection (the origin passed to login)

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

    SessionId open_session(AccountId account, std::string username, std::shared_ptr<Sink> sink) {
        std::lock_guard lock(mutex);
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
};

ChatService::ChatService(Store& store, ServiceConfig config)
    : impl_(std::make_unique<Impl>(store, std::move(config))) {}

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

void ChatService::create_account(std::string username, std::string password, Done<void> done) {
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
    if (!impl_->pool.submit(std::move(job))) done(busy());
}

void ChatService::login(std::string username, std::string password, std::shared_ptr<Sink> sink,
                        Done<LoginResult> done, std::string origin) {
    if (!is_valid_username(username) || password.empty()) return done(bad_credentials());
    Impl* impl = impl_.get();
    auto job = [impl, username = std::move(username), password = std::move(password),
                sink = std::move(sink), done, origin = std::move(origin)]() mutable {
        const auto now = std::chrono::steady_clock::now();
        auto refuse = [&](std::chrono::steady_clock::duration wait, const char* what) {
            done(make_error(Errc::rate_limited, std::string("too many failed logins ") + what +
                                                    "; try again in " +
                                                    std::to_string(seconds_of(wait)) + " s"));
        };
        if (!origin.empty()) {
            if (auto wait = impl->origin_throttle.wait_for(origin, now); wait.count() > 0) {
                return refuse(wait, "on this connection");
            }
        }
        // Unknown names are throttled like real ones, so lockouts do not reveal which exist.
        const std::string key = to_lower_ascii(username);
        if (auto wait = impl->throttle.wait_for(key, now); wait.count() > 0) {
            return refuse(wait, "for this account");
        }
        auto failed = [&] {
            // A lockout that starts here is worth an operator's attention (guessing at work).
            if (auto lock_for = impl->throttle.failed(key, now); lock_for.count() > 0) {
                log::write(
                    log::Level::warn, "core", "failed logins: account name locked",
                    log::Fields().add("user", key).add("seconds", seconds_of(lock_for)).str());
            }
            if (origin.empty()) return done(bad_credentials());
            if (auto lock_for = impl->origin_throttle.failed(origin, now); lock_for.count() > 0) {
                log::write(
                    log::Level::warn, "core", "failed logins: connection locked",
                    log::Fields().add("conn", origin).add("seconds", seconds_of(lock_for)).str());
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
        if (!origin.empty()) impl->origin_throttle.succeeded(origin);
        auto unread = impl->store.count_queued(account.id);
        if (!unread) return done(unread.error());
        const SessionId sid = impl->open_session(account.id, account.name, std::move(sink));
        done(LoginResult{account.name, *unread, sid});
    };
    if (!impl_->pool.submit(std::move(job))) done(busy());
}

Result<void> ChatService::logout(SessionId session) {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->sessions.contains(session)) return not_logged_in();
    impl_->erase_session_locked(session);
    return {};
}

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
    auto recipient = impl_->find(to);
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
    return impl_->store.fetch(me->first, clamp_page(max, Limits::kDefaultFetch, Limits::kMaxFetch));
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

void ChatService::delete_account(SessionId session, std::string password, Done<void> done) {
    auto me = impl_->use(session);
    if (!me) return done(not_logged_in());
    if (password.empty()) return done(bad_credentials());
    Impl* impl = impl_.get();
    auto job = [impl, me = std::move(*me), password = std::move(password), done]() {
        auto found = impl->find(me.second);
        if (!found) return done(found.error());
        if (!found->has_value() || (*found)->id != me.first) {
            return done(bad_credentials());
        }
        if (!detail::verify_password((*found)->password_hash, password)) {
            return done(bad_credentials());
        }
        auto deleted = impl->store.delete_account(me.first);
        if (!deleted) return done(deleted.error());
        std::vector<std::shared_ptr<Sink>> sinks;
        {
            std::lock_guard lock(impl->mutex);
            auto acc = impl->by_account.find(me.first);
            if (acc != impl->by_account.end()) {
                const auto ids = acc->second;
                for (SessionId sid : ids) {
                    auto& s = impl->sessions.at(sid);
                    sinks.insert(sinks.end(), s.sinks.begin(), s.sinks.end());
                    impl->erase_session_locked(sid);
                }
            }
        }
        log::write(log::Level::info, "core", "account deleted",
                   log::Fields().add("user", me.second).str());
        done(Result<void>{});
        for (const auto& sink : sinks) sink->logged_out(LogoutReason::account_deleted);
    };
    if (!impl_->pool.submit(std::move(job))) done(busy());
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
