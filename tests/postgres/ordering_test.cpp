// The out-of-order commit race between nodes, provoked on purpose.
//
// Ids come from one sequence shared by every node. Were a node to take an id and commit without
// holding the recipient's row lock across both, two writers to one recipient could commit in the
// other order than they took ids: B commits id 11 while A still holds id 10. A client fetching
// then sees 11, acks up_to 11, and that ack deletes 10 once A commits it, a message the client
// never saw. PostgresStore locks the recipients' rows first and takes ids only then, so the row
// lock covers the whole span from nextval to COMMIT and a recipient's ids become visible in
// increasing order.
//
// The first test holds node A inside its transaction (id taken, before COMMIT) while node B
// appends to the same recipient and node C fetches. A store without the row lock fails it: B
// commits at once, C sees B's message and not A's lower one, and the ack up_to B's id removes
// A's message when it lands. A store that takes ids *before* locking passes that interleaving
// by luck (B takes its id after A's and then waits for A's lock), so the second test makes the
// other interleaving happen: another transaction holds the row while A's writer starts; A must
// wait for the row without having taken an id. There, a store taking ids before locking gets an
// id below the one the lock holder commits first, and fails the same checks. (Both failures
// were checked by reordering PostgresStore's write transaction that way.)
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "chat/postgres_store.hpp"
#include "pg_test_util.hpp"

using chat::AccountId;
using chat::Message;
using chat::MessageId;
using chat::PostgresStore;
using chat::Result;
using chat::test::append_wait;
using chat::test::fresh_database;
using chat::test::kPgWait;
using chat::test::node_options;
using chat::test::RawConnection;

namespace {

// Holds the first write transaction of a node, once armed, at its before_commit hook until
// released. Destroyed before the stores it holds (declare it after them): it releases.
class CommitGate {
   public:
    CommitGate() : released_(release_.get_future().share()) {}
    ~CommitGate() { release(); }
    CommitGate(const CommitGate&) = delete;
    CommitGate& operator=(const CommitGate&) = delete;

    std::function<void()> hook() {
        return [this] {
            if (!armed_.exchange(false)) return;
            entered_.set_value();
            released_.wait_for(kPgWait);
        };
    }
    void arm() { armed_ = true; }
    bool wait_entered() { return entered_future_.wait_for(kPgWait) == std::future_status::ready; }
    void release() {
        if (!is_released_) release_.set_value();
        is_released_ = true;
    }

   private:
    std::atomic<bool> armed_{false};
    std::promise<void> entered_;
    std::future<void> entered_future_ = entered_.get_future();
    std::promise<void> release_;
    std::shared_future<void> released_;
    bool is_released_ = false;
};

struct PendingAppend {
    std::shared_ptr<std::promise<Result<Message>>> promise =
        std::make_shared<std::promise<Result<Message>>>();
    std::future<Result<Message>> future = promise->get_future();

    void start(chat::Store& store, AccountId recipient, std::string body) {
        store.append_message(chat::NewMessage{recipient, "s", "r", std::move(body)},
                             [p = promise](Result<Message> r) { p->set_value(std::move(r)); });
    }
    bool ready() const {
        return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    }
    Message get() {
        REQUIRE(future.wait_for(kPgWait) == std::future_status::ready);
        auto r = future.get();
        REQUIRE(r.ok());
        return *r;
    }
};

std::vector<MessageId> queued_ids(chat::Store& store, AccountId recipient) {
    auto all = store.fetch(recipient, 1000);
    REQUIRE(all.ok());
    std::vector<MessageId> ids;
    for (const Message& m : all->messages) ids.push_back(m.id);
    return ids;
}

// What a client does with the page it fetched while writes were in flight, checked: nothing
// that commits later has an id below what the page showed, and acking up to the page's highest
// id removes nothing the page did not show.
void check_ack_after(chat::Store& node, AccountId recipient, const std::vector<MessageId>& seen,
                     const std::vector<Message>& written) {
    const std::set<MessageId> shown(seen.begin(), seen.end());
    const MessageId highest = seen.empty() ? 0 : *shown.rbegin();
    for (const Message& m : written) {
        if (shown.contains(m.id)) continue;
        INFO("message " << m.id << " (" << m.body << ") committed after a page up to " << highest);
        CHECK(m.id > highest);
    }
    if (!seen.empty()) REQUIRE(node.ack(recipient, {}, highest).ok());
    const auto left = queued_ids(node, recipient);
    for (const Message& m : written) {
        if (shown.contains(m.id)) continue;
        INFO("message " << m.id << " (" << m.body << ") was not in the page acked up to "
                        << highest);
        CHECK(std::find(left.begin(), left.end(), m.id) != left.end());
    }
}

}  // namespace

TEST_CASE("postgres nodes commit a recipient's messages in id order", "[postgres][ordering]") {
    const std::string url = fresh_database();
    CommitGate gate_holder;  // declared first, destroyed last: only owns the promises
    auto options_a = node_options(url, "a");
    options_a.before_commit = gate_holder.hook();
    PostgresStore a(options_a);
    PostgresStore b(node_options(url, "b"));
    PostgresStore c(node_options(url, "c"));
    struct Release {  // releases A before the stores are destroyed, also when a check fails
        CommitGate& gate;
        ~Release() { gate.release(); }
    } release_on_exit{gate_holder};

    auto account = c.create_account("r", "hash");
    REQUIRE(account.ok());
    const AccountId r = account->id;
    auto earlier = append_wait(c, r, "earlier");
    REQUIRE(earlier);
    REQUIRE(earlier->ok());

    // A: inside its transaction with its id taken, held before COMMIT.
    gate_holder.arm();
    PendingAppend from_a;
    from_a.start(a, r, "from a");
    REQUIRE(gate_holder.wait_entered());

    // B appends to the same recipient: it either commits (a store without the row lock) or
    // waits for A's row lock. Either way, C fetches only once B got that far.
    PendingAppend from_b;
    from_b.start(b, r, "from b");
    RawConnection watch(url);
    REQUIRE(chat::test::poll_until(
        [&] { return from_b.ready() || chat::test::lock_waiters(watch) >= 1; }));
    auto page = c.fetch(r, 100);
    REQUIRE(page.ok());
    const bool b_committed_first = from_b.ready();
    gate_holder.release();

    const Message a_msg = from_a.get();
    const Message b_msg = from_b.get();
    std::vector<MessageId> seen;
    for (const Message& m : page->messages) seen.push_back(m.id);
    // Commit order is id order: had B committed while A was held, its id would have to be the
    // lower one.
    CHECK_FALSE(b_committed_first);
    if (b_committed_first) CHECK(b_msg.id < a_msg.id);
    CHECK(a_msg.id < b_msg.id);
    check_ack_after(c, r, seen, {**earlier, a_msg, b_msg});
}

TEST_CASE("postgres node waiting for a recipient's row has not taken an id yet",
          "[postgres][ordering]") {
    const std::string url = fresh_database();
    CommitGate gate_holder;
    auto options_a = node_options(url, "a");
    options_a.before_commit = gate_holder.hook();
    PostgresStore a(options_a);
    PostgresStore c(node_options(url, "c"));
    struct Release {
        CommitGate& gate;
        ~Release() { gate.release(); }
    } release_on_exit{gate_holder};

    auto account = c.create_account("r", "hash");
    REQUIRE(account.ok());
    const AccountId r = account->id;
    const std::string rid = std::to_string(r);

    // Another writer (a node following the same rule, by hand) holds the recipient's row.
    RawConnection holder(url);
    holder.exec("BEGIN");
    holder.exec("SELECT id FROM accounts WHERE id = " + rid + " FOR UPDATE");

    // A's writer starts its transaction and waits for the row.
    gate_holder.arm();
    PendingAppend from_a;
    from_a.start(a, r, "from a");
    RawConnection watch(url);
    REQUIRE(chat::test::poll_until([&] { return chat::test::lock_waiters(watch) >= 1; }));

    // The holder takes its id now, with the row locked, and commits first.
    const MessageId holder_id = static_cast<MessageId>(
        holder.number("INSERT INTO messages(id, recipient_id, sender, recipient, body, sent_at) "
                      "VALUES(nextval('message_ids'), " +
                      rid + ", 'holder', 'r', 'from holder', 0) RETURNING id"));
    holder.exec("COMMIT");

    // A got the row, wrote, and is held before its COMMIT; C fetches meanwhile.
    REQUIRE(gate_holder.wait_entered());
    auto page = c.fetch(r, 100);
    REQUIRE(page.ok());
    gate_holder.release();
    const Message a_msg = from_a.get();

    std::vector<MessageId> seen;
    for (const Message& m : page->messages) seen.push_back(m.id);
    CHECK(seen == std::vector<MessageId>{holder_id});
    CHECK(a_msg.id > holder_id);
    check_ack_after(c, r, seen, {a_msg});
}
