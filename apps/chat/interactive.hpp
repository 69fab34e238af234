// The interactive client: connect, then the menu users know (create account / login / quit),
// then commands (send, fetch, list, delete, logout, help, quit). Incoming messages are shown as
// soon as they arrive; a server-side logout (account deleted elsewhere) returns to the menu.
// A lost connection ends the program, unless the client reconnects (ClientConfig::reconnect):
// then the loss and the return are one line each, the prompt stays, and messages missed
// meanwhile appear like pushed ones; a login refused after reconnecting returns to the menu.
// Thread use: run() on one thread; the client's callbacks arrive on its callback thread and only
// print through the console, set flags and wake the console.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "chat/push_dedup.hpp"
#include "chat/transport.hpp"
#include "console.hpp"
#include "exit_codes.hpp"

namespace chat::cli {

struct InteractiveConfig {
    std::optional<std::string> user;      // offered as the default username
    std::optional<std::string> password;  // from --password-file / CHAT_PASSWORD: not asked for
    std::string server;                   // how to name the server to the user ("host:port")
    std::uint64_t list_page = 20;         // accounts per page of `list`
};

class InteractiveSession final {
   public:
    // `client` must not be connected yet; run() installs its callbacks and connects.
    InteractiveSession(Client& client, Console& console, InteractiveConfig config);
    ~InteractiveSession();
    InteractiveSession(const InteractiveSession&) = delete;
    InteractiveSession& operator=(const InteractiveSession&) = delete;

    // Runs until the user quits (0), the connection fails (3) or connecting fails (3).
    int run();

   private:
    enum class Next { menu, commands, quit, lost };

    Next menu();
    Next commands();
    Next create_account();
    Next login();
    Next logged_in(const LoginResult& result);

    void cmd_send(std::string_view args);
    void cmd_fetch();
    void cmd_list(std::string_view args);
    void cmd_next();
    Next cmd_delete();
    Next cmd_logout();
    void show_help();
    void show_list_page();

    std::optional<std::string> ask(std::string_view prompt);
    std::optional<std::string> ask_secret(std::string_view prompt);
    std::optional<std::string> ask_username();
    std::optional<std::string> ask_password(bool confirm);
    bool ask_yes_no(std::string_view question, bool default_yes);
    // What an event (logout from elsewhere, lost connection) means for the command loop.
    std::optional<Next> pending_event();
    // Prints `what: <explanation>` unless the connection is gone (then the loss is reported).
    void report(std::string_view what, const Error& error);
    void say(std::string_view text) { console_.print(text); }

    Client& client_;
    Console& console_;
    InteractiveConfig config_;
    std::string user_;        // canonical name while logged in, as the server gave it
    std::string shown_user_;  // the same made safe to print

    // Paging state of `list`.
    std::string list_pattern_;
    std::optional<std::string> list_next_;

    // Set by the client's callback thread.
    std::atomic<bool> lost_{false};
    std::atomic<bool> logged_out_{false};
    std::atomic<bool> expect_logout_{false};  // our own delete: its logged_out is no news
    std::atomic<bool> reconnecting_{false};   // between the reconnect events lost and restored
    std::atomic<bool> gave_up_{false};        // the login after reconnecting was refused
    // With lost_cv_: lets report() wait briefly for the notice of a disconnect or a loss.
    std::mutex lost_mu_;
    std::condition_variable lost_cv_;
    // Ids already shown. The client's own de-dup (auto_ack) covers pushes only and is not
    // reachable through chat::Client: a message pushed while its ack is on the way comes back in
    // a `fetch`, and must not be shown twice. So both paths record here.
    std::mutex seen_mu_;  // guards seen_
    PushDedup seen_;
};

}  // namespace chat::cli
