// The Store contract: one suite every Store implementation must pass. Included by one test file
// per executable after it defines its fixtures, each a type whose make() returns a fresh, empty
// store (every call of make() in one fixture opens the same data), and lists them:
//   #define CHAT_STORE_CONTRACT_FIXTURES MemoryFixture, SqliteFixture
//   #include "store_contract.hpp"
#pragma once

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "chat/store.hpp"

#ifndef CHAT_STORE_CONTRACT_FIXTURES
#error "define CHAT_STORE_CONTRACT_FIXTURES (the fixture types) before including store_contract.hpp"
#endif

namespace {

using chat::AccountId;
using chat::Errc;
using chat::Message;
using chat::MessageId;
using chat::Result;
using chat::Store;

constexpr auto kWait = std::chrono::seconds(30);

// Appends and waits for `done` (which may run on another thread).
inline Result<Message> append_sync(Store& store, AccountId recipient, std::string from,
                                   std::string to, std::string body) {
    auto promise = std::make_shared<std::promise<Result<Message>>>();
    auto future = promise->get_future();
    store.append_message(
        chat::NewMessage{recipient, std::move(from), std::move(to), std::move(body)},
        [promise](Result<Message> r) { promise->set_value(std::move(r)); });
    if (future.wait_for(kWait) != std::future_status::ready) {
        FAIL("append did not complete in time");
    }
    return future.get();
}

// ack_async, waited for (its `done` may run on another thread).
inline Result<std::uint64_t> ack_async_sync(Store& store, AccountId recipient,
                                            std::vector<MessageId> ids,
                                            std::optional<MessageId> up_to) {
    auto promise = std::make_shared<std::promise<Result<std::uint64_t>>>();
    auto future = promise->get_future();
    store.ack_async(recipient, std::move(ids), up_to,
                    [promise](Result<std::uint64_t> r) { promise->set_value(std::move(r)); });
    if (future.wait_for(kWait) != std::future_status::ready) FAIL("ack did not complete in time");
    return future.get();
}

inline AccountId make_account(Store& store, const std::string& name) {
    auto r = store.create_account(name, "hash-of-" + name);
    REQUIRE(r.ok());
    return r->id;
}

inline std::vector<MessageId> ids_of(const std::vector<Message>& messages) {
    std::vector<MessageId> ids;
    for (const auto& m : messages) ids.push_back(m.id);
    return ids;
}

inline std::vector<std::string> list(Store& store, std::string_view after, std::string_view prefix,
                                     std::size_t limit,
                                     const std::function<bool(std::string_view)>& match = {}) {
    std::function<bool(std::string_view)> accept_all = [](std::string_view) { return true; };
    auto r = store.list_accounts(after, prefix, match ? match : accept_all, limit);
    REQUIRE(r.ok());
    return *r;
}

inline std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace
TEMPLATE_TEST_CASE("store creates and finds accounts case-insensitively", "[store]",
                   CHAT_STORE_CONTRACT_FIXTURES) {
    TestType fixture;
    auto store = fixture.make();

    auto alice = store->create_account("Alice", "h1");
    REQUIRE(alice.ok());
    CHECK(alice->id > 0);
    CHECK(alice->name == "Alice");
    CHECK(alice->password_hash == "h1");

    auto found = store->find_account("alice");
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    CHECK((*found)->id == alice->id);
    CHECK((*found)->name == "Alice");
    CHECK((*found)->password_hash == "h1");

    auto missing = store->find_account("bob");
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());

    auto dup = store->create_account("ALICE", "h2");
    REQUIRE_FALSE(dup.ok());
    CHECK(dup.code() == Errc::user_exists);
    // The original is untouched by the failed attempt.
    CHECK((*store->find_account("alice"))->password_hash == "h1");

    auto bob = store->create_account("bob", "h3");
    REQUIRE(bob.ok());
    CHECK(bob->id != alice->id);
}

TEMPLATE_TEST_CASE("store finds a send's recipient by lower-cased name, with its canonical name",
                   "[store]", CHAT_STORE_CONTRACT_FIXTURES) {
    TestType fixture;
    auto store = fixture.make();
    auto carol = store->create_account("Carol", "hash-of-carol");
    REQUIRE(carol.ok());

    // Twice: a store that caches answers the second from its cache.
    for (int round = 0; round < 2; ++round) {
        auto found = store->find_recipient("carol");
        REQUIRE(found.ok());
        REQUIRE(found->has_value());
        CHECK((*found)->id == carol->id);
        CHECK((*found)->name == "Carol");
    }
    // After a login's lookup too, and the login still sees the hash.
    auto login = store->find_account("carol");
    REQUIRE(login.ok());
    CHECK((*login)->password_hash == "hash-of-carol");
    auto again = store->find_recipient("carol");
    REQUIRE(again.ok());
    REQUIRE(again->has_value());
    CHECK((*again)->id == carol->id);

    auto missing = store->find_recipient("dave");
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());
}

TEMPLATE_TEST_CASE("store assigns increasing ids and sent_at on append", "[store]",
                   CHAT_STORE_CONTRACT_FIXTURES) {
    TestType fixture;
    auto store = fixture.make();
    const AccountId bob = make_account(*store, "Bob");
    auto first_next = store->next_message_id();
    REQUIRE(first_next.ok());

    const std::int64_t before = now_ms();
    MessageId last = 0;
    for (int i = 0; i < 5; ++i) {
        auto r = append_sync(*store, bob, "alice", "Bob", "msg " + std::to_string(i));
        REQUIRE(r.ok());
        CHECK(r->id > last);
        CHECK(r->id >= *first_next);
        CHECK(r->from == "alice");
        CHECK(r->to == "Bob");
        CHECK(r->body == "msg " + std::to_string(i));
        CHECK(r->sent_at >= before);
        CHECK(r->sent_at <= now_ms());
        last = r->id;
    }
    auto next = store->next_message_id();
    REQUIRE(next.ok());
    CHECK(*next > last);
    CHECK(*store->count_queued(bob) == 5u);
}

TEMPLATE_TEST_CASE("store keeps every byte of a body, NUL and multi-byte UTF-8 included", "[store]",
                   CHAT_STORE_CONTRACT_FIXTURES) {
    TestType fixture;
    auto store = fixture.make();
    const AccountId bob = make_account(*store, "bob");
    const std::string body = std::string("a\0b", 3) + "\xc3\xa9\xe2\x82\xac" + std::string(1, '\0');
    auto r = append_sync(*store, bob, "alice", "bob", body);
    REQUIRE(r.ok());
    CHECK(r->body == body);
    auto page = store->fetch(bob, 10);
    REQUIRE(page.ok());
    REQUIRE(page->messages.size() == 1);
    CHECK(page->messages[0].body == body);
}

TEMPLATE_TEST_CASE("store fetch returns oldest first with remaining", "[store]",
                   CHAT_STORE_CONTRACT_FIXTURES) {
    TestType fixture;
    auto store = fixture.make();
    const AccountId bob = make_account(*store, "bob");
    std::vector<Message> sent;
    for (int i = 0; i < 7; ++i) {
        auto r = append_sync(*store, bob, "alice", "bob", "m" + std::to_string(i));
        REQUIRE(r.ok());
        sent.push_back(*r);
    }

    auto page = store->fetch(bob, 3);
    REQUIRE(page.ok());
    REQUIRE(page->messages.size() == 3);
    CHECK(page->remaining == 4);
    for (std::size_t i = 0; i < 3; ++i) CHECK(page->messages[i] == sent[i]);

    // Fetch does not consume.
    auto again = store->fetch(bob, 100);
    REQUIRE(again.ok());
    CHECK(again->messages == sent);
    CHECK(again->remaining == 0);

    auto none = store->fetch(bob, 0);
    REQUIRE(none.ok());
    CHECK(none->messages.empty());
    CHECK(none->remaining == 7);

    const AccountId carol = make_account(*store, "carol");
    auto empty = store->fetch(carol, 10);
    REQUIRE(empty.ok());
    CHECK(empty->messages.empty());
    CHECK(empty->remaining == 0);
}

TEMPLATE_TEST_CASE("store ack by ids and up_to counts only removed messages", "[store]",
                   CHAT_STORE_CONTRACT_FIXTURES) {
    TestType fixture;
    auto store = fixture.make();
    const AccountId bob = make_account(*store, "bob");
    const AccountId carol = make_account(*store, "carol");
    std::vector<MessageId> ids;
    std::vector<MessageId> carol_ids;
    for (int i = 0; i < 10; ++i) {
        auto r = append_sync(*store, bob, "alice", "bob", "x");
        REQUIRE(r.ok());
        ids.push_back(r->id);
        auto c = append_sync(*store, carol, "alice", "carol", "y");
        REQUIRE(c.ok());
        carol_ids.push_back(c->id);
    }
    // Every case twice: through ack and through ack_async (which may commit later, elsewhere).
    const bool use_async = GENERATE(false, true);
    auto ack = [&](AccountId who, std::vector<MessageId> acked, std::optional<MessageId> up_to) {
        return use_async ? ack_async_sync(*store, who, std::move(acked), up_to)
                         : store->ack(who, acked, up_to);
    };

    SECTION("by ids") {
        std::vector<MessageId> some = {ids[1], ids[4], ids[4], ids[9]};
        auto r = ack(bob, some, std::nullopt);
        REQUIRE(r.ok());
        CHECK(*r == 3);
        CHECK(*store->count_queued(bob) == 7);
        auto left = store->fetch(bob, 100);
        REQUIRE(left.ok());
        CHECK(ids_of(left->messages) ==
              std::vector<MessageId>{ids[0], ids[2], ids[3], ids[5], ids[6], ids[7], ids[8]});
        // Acking the same ids again removes nothing.
        CHECK(*ack(bob, some, std::nullopt) == 0);
    }
    SECTION("by up_to") {
        auto r = ack(bob, {}, ids[3]);
        REQUIRE(r.ok());
        CHECK(*r == 4);
        auto left = store->fetch(bob, 100);
        REQUIRE(left.ok());
        REQUIRE(left->messages.size() == 6);
        CHECK(left->messages.front().id == ids[4]);
        // up_to past everything acks the rest.
        CHECK(*ack(bob, {}, ids[9] + 1000) == 6);
        CHECK(*store->count_queued(bob) == 0);
    }
    SECTION("up_to at or above 2^63 acks the whole queue") {
        const MessageId huge = GENERATE(MessageId{1} << 63, ~MessageId{0});
        CHECK(*ack(bob, {huge, huge - 1}, huge) == 10);
        CHECK(*store->count_queued(bob) == 0);
        CHECK(*store->count_queued(carol) == 10);
    }
    SECTION("union of ids and up_to") {
        std::vector<MessageId> some = {ids[1], ids[6], ids[8]};  // ids[1] is also <= up_to
        auto r = ack(bob, some, ids[2]);
        REQUIRE(r.ok());
        CHECK(*r == 5);  // ids[0..2] + ids[6] + ids[8]
        auto left = store->fetch(bob, 100);
        REQUIRE(left.ok());
        CHECK(ids_of(left->messages) ==
              std::vector<MessageId>{ids[3], ids[4], ids[5], ids[7], ids[9]});
    }
    SECTION("ids not in the queue are not counted") {
        std::vector<MessageId> some = {ids[9] + 5000, 0};
        CHECK(*ack(bob, some, std::nullopt) == 0);
        CHECK(*store->count_queued(bob) == 10);
    }
    SECTION("another recipient's ids are not acked") {
        auto r = ack(bob, carol_ids, std::nullopt);
        REQUIRE(r.ok());
        CHECK(*r == 0);
        CHECK(*store->count_queued(carol) == 10);
        // up_to only reaches the caller's own queue.
        CHECK(*ack(bob, {}, carol_ids.back()) == 10);
        CHECK(*store->count_queued(carol) == 10);
        CHECK(*store->count_queued(bob) == 0);
    }
}

TEMPLATE_TEST_CASE("store queue lengths stay exact through appends, acks and deletes", "[store]",
                   CHAT_STORE_CONTRACT_FIXTURES) {
    TestType fixture;
    auto store = fixture.make();
    const AccountId bob = make_account(*store, "bob");
    const AccountId carol = make_account(*store, "carol");
    // What fetch really returns, the truth every count must agree with.
    auto really_queued = [&](AccountId who) {
        auto all = store->fetch(who, 100000);
        REQUIRE(all.ok());
        CHECK(all->remaining == 0);
        return static_cast<std::uint64_t>(all->messages.size());
    };
    auto check_counts = [&] {
        CHECK(*store->count_queued(bob) == really_queued(bob));
        CHECK(*store->count_queued(carol) == really_queued(carol));
        auto page = store->fetch(bob, 3);
        REQUIRE(page.ok());
        CHECK(page->messages.size() + page->remaining == really_queued(bob));
    };
    std::mt19937 random(7);  // fixed: the same sequence every run
    std::vector<MessageId> bobs;
    for (int step = 0; step < 200; ++step) {
        switch (random() % 5) {
            case 0:
            case 1: {
                auto m = append_sync(*store, bob, "alice", "bob", "x");
                REQUIRE(m.ok());
                bobs.push_back(m->id);
                break;
            }
            case 2:
                REQUIRE(append_sync(*store, carol, "alice", "carol", "y").ok());
                break;
            case 3:
                if (!bobs.empty()) {
                    std::vector<MessageId> some = {bobs[random() % bobs.size()]};
                    REQUIRE(store->ack(bob, some, std::nullopt).ok());
                }
                break;
            default:
                if (!bobs.empty()) {
                    REQUIRE(ack_async_sync(*store, bob, {}, bobs[random() % bobs.size()]).ok());
                }
                break;
        }
        if (step % 20 == 0) check_counts();
    }
    check_counts();
    REQUIRE(*store->delete_account(carol));
    CHECK(*store->count_queued(carol) == 0);
    check_counts();
}

TEMPLATE_TEST_CASE("store delete_account removes only the account's own queue", "[store]",
                   CHAT_STORE_CONTRACT_FIXTURES) {
    TestType fixture;
    auto store = fixture.make();
    const AccountId alice = make_account(*store, "Alice");
    const AccountId bob = make_account(*store, "bob");

    REQUIRE(append_sync(*store, alice, "bob", "Alice", "to alice 1").ok());
    REQUIRE(append_sync(*store, alice, "bob", "Alice", "to alice 2").ok());
    auto sent_by_alice = append_sync(*store, bob, "Alice", "bob", "from alice");
    REQUIRE(sent_by_alice.ok());

    auto del = store->delete_account(alice);
    REQUIRE(del.ok());
    CHECK(*del);
    CHECK_FALSE(store->find_account("alice")->has_value());
    CHECK(*store->count_queued(alice) == 0);

    // What Alice sent stays queued for Bob, with her name.
    auto bobs = store->fetch(bob, 10);
    REQUIRE(bobs.ok());
    REQUIRE(bobs->messages.size() == 1);
    CHECK(bobs->messages[0] == *sent_by_alice);
    CHECK(bobs->messages[0].from == "Alice");

    auto again = store->delete_account(alice);
    REQUIRE(again.ok());
    CHECK_FALSE(*again);

    // Appending to the deleted account fails and stores nothing.
    auto late = append_sync(*store, alice, "bob", "Alice", "too late");
    REQUIRE_FALSE(late.ok());
    CHECK(late.code() == Errc::no_such_user);
    CHECK(*store->count_queued(alice) == 0);

    // The name is free again, as a new account with a fresh id and an empty queue.
    auto reborn = store->create_account("ALICE", "new-hash");
    REQUIRE(reborn.ok());
    CHECK(reborn->id != alice);
    CHECK(reborn->name == "ALICE");
    CHECK(*store->count_queued(reborn->id) == 0);
    CHECK((*store->find_account("alice"))->password_hash == "new-hash");
}

TEMPLATE_TEST_CASE("store appending to an unknown recipient fails", "[store]",
                   CHAT_STORE_CONTRACT_FIXTURES) {
    TestType fixture;
    auto store = fixture.make();
    auto r = append_sync(*store, 424242, "alice", "ghost", "hello");
    REQUIRE_FALSE(r.ok());
    CHECK(r.code() == Errc::no_such_user);
}

TEMPLATE_TEST_CASE("store list_accounts orders and filters", "[store]",
                   CHAT_STORE_CONTRACT_FIXTURES) {
    TestType fixture;
    auto store = fixture.make();
    for (const char* name : {"bob", "Alice", "alfred", "ALBERT", "carol", "al", "dave", "Alma"}) {
        make_account(*store, name);
    }

    SECTION("all in lower-cased order with canonical names") {
        CHECK(list(*store, "", "", 100) == std::vector<std::string>{"al", "ALBERT", "alfred",
                                                                    "Alice", "Alma", "bob", "carol",
                                                                    "dave"});
    }
    SECTION("limit plus one") {
        CHECK(list(*store, "", "", 3) ==
              std::vector<std::string>{"al", "ALBERT", "alfred", "Alice"});
        CHECK(list(*store, "", "", 0) == std::vector<std::string>{"al"});
    }
    SECTION("after is exclusive") {
        CHECK(list(*store, "alice", "", 2) == std::vector<std::string>{"Alma", "bob", "carol"});
        CHECK(list(*store, "alz", "", 100) == std::vector<std::string>{"bob", "carol", "dave"});
        CHECK(list(*store, "dave", "", 100).empty());
        CHECK(list(*store, "zzz", "", 100).empty());
    }
    SECTION("prefix") {
        CHECK(list(*store, "", "al", 100) ==
              std::vector<std::string>{"al", "ALBERT", "alfred", "Alice", "Alma"});
        CHECK(list(*store, "", "alf", 100) == std::vector<std::string>{"alfred"});
        CHECK(list(*store, "", "x", 100).empty());
        CHECK(list(*store, "alfred", "al", 100) == std::vector<std::string>{"Alice", "Alma"});
        // A cursor before the prefix range starts at the prefix.
        CHECK(list(*store, "a", "c", 100) == std::vector<std::string>{"carol"});
        // A cursor past the prefix range yields nothing.
        CHECK(list(*store, "b", "al", 100).empty());
    }
    SECTION("match sees canonical names and filters") {
        std::vector<std::string> seen;
        auto match = [&](std::string_view name) {
            seen.emplace_back(name);
            return name.size() == 5;
        };
        CHECK(list(*store, "", "", 100, match) == std::vector<std::string>{"Alice", "carol"});
        CHECK(std::find(seen.begin(), seen.end(), "ALBERT") != seen.end());
        // With a limit, matching stops once limit + 1 names are found.
        seen.clear();
        CHECK(list(*store, "", "", 0, match) == std::vector<std::string>{"Alice"});
        CHECK(seen.back() == "Alice");
    }
}

TEMPLATE_TEST_CASE("store list_accounts walks many accounts in pages", "[store]",
                   CHAT_STORE_CONTRACT_FIXTURES) {
    TestType fixture;
    auto store = fixture.make();
    // More than one internal scan chunk, few matches: the scan must cross chunk boundaries.
    std::vector<std::string> expected;
    for (int i = 0; i < 1200; ++i) {
        char name[16];
        std::snprintf(name, sizeof name, "u%04d", i);
        make_account(*store, name);
        if (i % 97 == 0) expected.emplace_back(name);
    }
    auto match = [](std::string_view name) {
        return std::stoi(std::string(name.substr(1))) % 97 == 0;
    };
    std::vector<std::string> all;
    std::string after;
    for (int page = 0; page < 100; ++page) {
        auto got = list(*store, after, "u", 4, match);
        const bool more = got.size() > 4;
        if (more) got.pop_back();
        all.insert(all.end(), got.begin(), got.end());
        if (!more) break;
        after = got.back();
    }
    CHECK(all == expected);
}

TEMPLATE_TEST_CASE("store flush waits for every accepted append", "[store]",
                   CHAT_STORE_CONTRACT_FIXTURES) {
    TestType fixture;
    auto store = fixture.make();
    const AccountId bob = make_account(*store, "bob");
    std::atomic<int> done{0};
    for (int i = 0; i < 200; ++i) {
        store->append_message(chat::NewMessage{bob, "alice", "bob", "m"},
                              [&done](Result<Message> r) {
                                  if (r.ok()) ++done;
                              });
    }
    store->flush();
    CHECK(done.load() == 200);
    CHECK(*store->count_queued(bob) == 200);
}
