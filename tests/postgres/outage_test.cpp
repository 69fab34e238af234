// PostgreSQL going away under a running store: calls fail with Errc::internal (a send is never
// reported stored when it was not committed), the store comes back by itself once the server
// does, its listener reconnects and asks for a resync, and nothing acknowledged as stored is
// lost, also when the server restarts in the middle of a stream of appends. Each test runs its
// own server, since it stops it.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chat/postgres_store.hpp"
#include "pg_server.hpp"
#include "pg_test_util.hpp"

using chat::AccountId;
using chat::Errc;
using chat::MessageId;
using chat::PostgresStore;
using chat::test::append_wait;
using chat::test::EventRecorder;
using chat::test::kPgWait;
using chat::test::node_options;
using chat::test::PgServer;
using chat::test::poll_until;

namespace {

std::set<MessageId> queued_ids(chat::Store& store, AccountId recipient) {
    auto all = store.fetch(recipient, 1000000);
    REQUIRE(all.ok());
    std::set<MessageId> ids;
    for (const auto& m : all->messages) ids.insert(m.id);
    return ids;
}

}  // namespace

TEST_CASE("postgres store fails during an outage and recovers by itself", "[postgres][outage]") {
    PgServer pg;
    const std::string url = pg.create_database();
    EventRecorder events;
    PostgresStore store(node_options(url, "n"));
    store.set_events(&events);
    auto account = store.create_account("r", "hash");
    REQUIRE(account.ok());
    const AccountId r = account->id;
    auto kept = append_wait(store, r, "before the outage");
    REQUIRE(kept);
    REQUIRE(kept->ok());

    pg.stop();
    auto during = append_wait(store, r, "during the outage");
    REQUIRE(during);  // `done` ran, in time
    REQUIRE_FALSE(during->ok());
    CHECK(during->code() == Errc::internal);
    auto fetched = store.fetch(r, 10);
    REQUIRE_FALSE(fetched.ok());
    CHECK(fetched.code() == Errc::internal);
    CHECK(store.create_account("x", "hash").code() == Errc::internal);
    CHECK(store.count_queued(r).code() == Errc::internal);

    pg.start();
    REQUIRE(poll_until([&] { return store.fetch(r, 10).ok(); }));
    std::optional<chat::Message> after;
    REQUIRE(poll_until([&] {
        auto m = append_wait(store, r, "after the outage");
        if (m && m->ok()) after = **m;
        return after.has_value();
    }));
    // The listener lost its connection too: back, it asks for a resync.
    REQUIRE(events.wait_until([&] { return events.resyncs >= 1; }));

    const auto ids = queued_ids(store, r);
    CHECK(ids == std::set<MessageId>{(*kept)->id, after->id});
}

TEST_CASE("postgres store loses no acknowledged append across a server restart",
          "[postgres][outage]") {
    PgServer pg;
    const std::string url = pg.create_database();
    PostgresStore store(node_options(url, "n"));
    auto account = store.create_account("r", "hash");
    REQUIRE(account.ok());
    const AccountId r = account->id;

    std::atomic<bool> stop{false};
    std::atomic<int> ok_count{0};
    std::atomic<int> failures{0};
    std::atomic<int> timeouts{0};
    std::mutex mutex;
    std::vector<MessageId> stored;  // every id whose `done` said ok
    std::vector<std::thread> senders;
    for (int t = 0; t < 3; ++t) {
        senders.emplace_back([&, t] {
            for (int i = 0; !stop && i < 100000; ++i) {
                auto m = append_wait(store, r, "t" + std::to_string(t) + " " + std::to_string(i));
                if (!m) {
                    ++timeouts;
                    return;
                }
                if (m->ok()) {
                    std::lock_guard lock(mutex);
                    stored.push_back((*m)->id);
                    ++ok_count;
                } else {
                    ++failures;
                    // Pacing only, while the server is down: each failure returns at once.
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
            }
        });
    }
    const bool streaming = poll_until([&] { return ok_count >= 50; });
    const int at_restart = ok_count;
    if (streaming) pg.restart();
    const bool resumed = streaming && poll_until([&] { return ok_count >= at_restart + 50; });
    stop = true;
    for (auto& t : senders) t.join();
    REQUIRE(streaming);
    REQUIRE(resumed);
    CHECK(timeouts == 0);
    store.flush();

    REQUIRE(poll_until([&] { return store.fetch(r, 1).ok(); }));
    const auto queued = queued_ids(store, r);
    std::lock_guard lock(mutex);
    CHECK(std::set<MessageId>(stored.begin(), stored.end()).size() == stored.size());
    std::size_t missing = 0;
    for (MessageId id : stored) missing += queued.contains(id) ? 0 : 1;
    INFO(stored.size() << " appends acknowledged, " << failures << " failed");
    CHECK(missing == 0);
}
