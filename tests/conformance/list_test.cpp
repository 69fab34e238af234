// Conformance: list_accounts (the glob, case-insensitive order, limits and clamping, cursor
// pagination that stays stable while accounts are created).
#include <cctype>
#include <string>
#include <vector>

#include "suite.hpp"

namespace chat::conformance {
namespace {

// Creates `prefix + suffix` for every suffix; returns the full names in the given order.
std::vector<std::string> create_all(Client& c, const std::string& prefix,
                                    const std::vector<std::string>& suffixes) {
    std::vector<std::string> names;
    for (const auto& s : suffixes) names.push_back(create_named_user(c, prefix + s).name);
    return names;
}

std::vector<std::string> with_prefix(const std::string& prefix,
                                     const std::vector<std::string>& suffixes) {
    std::vector<std::string> out;
    for (const auto& s : suffixes) out.push_back(prefix + s);
    return out;
}

// Every page of `pattern` with `limit`; checks each page's size and that the walk ends.
std::vector<std::string> list_all_pages(Client& c, const std::string& pattern, std::uint64_t limit,
                                        std::size_t max_pages = 2000) {
    std::vector<std::string> all;
    std::string after;
    for (std::size_t page = 0; page < max_pages; ++page) {
        auto r = c.list_accounts(pattern, limit, after);
        INFO("page " << page);
        REQUIRE(outcome(r) == "ok");
        CHECK(r->accounts.size() <= limit);
        all.insert(all.end(), r->accounts.begin(), r->accounts.end());
        if (!r->next) return all;
        // An empty cursor could not be told from "from the start".
        REQUIRE_FALSE(r->next->empty());
        after = *r->next;
    }
    FAIL("list_accounts did not end within " << max_pages << " pages");
    return all;
}

// A logged-in lister named `prefix + "lister"` (so it sorts among the names under test).
TestClient lister(const TestServer& server, const std::string& prefix) {
    auto c = server.connect_client();
    User u = create_named_user(*c, prefix + "lister");
    REQUIRE(outcome(c->login(u.name, u.password)) == "ok");
    return c;
}

TEST_CASE("list_accounts: empty pattern and * list all ascending by lower-cased name",
          "[conformance][list_accounts]") {
    TestServer server(transport_under_test());
    const std::string p = test::unique_name("L") + "_";
    auto c = lister(server, p);
    create_all(*c, p, {"Bea", "alice", "a_b", "aB", "carol", "0zed", "Z-x", "z.y"});
    // Lower-cased order; raw byte order would put upper case first.
    const auto expected =
        with_prefix(p, {"0zed", "a_b", "aB", "alice", "Bea", "carol", "lister", "Z-x", "z.y"});
    for (const char* pattern : {"", "*", "**"}) {
        INFO("pattern '" << pattern << "'");
        auto r = c->list_accounts(pattern);
        REQUIRE(outcome(r) == "ok");
        CHECK(r->accounts == expected);
        CHECK_FALSE(r->next.has_value());
    }
}

TEST_CASE("list_accounts: * matches any run and ? exactly one character",
          "[conformance][list_accounts]") {
    TestServer server(transport_under_test());
    const std::string p = test::unique_name("G") + "_";
    auto c = lister(server, p);
    create_all(*c, p, {"a", "ab", "ac", "abc", "b", "bc", "xay"});
    auto list = [&](const std::string& pattern) {
        auto r = c->list_accounts(pattern);
        INFO("pattern " << pattern);
        REQUIRE(outcome(r) == "ok");
        CHECK_FALSE(r->next.has_value());
        return r->accounts;
    };
    CHECK(list(p + "a*") == with_prefix(p, {"a", "ab", "abc", "ac"}));
    CHECK(list(p + "a?") == with_prefix(p, {"ab", "ac"}));
    CHECK(list(p + "a??") == with_prefix(p, {"abc"}));
    CHECK(list(p + "?") == with_prefix(p, {"a", "b"}));
    CHECK(list(p + "*c") == with_prefix(p, {"abc", "ac", "bc"}));
    CHECK(list(p + "*a*") == with_prefix(p, {"a", "ab", "abc", "ac", "xay"}));
    CHECK(list("*" + p.substr(1) + "b?") == with_prefix(p, {"bc"}));
    // The whole name must match, not a part of it.
    CHECK(list(p + "a") == with_prefix(p, {"a"}));
    CHECK(list(p + "b") == with_prefix(p, {"b"}));
    CHECK(list(p.substr(1) + "a").empty());
    CHECK(list(p + "zzz*").empty());
}

TEST_CASE("list_accounts: a backslash escapes the next character", "[conformance][list_accounts]") {
    TestServer server(transport_under_test());
    const std::string p = test::unique_name("E") + "_";
    auto c = lister(server, p);
    create_all(*c, p, {"a", "ab", "abc"});
    auto list = [&](const std::string& pattern) {
        auto r = c->list_accounts(pattern);
        INFO("pattern " << pattern);
        REQUIRE(outcome(r) == "ok");
        return r->accounts;
    };
    // An escaped ordinary character is itself.
    CHECK(list(p + "\\a\\b") == with_prefix(p, {"ab"}));
    // Escaped wildcards are literal (and no username contains them).
    CHECK(list(p + "a*").size() == 3);
    CHECK(list(p + "a\\*").empty());
    CHECK(list(p + "a?").size() == 1);
    CHECK(list(p + "a\\?").empty());
    CHECK(list(p + "\\*").empty());
    // An escaped backslash is a literal backslash.
    CHECK(list(p + "a\\\\*").empty());
}

TEST_CASE("list_accounts: a trailing backslash is a literal backslash",
          "[conformance][list_accounts]") {
    TestServer server(transport_under_test());
    const std::string p = test::unique_name("T") + "_";
    auto c = lister(server, p);
    create_all(*c, p, {"ab"});
    for (const std::string& pattern :
         {p + "ab\\", p + "a*\\", std::string("\\"), std::string("*\\")}) {
        INFO("pattern " << pattern);
        auto r = c->list_accounts(pattern);
        REQUIRE(outcome(r) == "ok");
        CHECK(r->accounts.empty());
        CHECK_FALSE(r->next.has_value());
    }
}

TEST_CASE("list_accounts: matching ignores case and returns canonical names",
          "[conformance][list_accounts]") {
    TestServer server(transport_under_test());
    const std::string p = test::unique_name("c") + "_";
    auto c = lister(server, p);
    create_all(*c, p, {"MiXeD", "other"});
    std::string upper_p = p;
    for (auto& ch : upper_p) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    for (const std::string& pattern : {p + "mixed", upper_p + "MIXED", upper_p + "m?X*"}) {
        INFO("pattern " << pattern);
        auto r = c->list_accounts(pattern);
        REQUIRE(outcome(r) == "ok");
        CHECK(r->accounts == with_prefix(p, {"MiXeD"}));
    }
}

TEST_CASE("list_accounts: limit 0 means the default of 100", "[conformance][list_accounts]") {
    TestServer server(transport_under_test());
    const std::string p = test::unique_name("D") + "_";
    auto c = lister(server, p);
    std::vector<std::string> suffixes;
    for (int i = 0; i < 149; ++i) suffixes.push_back("n" + std::to_string(1000 + i));
    create_all(*c, p, suffixes);  // 150 accounts with the lister

    auto first = c->list_accounts("", 0);
    REQUIRE(outcome(first) == "ok");
    CHECK(first->accounts.size() == 100);
    REQUIRE(first->next.has_value());
    auto second = c->list_accounts("", 0, *first->next);
    REQUIRE(outcome(second) == "ok");
    CHECK(second->accounts.size() == 50);
    CHECK_FALSE(second->next.has_value());
    auto by_default = c->list_accounts();
    REQUIRE(outcome(by_default) == "ok");
    CHECK(by_default->accounts == first->accounts);
}

TEST_CASE("list_accounts: limit above 1000 is clamped to 1000", "[conformance][list_accounts]") {
    TestServer server(transport_under_test());
    const std::string p = test::unique_name("M") + "_";
    auto c = lister(server, p);
    for (int i = 0; i < 1000; ++i) create_named_user(*c, p + "n" + std::to_string(10000 + i));
    // 1001 accounts with the lister.
    auto first = c->list_accounts("*", 5000);
    REQUIRE(outcome(first) == "ok");
    CHECK(first->accounts.size() == 1000);
    REQUIRE(first->next.has_value());
    auto second = c->list_accounts("*", 5000, *first->next);
    REQUIRE(outcome(second) == "ok");
    CHECK(second->accounts == std::vector<std::string>{p + "n10999"});
    CHECK_FALSE(second->next.has_value());
}

TEST_CASE("list_accounts: pagination visits every match once in order",
          "[conformance][list_accounts]") {
    TestServer server(transport_under_test());
    const std::string p = test::unique_name("P") + "_";
    auto c = lister(server, p);
    std::vector<std::string> matching;
    for (int i = 0; i < 23; ++i) {
        matching.push_back(create_named_user(*c, p + "m" + std::to_string(100 + i)).name);
        create_named_user(*c, p + "n" + std::to_string(100 + i));  // interleaved non-matches
    }
    for (std::uint64_t limit : {1u, 4u, 7u, 22u, 23u, 24u, 100u}) {
        INFO("limit " << limit);
        CHECK(list_all_pages(*c, p + "m*", limit) == matching);
    }
    // All accounts, small pages.
    auto everything = list_all_pages(*c, "", 5);
    CHECK(everything.size() == 47);
}

TEST_CASE("list_accounts: next is null exactly when no more accounts match",
          "[conformance][list_accounts]") {
    TestServer server(transport_under_test());
    const std::string p = test::unique_name("N") + "_";
    auto c = lister(server, p);
    create_all(*c, p, {"m1", "m2", "x1", "x2", "x3"});  // non-matches sort after the matches

    auto exact = c->list_accounts(p + "m*", 2);
    REQUIRE(outcome(exact) == "ok");
    CHECK(exact->accounts == with_prefix(p, {"m1", "m2"}));
    CHECK_FALSE(exact->next.has_value());

    auto partial = c->list_accounts(p + "m*", 1);
    REQUIRE(outcome(partial) == "ok");
    CHECK(partial->accounts == with_prefix(p, {"m1"}));
    REQUIRE(partial->next.has_value());
    auto rest = c->list_accounts(p + "m*", 1, *partial->next);
    REQUIRE(outcome(rest) == "ok");
    CHECK(rest->accounts == with_prefix(p, {"m2"}));
    CHECK_FALSE(rest->next.has_value());

    // Exactly every account in one page.
    auto all = c->list_accounts("", 6);
    REQUIRE(outcome(all) == "ok");
    CHECK(all->accounts.size() == 6);
    CHECK_FALSE(all->next.has_value());

    auto none = c->list_accounts(p + "q*", 10);
    REQUIRE(outcome(none) == "ok");
    CHECK(none->accounts.empty());
    CHECK_FALSE(none->next.has_value());
}

TEST_CASE("list_accounts: pages stay stable while accounts are created",
          "[conformance][list_accounts]") {
    TestServer server(transport_under_test());
    const std::string p = test::unique_name("S") + "_";
    auto c = lister(server, p);
    create_all(*c, p, {"c", "e", "g", "i"});
    auto first = c->list_accounts(p + "?", 2);
    REQUIRE(outcome(first) == "ok");
    CHECK(first->accounts == with_prefix(p, {"c", "e"}));
    REQUIRE(first->next.has_value());

    // One before the cursor (never seen by this walk), some after it (seen in order).
    create_all(*c, p, {"a", "f", "k"});
    auto second = c->list_accounts(p + "?", 2, *first->next);
    REQUIRE(outcome(second) == "ok");
    CHECK(second->accounts == with_prefix(p, {"f", "g"}));
    REQUIRE(second->next.has_value());
    auto third = c->list_accounts(p + "?", 2, *second->next);
    REQUIRE(outcome(third) == "ok");
    CHECK(third->accounts == with_prefix(p, {"i", "k"}));
    CHECK_FALSE(third->next.has_value());
}

}  // namespace
}  // namespace chat::conformance
