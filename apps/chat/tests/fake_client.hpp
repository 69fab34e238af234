// A chat::Client that keeps everything in memory, for testing the client program without a
// server. It follows docs/protocol.md closely enough for the program's flows (accounts, queue,
// ack, paging, errors) and lets a test raise the events a server would (push, logged_out,
// disconnect) and those a reconnecting client reports, from its own thread.
// Thread use: request methods from the program's thread; the raise_* methods from the test's
// thread; a mutex guards the state, and callbacks are invoked without holding it.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chat/account_pattern.hpp"
#include "chat/transport.hpp"
#include "chat/validation.hpp"

namespace chat::cli::test {

class FakeClient final : public Client {
   public:
    bool fail_connect = false;
    // The next send fails as if the connection broke; the disconnect notice follows a little
    // later from another thread, as with a real client.
    bool break_on_send = false;

    ~FakeClient() override {
        if (notifier_.joinable()) notifier_.join();
    }
    std::size_t max_page = 1000;  // the server's page size cap, to exercise paging

    Result<void> connect() override {
        if (fail_connect) return make_error(Errc::internal, "connection refused");
        std::lock_guard lock(mu_);
        connected_ = true;
        return {};
    }
    // Like a real client, close() returns only when no callback can run any more.
    void close() override {
        if (notifier_.joinable() && notifier_.get_id() != std::this_thread::get_id()) {
            notifier_.join();
        }
        std::lock_guard lock(mu_);
        connected_ = false;
        user_.clear();
        ++close_calls;
    }
    Result<HelloInfo> hello(int version) override { return HelloInfo{version, "fake/1.0", 65536}; }
    Result<void> create_account(std::string_view username, std::string_view password) override {
        std::lock_guard lock(mu_);
        if (!is_valid_username(username)) return make_error(Errc::invalid_username, "bad name");
        if (password.empty()) return make_error(Errc::invalid_password, "empty password");
        const auto key = to_lower_ascii(username);
        if (accounts_.count(key) != 0) {
            return make_error(Errc::user_exists, std::string(username) + " is taken");
        }
        accounts_[key] = Account{std::string(username), std::string(password), {}};
        return {};
    }
    Result<LoginResult> login(std::string_view username, std::string_view password) override {
        std::lock_guard lock(mu_);
        if (!user_.empty()) return make_error(Errc::already_logged_in, "already logged in");
        auto it = accounts_.find(to_lower_ascii(username));
        if (it == accounts_.end() || it->second.password != password || password.empty()) {
            return make_error(Errc::bad_credentials, "wrong username or password");
        }
        user_ = it->first;
        return LoginResult{it->second.name, queue_of(user_).size(), 1};
    }
    Result<void> logout() override {
        std::lock_guard lock(mu_);
        if (user_.empty()) return make_error(Errc::not_logged_in, "not logged in");
        user_.clear();
        return {};
    }
    Result<Message> send(std::string_view to, std::string_view body) override {
        if (is_reconnecting()) {
            return make_error(Errc::internal, "not connected: reconnecting to the server");
        }
        if (break_on_send) {
            break_on_send = false;
            notifier_ = std::thread([this] {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                raise_disconnect();
            });
            return make_error(Errc::internal, "connection lost: end of file");
        }
        Message message;
        {
            std::lock_guard lock(mu_);
            if (user_.empty()) return make_error(Errc::not_logged_in, "not logged in");
            auto it = accounts_.find(to_lower_ascii(to));
            if (it == accounts_.end()) {
                return make_error(Errc::no_such_user, std::string(to) + " does not exist");
            }
            if (!is_valid_body(body)) return make_error(Errc::invalid_message, "bad body");
            message = Message{next_id_++, accounts_[user_].name, it->second.name, std::string(body),
                              1764000000000};
            it->second.queue.push_back(message);
        }
        sent.push_back(message);
        return message;
    }
    void send_async(std::string_view to, std::string_view body,
                    std::function<void(Result<Message>)> done) override {
        done(send(to, body));
    }
    Result<FetchResult> fetch(std::uint64_t max) override {
        std::lock_guard lock(mu_);
        if (user_.empty()) return make_error(Errc::not_logged_in, "not logged in");
        const auto& queue = queue_of(user_);
        const std::size_t n = std::min<std::size_t>(queue.size(), max == 0 ? 100 : max);
        FetchResult result;
        result.messages.assign(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
        result.remaining = queue.size() - n;
        ++fetch_calls;
        return result;
    }
    Result<std::uint64_t> ack(const std::vector<MessageId>& ids,
                              std::optional<MessageId> up_to) override {
        std::lock_guard lock(mu_);
        if (user_.empty()) return make_error(Errc::not_logged_in, "not logged in");
        auto& queue = accounts_[user_].queue;
        const auto before = queue.size();
        std::erase_if(queue, [&](const Message& m) {
            return std::find(ids.begin(), ids.end(), m.id) != ids.end() ||
                   (up_to && m.id <= *up_to);
        });
        acked += before - queue.size();
        return static_cast<std::uint64_t>(before - queue.size());
    }
    Result<AccountPage> list_accounts(std::string_view pattern, std::uint64_t limit,
                                      std::string_view after) override {
        std::lock_guard lock(mu_);
        if (user_.empty()) return make_error(Errc::not_logged_in, "not logged in");
        const AccountPattern matcher(pattern);
        const std::size_t page = std::min<std::size_t>(limit == 0 ? 100 : limit, max_page);
        AccountPage result;
        for (auto it = accounts_.upper_bound(std::string(after)); it != accounts_.end(); ++it) {
            if (!matcher.matches(it->first)) continue;
            if (result.accounts.size() == page) {
                result.next = to_lower_ascii(result.accounts.back());
                break;
            }
            result.accounts.push_back(it->second.name);
        }
        return result;
    }
    Result<void> delete_account(std::string_view password) override {
        LoggedOutHandler handler;
        {
            std::lock_guard lock(mu_);
            if (user_.empty()) return make_error(Errc::not_logged_in, "not logged in");
            if (accounts_[user_].password != password) {
                return make_error(Errc::bad_credentials, "wrong password");
            }
            accounts_.erase(user_);
            user_.clear();
            handler = on_logged_out_;
        }
        // The server tells the deleting session too.
        if (handler) handler(LogoutReason::account_deleted);
        return {};
    }
    void on_message(MessageHandler handler) override { on_message_ = std::move(handler); }
    void on_logged_out(LoggedOutHandler handler) override { on_logged_out_ = std::move(handler); }
    void on_disconnect(DisconnectHandler handler) override { on_disconnect_ = std::move(handler); }
    void on_reconnect(ReconnectHandler handler) override { on_reconnect_ = std::move(handler); }

    // Test side.
    void add_account(const std::string& name, const std::string& password) {
        std::lock_guard lock(mu_);
        accounts_[to_lower_ascii(name)] = Account{name, password, {}};
    }
    Message queue_message(const std::string& from, const std::string& to, std::string body) {
        std::lock_guard lock(mu_);
        Message m{next_id_++, from, to, std::move(body), 1764000000000};
        accounts_[to_lower_ascii(to)].queue.push_back(m);
        return m;
    }
    void raise_push(const Message& m) {
        if (on_message_) on_message_(m);
    }
    void raise_logged_out() {
        {
            std::lock_guard lock(mu_);
            user_.clear();
        }
        if (on_logged_out_) on_logged_out_(LogoutReason::account_deleted);
    }
    void raise_disconnect() {
        if (on_disconnect_) on_disconnect_(make_error(Errc::internal, "connection closed"));
    }
    // As a reconnecting client would: `lost` makes requests fail as while it reconnects,
    // `restored` and `gave_up` end that (gave_up also ends the login).
    void raise_reconnect(const ReconnectEvent& event) {
        {
            std::lock_guard lock(mu_);
            reconnecting_ = event.kind == ReconnectEvent::Kind::lost;
            if (event.kind == ReconnectEvent::Kind::gave_up) user_.clear();
        }
        if (on_reconnect_) on_reconnect_(event);
    }
    std::size_t queued_for(const std::string& name) {
        std::lock_guard lock(mu_);
        return queue_of(to_lower_ascii(name)).size();
    }
    bool has_account(const std::string& name) {
        std::lock_guard lock(mu_);
        return accounts_.count(to_lower_ascii(name)) != 0;
    }

    std::vector<Message> sent;
    std::size_t acked = 0;
    int fetch_calls = 0;
    int close_calls = 0;

   private:
    struct Account {
        std::string name;
        std::string password;
        std::vector<Message> queue;
    };
    const std::vector<Message>& queue_of(const std::string& key) {
        static const std::vector<Message> kEmpty;
        auto it = accounts_.find(key);
        return it == accounts_.end() ? kEmpty : it->second.queue;
    }

    bool is_reconnecting() {
        std::lock_guard lock(mu_);
        return reconnecting_;
    }

    std::mutex mu_;
    bool connected_ = false;
    bool reconnecting_ = false;
    std::string user_;  // lower-cased key of the logged-in account
    std::map<std::string, Account> accounts_;
    MessageId next_id_ = 1;
    MessageHandler on_message_;
    LoggedOutHandler on_logged_out_;
    DisconnectHandler on_disconnect_;
    ReconnectHandler on_reconnect_;
    std::thread notifier_;
};

}  // namespace chat::cli::test
