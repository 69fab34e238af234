// The interactive client: menus, commands and live messages.
#include "interactive.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <vector>

#include "chat/limits.hpp"
#include "chat/validation.hpp"
#include "format.hpp"

namespace chat::cli {

namespace {

// Pages fetched in one `fetch` at most; bounds the loop if the queue keeps growing.
constexpr int kMaxFetchPages = 1000;
// Text that is not UTF-8 cannot go on the wire (the terminal's encoding is probably not UTF-8).
constexpr std::string_view kNotUtf8 =
    "That text is not valid UTF-8 and cannot be sent; check the terminal's character set.";
// How long a failed request waits for the notice that the connection is gone.
constexpr std::chrono::milliseconds kLostGrace{300};

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
    }
    return text;
}

// Splits off the first word; `rest` keeps the spacing of what follows, minus one separator run.
std::string_view first_word(std::string_view text, std::string_view& rest) {
    text = trim(text);
    const auto end = std::find_if(text.begin(), text.end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c));
    });
    const auto word = text.substr(0, static_cast<std::size_t>(end - text.begin()));
    rest = trim(text.substr(word.size()));
    return word;
}

std::string lower(std::string_view text) { return to_lower_ascii(text); }

bool is_one_of(const std::string& word, std::initializer_list<std::string_view> names) {
    return std::find(names.begin(), names.end(), word) != names.end();
}

}  // namespace

InteractiveSession::InteractiveSession(Client& client, Console& console, InteractiveConfig config)
    : client_(client), console_(console), config_(std::move(config)) {}

InteractiveSession::~InteractiveSession() { client_.close(); }

int InteractiveSession::run() {
    client_.on_message([this](const Message& message) {
        {
            std::lock_guard lock(seen_mu_);
            if (!seen_.first_time(message.id)) return;
        }
        console_.print(format_message(message));
    });
    client_.on_logged_out([this](LogoutReason) {
        if (expect_logout_.exchange(false)) return;
        logged_out_ = true;
        console_.print("Your account was deleted in another session; you are logged out.");
        console_.wake();
    });
    client_.on_disconnect([this](const Error& error) {
        if (lost_.exchange(true)) return;
        console_.print("Disconnected from the server: " + disconnect_reason(error) + ".");
        console_.wake();
        {
            // Taking the lock orders the flag before a waiter's check, so none misses it.
            std::lock_guard lock(lost_mu_);
        }
        lost_cv_.notify_all();
    });
    // Only a client that reconnects calls this; it then never calls on_disconnect.
    client_.on_reconnect([this](const ReconnectEvent& event) {
        switch (event.kind) {
            case ReconnectEvent::Kind::lost:
                reconnecting_ = true;
                console_.print("Connection to " + config_.server + " lost; reconnecting...");
                {
                    std::lock_guard lock(lost_mu_);  // as in on_disconnect
                }
                lost_cv_.notify_all();
                return;
            case ReconnectEvent::Kind::restored:
                reconnecting_ = false;
                if (event.login) {
                    console_.print("Reconnected; logged in again as " +
                                   sanitize_line_for_terminal(event.login->username) + " (" +
                                   std::to_string(event.login->unread) + " unread).");
                } else {
                    console_.print("Reconnected to " + config_.server + ".");
                }
                return;
            case ReconnectEvent::Kind::gave_up:
                reconnecting_ = false;
                gave_up_ = true;
                console_.print("Reconnected, but logging in again was refused (" +
                               explain(event.error) + "); you are logged out.");
                console_.wake();
                return;
        }
    });

    if (auto connected = client_.connect(); !connected) {
        std::string text = connect_failure(config_.server, connected.error());
        text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
        say(text + ".");
        return kExitConnection;
    }
    if (auto hello = client_.hello(); hello) {
        say("Connected to " + sanitize_line_for_terminal(hello->server) + " at " + config_.server +
            ".");
    } else if (lost_) {
        return kExitConnection;
    } else {
        say("Connected to " + config_.server + ".");
    }

    Next next = Next::menu;
    for (;;) {
        switch (next) {
            case Next::menu:
                next = menu();
                break;
            case Next::commands:
                next = commands();
                break;
            case Next::quit:
                client_.close();
                say("Bye.");
                return kExitOk;
            case Next::lost:
                client_.close();
                return kExitConnection;
        }
    }
}

std::optional<InteractiveSession::Next> InteractiveSession::pending_event() {
    if (lost_) return Next::lost;
    if (logged_out_.exchange(false) || gave_up_.exchange(false)) {
        console_.clear_wake();
        user_.clear();
        list_next_.reset();
        return Next::menu;
    }
    return std::nullopt;
}

std::optional<std::string> InteractiveSession::ask(std::string_view prompt) {
    auto line = console_.read_line(prompt);
    if (!line.ok()) return std::nullopt;
    if (!is_valid_utf8(line.text)) {
        say(kNotUtf8);
        return std::nullopt;
    }
    return std::move(line.text);
}

std::optional<std::string> InteractiveSession::ask_secret(std::string_view prompt) {
    auto line = console_.read_secret(prompt);
    if (!line.ok()) return std::nullopt;
    if (!is_valid_utf8(line.text)) {
        say(kNotUtf8);
        return std::nullopt;
    }
    return std::move(line.text);
}

std::optional<std::string> InteractiveSession::ask_username() {
    const std::string prompt =
        config_.user ? "Username [" + *config_.user + "]: " : std::string("Username: ");
    for (int attempt = 0; attempt < 3; ++attempt) {
        auto line = ask(prompt);
        if (!line) return std::nullopt;
        std::string name(trim(*line));
        if (name.empty() && config_.user) name = *config_.user;
        if (!name.empty()) return name;
        say("Please type a username.");
    }
    return std::nullopt;
}

std::optional<std::string> InteractiveSession::ask_password(bool confirm) {
    if (config_.password) return config_.password;
    auto password = ask_secret("Password: ");
    if (!password) return std::nullopt;
    if (confirm && console_.is_terminal()) {
        auto again = ask_secret("Repeat the password: ");
        if (!again) return std::nullopt;
        if (*again != *password) {
            say("The two passwords differ; nothing was done.");
            return std::nullopt;
        }
    }
    return password;
}

bool InteractiveSession::ask_yes_no(std::string_view question, bool default_yes) {
    auto line = ask(std::string(question) + (default_yes ? " [Y/n] " : " [y/N] "));
    if (!line) return false;
    const std::string answer = lower(trim(*line));
    if (answer.empty()) return default_yes;
    return answer == "y" || answer == "yes";
}

void InteractiveSession::report(std::string_view what, const Error& error) {
    // A lost connection is reported once, by the disconnect callback (or the reconnect one),
    // which may come just after the failed request: its notice goes first.
    if (error.code == Errc::internal) {
        std::unique_lock lock(lost_mu_);
        lost_cv_.wait_for(lock, kLostGrace,
                          [this] { return lost_.load() || reconnecting_.load(); });
    }
    if (lost_) return;
    // Logged out from elsewhere: the notice has been printed, the failure adds nothing.
    if ((logged_out_ || gave_up_) && error.code == Errc::not_logged_in) return;
    say(std::string(what) + ": " + explain(error));
}

InteractiveSession::Next InteractiveSession::menu() {
    say("\nWhat would you like to do?\n  1) create account\n  2) login\n  3) quit");
    for (;;) {
        auto line = console_.read_line("> ");
        switch (line.status) {
            case ReadStatus::line:
                break;
            case ReadStatus::eof:
            case ReadStatus::interrupted:
                return Next::quit;
            case ReadStatus::woken:
                if (lost_) return Next::lost;
                continue;
        }
        const std::string choice = lower(trim(line.text));
        if (choice.empty()) continue;
        if (is_one_of(choice, {"1", "c", "create", "create account", "create-account"})) {
            const Next next = create_account();
            if (next != Next::menu) return next;
        } else if (is_one_of(choice, {"2", "l", "login", "log in"})) {
            const Next next = login();
            if (next != Next::menu) return next;
        } else if (is_one_of(choice, {"3", "q", "quit", "exit"})) {
            return Next::quit;
        } else if (is_one_of(choice, {"help", "?", "h"})) {
            return Next::menu;
        } else {
            say("Please choose 1 (create account), 2 (login) or 3 (quit).");
            continue;
        }
        if (lost_) return Next::lost;
        say("\n  1) create account\n  2) login\n  3) quit");
    }
}

InteractiveSession::Next InteractiveSession::create_account() {
    auto name = ask_username();
    if (!name) return lost_ ? Next::lost : Next::menu;
    if (!is_valid_username(*name)) {
        say("That name cannot be used: " + std::string(describe(Errc::invalid_username)) + ".");
        return Next::menu;
    }
    auto password = ask_password(true);
    if (!password) return lost_ ? Next::lost : Next::menu;
    if (auto created = client_.create_account(*name, *password); !created) {
        report("Could not create the account", created.error());
        return lost_ ? Next::lost : Next::menu;
    }
    say("Account " + *name + " created.");
    auto result = client_.login(*name, *password);
    if (!result) {
        report("Could not log in", result.error());
        return lost_ ? Next::lost : Next::menu;
    }
    return logged_in(*result);
}

InteractiveSession::Next InteractiveSession::login() {
    auto name = ask_username();
    if (!name) return lost_ ? Next::lost : Next::menu;
    auto password = ask_password(false);
    if (!password) return lost_ ? Next::lost : Next::menu;
    auto result = client_.login(*name, *password);
    if (!result) {
        report("Login failed", result.error());
        if (result.code() == Errc::bad_credentials && config_.password) {
            // The given password did not work; asking is the only way forward.
            config_.password.reset();
            say("The password from --password-file or CHAT_PASSWORD was refused; "
                "the next login asks for it.");
        }
        return lost_ ? Next::lost : Next::menu;
    }
    return logged_in(*result);
}

InteractiveSession::Next InteractiveSession::logged_in(const LoginResult& result) {
    user_ = result.username;
    shown_user_ = sanitize_line_for_terminal(user_);
    logged_out_ = false;
    gave_up_ = false;
    say("Logged in as " + shown_user_ + ".");
    if (result.unread == 0) {
        say("No unread messages.");
    } else {
        say("You have " + plural(result.unread, "unread message", "unread messages") + ".");
        // Questions only make sense to a person; a script types `fetch` itself.
        if (console_.is_terminal()) {
            if (ask_yes_no("Fetch them now?", true)) cmd_fetch();
        } else {
            say("Type fetch to read them.");
        }
    }
    say("Type help for the list of commands.");
    return Next::commands;
}

InteractiveSession::Next InteractiveSession::commands() {
    for (;;) {
        if (auto event = pending_event()) return *event;
        auto line = console_.read_line(shown_user_ + "> ");
        switch (line.status) {
            case ReadStatus::line:
                break;
            case ReadStatus::eof:
                return cmd_logout() == Next::lost ? Next::lost : Next::quit;
            case ReadStatus::interrupted:
                // Ctrl-C drops a half-typed line; on an empty line it quits.
                if (!trim(line.text).empty()) continue;
                return cmd_logout() == Next::lost ? Next::lost : Next::quit;
            case ReadStatus::woken:
                continue;  // pending_event() decides
        }
        if (!is_valid_utf8(line.text)) {
            say(kNotUtf8);
            continue;
        }
        std::string_view args;
        const std::string word = lower(first_word(line.text, args));
        if (word.empty()) continue;
        if (is_one_of(word, {"send", "1", "s", "msg"})) {
            cmd_send(args);
        } else if (is_one_of(word, {"fetch", "2", "f", "deliver"})) {
            cmd_fetch();
        } else if (is_one_of(word, {"list", "3", "ls"})) {
            cmd_list(args);
        } else if (is_one_of(word, {"next", "n", "more"})) {
            cmd_next();
        } else if (is_one_of(word, {"delete", "4"})) {
            const Next next = cmd_delete();
            if (next != Next::commands) return next;
        } else if (is_one_of(word, {"logout", "5", "logoff"})) {
            return cmd_logout();
        } else if (is_one_of(word, {"quit", "6", "q", "exit"})) {
            return cmd_logout() == Next::lost ? Next::lost : Next::quit;
        } else if (is_one_of(word, {"help", "?", "h"})) {
            show_help();
        } else {
            say("Unknown command '" + sanitize_for_terminal(word) +
                "'. Type help for the list of commands.");
        }
    }
}

void InteractiveSession::show_help() {
    say("Commands (the number works too):\n"
        "  1  send <user> <text>   send a message (without arguments it asks)\n"
        "  2  fetch                show undelivered messages\n"
        "  3  list [pattern]       list accounts; * and ? are wildcards; next shows more\n"
        "  4  delete               delete your account (asks for the password)\n"
        "  5  logout               log out and go back to the menu\n"
        "  6  quit                 log out and leave (Ctrl-D does the same)\n"
        "     help                 this list\n"
        "Messages sent to you appear as they arrive.");
}

void InteractiveSession::cmd_send(std::string_view args) {
    std::string_view text;
    std::string to(first_word(args, text));
    std::string body(text);
    if (to.empty()) {
        auto answer = ask("To: ");
        if (!answer) return;
        to = trim(*answer);
        if (to.empty()) {
            say("Nothing sent: no recipient given.");
            return;
        }
    }
    if (body.empty()) {
        auto answer = ask("Message: ");
        if (!answer) return;
        body = std::move(*answer);
    }
    if (trim(body).empty()) {
        say("Nothing sent: the message is empty.");
        return;
    }
    auto sent = client_.send(to, body);
    if (!sent) {
        report("Not sent", sent.error());
        return;
    }
    say("Sent to " + sanitize_line_for_terminal(sent->to) + ".");
}

void InteractiveSession::cmd_fetch() {
    std::uint64_t shown = 0;
    for (int page = 0; page < kMaxFetchPages; ++page) {
        auto batch = client_.fetch(Limits::kMaxFetch);
        if (!batch) {
            report("Could not fetch messages", batch.error());
            return;
        }
        std::vector<MessageId> ids;
        ids.reserve(batch->messages.size());
        for (const auto& message : batch->messages) {
            ids.push_back(message.id);
            bool first = false;
            {
                std::lock_guard lock(seen_mu_);
                first = seen_.first_time(message.id);
            }
            if (first) {
                say(format_message(message));
                ++shown;
            }
        }
        if (!ids.empty()) {
            // Acked only after they are on the screen: a crash before this shows them again.
            if (auto acked = client_.ack(ids); !acked) {
                report("Could not acknowledge the messages", acked.error());
                return;
            }
        }
        if (batch->remaining == 0 || batch->messages.empty()) break;
    }
    if (shown == 0) say("No new messages.");
}

void InteractiveSession::cmd_list(std::string_view args) {
    list_pattern_ = std::string(trim(args));
    list_next_ = std::string();
    show_list_page();
}

void InteractiveSession::cmd_next() {
    if (!list_next_) {
        say("Nothing more to show; use list [pattern] first.");
        return;
    }
    show_list_page();
}

void InteractiveSession::show_list_page() {
    const bool first_page = list_next_ && list_next_->empty();
    auto page = client_.list_accounts(list_pattern_, config_.list_page, list_next_.value_or(""));
    if (!page) {
        list_next_.reset();
        report("Could not list accounts", page.error());
        return;
    }
    if (page->accounts.empty() && first_page) {
        say(list_pattern_.empty()
                ? std::string("No accounts.")
                : "No account matches '" + sanitize_for_terminal(list_pattern_) + "'.");
    }
    std::string out;
    for (const auto& name : page->accounts) {
        if (!out.empty()) out += '\n';
        out += "  " + sanitize_line_for_terminal(name);
        if (to_lower_ascii(name) == to_lower_ascii(user_)) out += " (you)";
    }
    if (!out.empty()) say(out);
    list_next_ = page->next;
    if (list_next_) say("-- more: type next --");
}

InteractiveSession::Next InteractiveSession::cmd_delete() {
    say("Deleting your account discards the messages waiting for you and frees the name " +
        shown_user_ + ".");
    auto password = ask_secret("Password for " + shown_user_ + ": ");
    if (!password) {
        if (!lost_) say("Not deleted.");
        return lost_ ? Next::lost : Next::commands;
    }
    if (!ask_yes_no("Really delete the account " + shown_user_ + "?", false)) {
        say("Not deleted.");
        return lost_ ? Next::lost : Next::commands;
    }
    expect_logout_ = true;
    if (auto deleted = client_.delete_account(*password); !deleted) {
        expect_logout_ = false;
        report("Not deleted", deleted.error());
        return lost_ ? Next::lost : Next::commands;
    }
    say("Account " + shown_user_ + " deleted; you are logged out.");
    user_.clear();
    list_next_.reset();
    return Next::menu;
}

InteractiveSession::Next InteractiveSession::cmd_logout() {
    // While reconnecting there is no session to end: the server ended it with the connection.
    if (auto done = client_.logout();
        !done && done.code() != Errc::not_logged_in && !reconnecting_) {
        report("Logout failed", done.error());
    }
    if (lost_) return Next::lost;
    say("Logged out.");
    user_.clear();
    list_next_.reset();
    return Next::menu;
}

}  // namespace chat::cli
