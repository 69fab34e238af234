// The scripted subcommands.
#include "script.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "chat/limits.hpp"
#include "chat/validation.hpp"
#include "exit_codes.hpp"
#include "format.hpp"

namespace chat::cli {

namespace {

// Bounds on the paging loops, far above any real queue or account list.
constexpr int kMaxPages = 100000;
constexpr std::chrono::milliseconds kLostGrace{300};

class ScriptRun {
   public:
    ScriptRun(const ScriptRequest& request, Client& client, std::ostream& out, std::ostream& err)
        : req_(request), client_(client), out_(out), err_(err) {}

    int run() {
        // Text that is not UTF-8 cannot be encoded on the wire; say so instead of sending it.
        if (auto bad = check_text()) {
            err_ << script_error_line(*bad) << '\n';
            return kExitFailed;
        }
        // Pushes are ignored: with auto-ack off they stay queued and `fetch` returns them, so
        // a message arriving during `send` or `list` is not lost.
        client_.on_message([](const Message&) {});
        client_.on_logged_out([](LogoutReason) {});
        client_.on_disconnect([this](const Error& error) {
            {
                std::lock_guard lock(mu_);
                if (!lost_) lost_ = error;
            }
            lost_cv_.notify_all();
        });
        if (auto connected = client_.connect(); !connected) {
            err_ << "error: " << connect_failure(req_.server, connected.error()) << '\n';
            return kExitConnection;
        }
        const int code = dispatch();
        client_.close();
        return code;
    }

   private:
    std::optional<Error> check_text() const {
        for (auto [field, text] : {std::pair{TextField::username, std::string_view(req_.user)},
                                   std::pair{TextField::password, std::string_view(req_.password)},
                                   std::pair{TextField::recipient, std::string_view(req_.to)},
                                   std::pair{TextField::body, std::string_view(req_.body)},
                                   std::pair{TextField::pattern, std::string_view(req_.pattern)}}) {
            if (auto bad = check_utf8(field, text)) return bad;
        }
        return std::nullopt;
    }

    int dispatch() {
        if (req_.command == ScriptCommand::create_account) {
            if (auto created = client_.create_account(req_.user, req_.password); !created) {
                return fail(created.error());
            }
            if (req_.json) {
                out_ << "{\"username\":" << json_string(req_.user) << ",\"created\":true}\n";
            } else {
                out_ << "created account " << sanitize_line_for_terminal(req_.user) << '\n';
            }
            return kExitOk;
        }
        if (auto login = client_.login(req_.user, req_.password); !login) {
            return fail(login.error());
        }
        int code = kExitOk;
        switch (req_.command) {
            case ScriptCommand::send:
                code = send();
                break;
            case ScriptCommand::fetch:
                code = fetch();
                break;
            case ScriptCommand::list:
                code = list();
                break;
            case ScriptCommand::create_account:
                break;
        }
        if (code == kExitOk) {
            if (auto out = client_.logout(); !out) return fail(out.error());
        }
        return code;
    }

    int send() {
        auto sent = client_.send(req_.to, req_.body);
        if (!sent) return fail(sent.error());
        if (req_.json) {
            out_ << message_json(*sent) << '\n';
        } else {
            out_ << "sent message " << sent->id << " to " << sanitize_line_for_terminal(sent->to)
                 << '\n';
        }
        return kExitOk;
    }

    int fetch() {
        std::uint64_t printed = 0;
        for (int page = 0; page < kMaxPages; ++page) {
            std::uint64_t want = Limits::kMaxFetch;
            if (req_.max != 0) want = std::min<std::uint64_t>(want, req_.max - printed);
            auto batch = client_.fetch(want);
            if (!batch) return fail(batch.error());
            std::vector<MessageId> ids;
            for (const auto& message : batch->messages) {
                if (req_.max != 0 && printed == req_.max) break;
                out_ << (req_.json ? message_json(message) : format_message(message, true)) << '\n';
                ids.push_back(message.id);
                ++printed;
            }
            // Acknowledge only what is printed, and only once it is out of our hands.
            out_.flush();
            if (!out_) {
                err_ << "error: cannot write the messages; they stay queued\n";
                return kExitFailed;
            }
            if (!ids.empty()) {
                if (auto acked = client_.ack(ids); !acked) return fail(acked.error());
            }
            if (batch->remaining == 0 || batch->messages.empty()) break;
            if (req_.max != 0 && printed >= req_.max) break;
        }
        if (printed == 0 && !req_.json) err_ << "no new messages\n";
        return kExitOk;
    }

    int list() {
        std::string after;
        for (int page = 0; page < kMaxPages; ++page) {
            auto result = client_.list_accounts(req_.pattern, Limits::kMaxList, after);
            if (!result) return fail(result.error());
            for (const auto& name : result->accounts) {
                if (req_.json) {
                    out_ << "{\"username\":" << json_string(name) << "}\n";
                } else {
                    out_ << sanitize_line_for_terminal(name) << '\n';
                }
            }
            if (!result->next) break;
            after = *result->next;
        }
        return kExitOk;
    }

    int fail(const Error& error) {
        std::optional<Error> lost;
        {
            // A broken connection fails the request first and is reported just after: give
            // the report a moment so the exit code says "connection" rather than "refused".
            std::unique_lock lock(mu_);
            if (error.code == Errc::internal) {
                lost_cv_.wait_for(lock, kLostGrace, [this] { return lost_.has_value(); });
            }
            lost = lost_;
        }
        if (lost) {
            err_ << "error: disconnected from " << req_.server << ": " << disconnect_reason(*lost)
                 << '\n';
            return kExitConnection;
        }
        err_ << script_error_line(error) << '\n';
        return kExitFailed;
    }

    const ScriptRequest& req_;
    Client& client_;
    std::ostream& out_;
    std::ostream& err_;
    std::mutex mu_;  // guards lost_ (set on the client's callback thread)
    std::condition_variable lost_cv_;
    std::optional<Error> lost_;
};

}  // namespace

int run_script(const ScriptRequest& request, Client& client, std::ostream& out, std::ostream& err) {
    return ScriptRun(request, client, out, err).run();
}

}  // namespace chat::cli
