// ReconnectingClient: requests forwarded to the current inner client; the reconnect thread
// replaces a broken one and catches up on what it missed.
#include "chat/reconnecting_client.hpp"

#include <pthread.h>
#include <string.h>  // explicit_bzero

#include <algorithm>
#include <string>
#include <utility>

namespace chat {

namespace {

// Pages fetched after a reconnect at most; bounds the loop if the queue keeps growing.
constexpr int kMaxCatchUpPages = 1000;

Error reconnecting_error() {
    return make_error(Errc::internal, "not connected: reconnecting to the server");
}
Error closed_error() { return make_error(Errc::internal, "client is closed"); }

void wipe(std::string& text) {
    // explicit_bzero: a plain memset before freeing may be optimised away.
    if (!text.empty()) explicit_bzero(text.data(), text.size());
    text.clear();
}

ClientConfig inner_config_of(const ClientConfig& config) {
    ClientConfig inner = config;
    inner.auto_ack = false;  // de-duplication and acks are done once, across inner clients
    inner.reconnect.enabled = false;
    return inner;
}

}  // namespace

// Overwrites its bytes when dropped, so no copy of the password outlives its use here.
struct ReconnectingClient::Credentials {
    Credentials(std::string_view user, std::string_view pass) : username(user), password(pass) {}
    Credentials(const Credentials&) = default;
    Credentials& operator=(const Credentials&) = delete;
    ~Credentials() {
        wipe(username);
        wipe(password);
    }
    std::string username;
    std::string password;
};

ReconnectingClient::ReconnectingClient(ClientFactory factory, const ClientConfig& config)
    : factory_(std::move(factory)),
      inner_config_(inner_config_of(config)),
      auto_ack_(config.auto_ack),
      min_backoff_(std::max(config.reconnect.min_backoff, std::chrono::milliseconds(1))),
      max_backoff_(std::max(config.reconnect.max_backoff, min_backoff_)),
      random_(std::random_device{}()),
      delivery_(config.auto_ack, "chat-callbacks") {
    // Runs on the callback thread and blocks it for the ack's round trip: the Client interface
    // has no asynchronous ack, and the batching makes this one ack per run of pushes.
    delivery_.set_ack_sender([this](std::vector<MessageId> ids, std::function<void()> done) {
        if (auto inner = current(); inner) (void)(*inner)->ack(ids);
        done();
    });
    inner_ = make_inner(generation_);
}

ReconnectingClient::~ReconnectingClient() { close(); }

std::shared_ptr<Client> ReconnectingClient::make_inner(std::uint64_t generation) {
    std::shared_ptr<Client> client = factory_(inner_config_);
    client->on_message([this](const Message& message) { delivery_.message(message); });
    client->on_logged_out(
        [this, generation](LogoutReason reason) { inner_logged_out(generation, reason); });
    client->on_disconnect(
        [this, generation](const Error& error) { inner_disconnected(generation, error); });
    return client;
}

Result<std::shared_ptr<Client>> ReconnectingClient::current() const {
    std::lock_guard lock(mu_);
    switch (state_) {
        case State::closed:
            return closed_error();
        case State::reconnecting:
            return reconnecting_error();
        case State::idle:
        case State::connected:
            break;
    }
    return inner_;
}

void ReconnectingClient::forget_credentials() {
    credentials_.reset();
    ++credentials_version_;
}

// --- lifecycle ---

Result<void> ReconnectingClient::connect() {
    std::shared_ptr<Client> inner;
    {
        std::lock_guard lock(mu_);
        if (state_ == State::closed) return closed_error();
        if (state_ != State::idle) return make_error(Errc::internal, "connect() called twice");
        inner = inner_;
    }
    auto connected = inner->connect();
    if (connected) {
        std::lock_guard lock(mu_);
        if (state_ == State::idle) state_ = State::connected;
    }
    return connected;
}

void ReconnectingClient::close() {
    std::shared_ptr<Client> inner;
    {
        std::lock_guard lock(mu_);
        if (state_ == State::closed) return;
        state_ = State::closed;
        credentials_.reset();
        inner = inner_;
    }
    wake_.notify_all();
    // Its requests in flight fail; none of its callbacks runs once this returns. A broken one
    // the reconnect thread is closing at the same time is finished by the join below.
    inner->close();
    // No handler after this (from a handler: returns at once, not waiting for that handler).
    delivery_.close();
    // Wakes at once while it waits between attempts or for a hand-over; an attempt in progress
    // (a connect, a login) ends first.
    if (worker_.joinable()) worker_.join();
    std::lock_guard lock(mu_);
    inner_.reset();
}

// --- requests ---

Result<HelloInfo> ReconnectingClient::hello(int version) {
    auto inner = current();
    if (!inner) return inner.error();
    return (*inner)->hello(version);
}

Result<void> ReconnectingClient::create_account(std::string_view username,
                                                std::string_view password) {
    auto inner = current();
    if (!inner) return inner.error();
    return (*inner)->create_account(username, password);
}

Result<LoginResult> ReconnectingClient::login(std::string_view username,
                                              std::string_view password) {
    auto inner = current();
    if (!inner) return inner.error();
    auto result = (*inner)->login(username, password);
    if (result) {
        std::lock_guard lock(mu_);
        if (state_ != State::closed) {
            credentials_ = std::make_unique<Credentials>(username, password);
            ++credentials_version_;
        }
    }
    return result;
}

Result<void> ReconnectingClient::logout() {
    {
        // Forgotten whatever the outcome: the user wants out, so no reconnect logs in again.
        std::lock_guard lock(mu_);
        forget_credentials();
    }
    auto inner = current();
    if (!inner) return inner.error();
    return (*inner)->logout();
}

Result<Message> ReconnectingClient::send(std::string_view to, std::string_view body) {
    auto inner = current();
    if (!inner) return inner.error();
    return (*inner)->send(to, body);
}

void ReconnectingClient::send_async(std::string_view to, std::string_view body,
                                    std::function<void(Result<Message>)> done) {
    auto inner = current();
    if (!inner) {
        if (done) {
            delivery_.post([done = std::move(done), error = inner.error()] { done(error); });
        }
        return;
    }
    (*inner)->send_async(to, body, std::move(done));
}

Result<FetchResult> ReconnectingClient::fetch(std::uint64_t max) {
    auto inner = current();
    if (!inner) return inner.error();
    return (*inner)->fetch(max);
}

Result<std::uint64_t> ReconnectingClient::ack(const std::vector<MessageId>& ids,
                                              std::optional<MessageId> up_to) {
    auto inner = current();
    if (!inner) return inner.error();
    return (*inner)->ack(ids, up_to);
}

Result<AccountPage> ReconnectingClient::list_accounts(std::string_view pattern, std::uint64_t limit,
                                                      std::string_view after) {
    auto inner = current();
    if (!inner) return inner.error();
    return (*inner)->list_accounts(pattern, limit, after);
}

Result<void> ReconnectingClient::delete_account(std::string_view password) {
    auto inner = current();
    if (!inner) return inner.error();
    auto deleted = (*inner)->delete_account(password);
    if (deleted) {
        std::lock_guard lock(mu_);
        forget_credentials();
    }
    return deleted;
}

// --- handlers ---

void ReconnectingClient::on_message(MessageHandler handler) {
    has_message_handler_ = static_cast<bool>(handler);
    delivery_.on_message(std::move(handler));
}

void ReconnectingClient::on_logged_out(LoggedOutHandler handler) {
    delivery_.on_logged_out(std::move(handler));
}

void ReconnectingClient::on_disconnect(DisconnectHandler handler) { (void)handler; }

void ReconnectingClient::on_reconnect(ReconnectHandler handler) {
    reconnect_handler_ = std::move(handler);
}

void ReconnectingClient::post_event(ReconnectEvent event) {
    delivery_.post([this, event = std::move(event)] {
        {
            std::lock_guard lock(mu_);
            if (state_ == State::closed) return;
        }
        if (reconnect_handler_) reconnect_handler_(event);
    });
}

// --- events of the inner clients (their callback threads) ---

void ReconnectingClient::inner_logged_out(std::uint64_t generation, LogoutReason reason) {
    {
        std::lock_guard lock(mu_);
        if (generation != generation_ || state_ == State::closed) return;
        forget_credentials();  // the session is over: nothing to log in again
    }
    delivery_.logged_out(reason);
}

void ReconnectingClient::inner_disconnected(std::uint64_t generation, const Error& error) {
    {
        std::lock_guard lock(mu_);
        if (state_ == State::closed) return;
        if (state_ == State::reconnecting && generation == generation_ + 1) {
            candidate_broken_ = true;  // broke before the attempt could hand it out
            return;
        }
        if (generation != generation_ || state_ != State::connected) return;
        state_ = State::reconnecting;
        if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
    }
    wake_.notify_all();
    post_event(ReconnectEvent{.kind = ReconnectEvent::Kind::lost, .error = error, .login = {}});
}

// --- the reconnect thread ---

void ReconnectingClient::run() {
    pthread_setname_np(pthread_self(), "chat-reconnect");
    std::unique_lock lock(mu_);
    for (;;) {
        wake_.wait(lock,
                   [this] { return state_ == State::closed || state_ == State::reconnecting; });
        if (state_ == State::closed) return;
        std::shared_ptr<Client> broken = inner_;
        lock.unlock();
        // Its requests still in flight fail now, and its callbacks end. Unlocked: they may be
        // waiting for mu_.
        broken->close();
        broken.reset();
        lock.lock();
        reconnect(lock);
    }
}

void ReconnectingClient::reconnect(std::unique_lock<std::mutex>& lock) {
    auto backoff = min_backoff_;
    for (;;) {
        // The upper half of the current backoff, at random.
        const auto half = backoff.count() / 2;
        std::uniform_int_distribution<long long> pick(half, backoff.count());
        const std::chrono::milliseconds wait(pick(random_));
        if (wake_.wait_for(lock, wait, [this] { return state_ == State::closed; })) return;
        backoff = std::min(backoff * 2, max_backoff_);
        if (attempt(lock) != Attempt::retry) return;
    }
}

ReconnectingClient::Attempt ReconnectingClient::attempt(std::unique_lock<std::mutex>& lock) {
    const std::uint64_t generation = generation_ + 1;
    candidate_broken_ = false;
    std::unique_ptr<Credentials> login_as;
    if (credentials_) login_as = std::make_unique<Credentials>(*credentials_);
    const std::uint64_t version = credentials_version_;
    lock.unlock();

    std::shared_ptr<Client> fresh;
    std::optional<LoginResult> session;
    std::optional<Error> refused;
    bool usable = false;
    try {
        fresh = make_inner(generation);
        if (fresh->connect()) {
            if (!login_as) {
                usable = true;
            } else if (auto login = fresh->login(login_as->username, login_as->password); login) {
                session = std::move(*login);
                usable = true;
            } else if (login.code() == Errc::bad_credentials) {
                refused = login.error();  // connected, but that login is over for good
                usable = true;
            }
            // Any other failure (the node is still starting, busy, rate limiting): retry.
        }
    } catch (const std::exception&) {
        // The factory made the first client with the same configuration, so this is a
        // resource shortage at most: try again later.
    }
    login_as.reset();
    if (!usable) {
        fresh.reset();  // unlocked: its close() may wait for a callback that wants mu_
        lock.lock();
        return state_ == State::closed ? Attempt::closed : Attempt::retry;
    }

    lock.lock();
    if (state_ == State::closed || candidate_broken_ || credentials_version_ != version) {
        // Closed; or it broke already; or a logout made meanwhile changes what to log in as.
        const bool closed = state_ == State::closed;
        lock.unlock();
        fresh.reset();
        lock.lock();
        return closed ? Attempt::closed : Attempt::retry;
    }
    inner_ = fresh;
    generation_ = generation;
    state_ = State::connected;
    if (refused) forget_credentials();
    lock.unlock();

    if (refused) {
        post_event(
            ReconnectEvent{.kind = ReconnectEvent::Kind::gave_up, .error = *refused, .login = {}});
    } else {
        const bool logged_in = session.has_value();
        post_event(ReconnectEvent{
            .kind = ReconnectEvent::Kind::restored, .error = {}, .login = std::move(session)});
        // With auto_ack off the application fetches and acks itself; with no message handler
        // nobody would see them, so they stay queued.
        if (logged_in && auto_ack_ && has_message_handler_) catch_up(*fresh);
    }
    fresh.reset();
    lock.lock();
    return Attempt::done;
}

// Fetches what waits and hands it over like pushes (the Delivery de-duplicates and acks them);
// each page is also acked here once handed over, so the next fetch returns the next page.
void ReconnectingClient::catch_up(Client& client) {
    for (int page = 0; page < kMaxCatchUpPages; ++page) {
        auto batch = client.fetch();
        // Broken again (a new loss starts another round) or refused: nothing more to do here.
        if (!batch) return;
        std::vector<MessageId> ids;
        ids.reserve(batch->messages.size());
        for (auto& message : batch->messages) {
            ids.push_back(message.id);
            delivery_.message(std::move(message));
        }
        if (ids.empty()) return;
        // Acked only after on_message has run, as auto_ack does.
        if (!wait_handed_over()) return;
        if (!client.ack(ids)) return;
        if (batch->remaining == 0) return;
    }
}

// Waits until everything queued for the callback thread so far has run; false when closed
// meanwhile (close() may be running on the callback thread itself).
bool ReconnectingClient::wait_handed_over() {
    std::unique_lock lock(mu_);
    const std::uint64_t mark = ++marks_posted_;
    lock.unlock();
    const bool posted = delivery_.post([this, mark] {
        {
            std::lock_guard done_lock(mu_);
            marks_done_ = std::max(marks_done_, mark);
        }
        wake_.notify_all();
    });
    if (!posted) return false;
    lock.lock();
    wake_.wait(lock, [this, mark] { return marks_done_ >= mark || state_ == State::closed; });
    return state_ != State::closed;
}

}  // namespace chat
