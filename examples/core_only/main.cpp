// core_only: libchatcore embedded in a program with no networking at all. Drives a ChatService
// over an in-memory store through accounts, sends, pushes, fetch/ack, listing and deletion,
// prints each step and exits 0 only when every step behaved as docs/protocol.md says (so it doubles
// as a smoke test of an installed chatcore).
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "chat/chat_service.hpp"
#include "chat/error.hpp"
#include "chat/log.hpp"
#include "chat/memory_store.hpp"
#include "chat/sink.hpp"

namespace {

// Collects what the core pushes to a session. The core may call a sink from any thread, so the
// inbox is guarded; a real transport would enqueue onto its connection here instead.
// Thread use: deliver/logged_out from any thread; pushed() from any thread.
class InboxSink final : public chat::Sink {
   public:
    void deliver(const chat::Message& message) override {
        std::lock_guard lock(mutex_);
        messages_.push_back(message);
    }
    void logged_out(chat::LogoutReason reason) override {
        std::lock_guard lock(mutex_);
        logouts_.push_back(reason);
    }
    std::vector<chat::Message> pushed() const {
        std::lock_guard lock(mutex_);
        return messages_;
    }
    std::size_t logouts() const {
        std::lock_guard lock(mutex_);
        return logouts_.size();
    }

   private:
    mutable std::mutex mutex_;
    std::vector<chat::Message> messages_;
    std::vector<chat::LogoutReason> logouts_;
};

int g_failures = 0;

void check(bool ok, std::string_view what) {
    std::cout << (ok ? "  ok      " : "  FAILED  ") << what << '\n';
    if (!ok) ++g_failures;
}

template <class T>
bool failed_with(const chat::Result<T>& result, chat::Errc code) {
    return !result.ok() && result.code() == code;
}

std::string names(const std::vector<std::string>& list) {
    std::string out;
    for (const auto& name : list) out += (out.empty() ? "" : " ") + name;
    return "[" + out + "]";
}

}  // namespace

int main() {
    chat::log::set_level(chat::log::Level::warn);

    chat::MemoryStore store;
    chat::ServiceConfig config;
    // Hash passwords on the calling thread: this program has nothing else to do meanwhile.
    config.hash_threads = 0;
    chat::ChatService service(store, config);

    std::cout << "accounts\n";
    check(service.create_account_sync("alice", "alice-secret").ok(), "create alice");
    check(service.create_account_sync("bob", "bob-secret").ok(), "create bob");
    check(failed_with(service.create_account_sync("ALICE", "x"), chat::Errc::user_exists),
          "ALICE is taken (names are unique case-insensitively)");
    check(failed_with(service.create_account_sync("no spaces", "x"), chat::Errc::invalid_username),
          "a name with a space is invalid");
    check(failed_with(service.login_sync("alice", "wrong"), chat::Errc::bad_credentials),
          "login with a wrong password is refused");

    auto alice_inbox = std::make_shared<InboxSink>();
    auto alice = service.login_sync("Alice", "alice-secret", alice_inbox);
    check(alice.ok() && alice->username == "alice", "alice logs in (canonical name kept)");
    auto bob = service.login_sync("bob", "bob-secret");
    check(bob.ok(), "bob logs in");
    if (!alice.ok() || !bob.ok()) return EXIT_FAILURE;

    std::cout << "messages\n";
    auto sent = service.send_sync(bob->session, "ALICE", "hello alice");
    check(sent.ok() && sent->from == "bob" && sent->to == "alice" && sent->id > 0,
          "bob sends to ALICE: stored with canonical names and an id");
    auto pushed = alice_inbox->pushed();
    check(pushed.size() == 1 && pushed.front().body == "hello alice",
          "alice's live session got the push");
    check(
        failed_with(service.send_sync(bob->session, "carol", "anyone?"), chat::Errc::no_such_user),
        "sending to an unknown user fails");
    check(failed_with(service.send_sync(bob->session, "alice", ""), chat::Errc::invalid_message),
          "an empty body is refused");

    auto fetched = service.fetch(alice->session, 0);
    check(fetched.ok() && fetched->messages.size() == 1 && fetched->remaining == 0,
          "a pushed message stays queued until acknowledged");
    if (fetched.ok() && !fetched->messages.empty()) {
        const chat::MessageId id = fetched->messages.front().id;
        auto acked = service.ack(alice->session, {&id, 1}, std::nullopt);
        check(acked.ok() && *acked == 1, "alice acks it");
    }
    fetched = service.fetch(alice->session, 0);
    check(fetched.ok() && fetched->messages.empty(), "the queue is empty after the ack");

    for (const char* body : {"one", "two", "three"}) {
        check(service.send_sync(bob->session, "alice", body).ok(),
              std::string("bob sends \"") + body + "\"");
    }
    fetched = service.fetch(alice->session, 2);
    check(fetched.ok() && fetched->messages.size() == 2 && fetched->remaining == 1 &&
              fetched->messages[0].body == "one" && fetched->messages[1].body == "two",
          "fetch max=2 gives the two oldest and says one remains");
    if (fetched.ok() && fetched->messages.size() == 2) {
        auto acked = service.ack(alice->session, {}, fetched->messages[1].id);
        check(acked.ok() && *acked == 2, "ack up_to the second acks both");
    }
    fetched = service.fetch(alice->session, 0);
    check(fetched.ok() && fetched->messages.size() == 1 && fetched->messages[0].body == "three",
          "the third is still there");

    std::cout << "listing\n";
    check(service.create_account_sync("Bobby", "pw").ok(), "create Bobby");
    auto page = service.list_accounts(alice->session, "*", 0, "");
    check(page.ok() && names(page->accounts) == "[alice bob Bobby]" && !page->next,
          "list * gives " + (page.ok() ? names(page->accounts) : std::string("an error")));
    page = service.list_accounts(alice->session, "b?b*", 0, "");
    check(page.ok() && names(page->accounts) == "[bob Bobby]", "list b?b* matches bob and Bobby");
    page = service.list_accounts(alice->session, "", 2, "");
    check(page.ok() && page->accounts.size() == 2 && page->next.has_value(),
          "a page of 2 has a next cursor");
    if (page.ok() && page->next) {
        auto rest = service.list_accounts(alice->session, "", 2, *page->next);
        check(rest.ok() && names(rest->accounts) == "[Bobby]" && !rest->next,
              "the next page holds the rest");
    }

    std::cout << "deletion\n";
    auto bob_inbox = std::make_shared<InboxSink>();
    check(service.attach_sink(bob->session, bob_inbox).ok(), "bob attaches a sink");
    check(
        failed_with(service.delete_account_sync(bob->session, "nope"), chat::Errc::bad_credentials),
        "deleting with a wrong password is refused");
    check(service.delete_account_sync(bob->session, "bob-secret").ok(), "bob deletes his account");
    check(bob_inbox->logouts() == 1, "bob's session was told it is logged out");
    check(failed_with(service.fetch(bob->session, 0), chat::Errc::not_logged_in),
          "bob's session is gone");
    check(failed_with(service.send_sync(alice->session, "bob", "still there?"),
                      chat::Errc::no_such_user),
          "bob no longer receives messages");
    fetched = service.fetch(alice->session, 0);
    check(fetched.ok() && fetched->messages.size() == 1 && fetched->messages[0].from == "bob",
          "what bob sent before stays deliverable");

    check(service.logout(alice->session).ok(), "alice logs out");
    check(failed_with(service.logout(alice->session), chat::Errc::not_logged_in),
          "a second logout is not_logged_in");

    std::cout << (g_failures == 0 ? "all checks passed\n"
                                  : std::to_string(g_failures) + " check(s) failed\n");
    return g_failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
