// Unit tests of the list_accounts wildcard: `*`, `?`, `\` escapes, case folding, whole-name match.
#include "chat/account_pattern.hpp"

#include <catch2/catch.hpp>
#include <string>

using chat::AccountPattern;

TEST_CASE("empty pattern and star match everything") {
    CHECK(AccountPattern("").matches("alice"));
    CHECK(AccountPattern("*").matches("alice"));
    CHECK(AccountPattern("**").matches("a"));
    CHECK(AccountPattern("").literal_prefix().empty());
}

TEST_CASE("literal pattern matches the whole name only") {
    AccountPattern p("alice");
    CHECK(p.matches("alice"));
    CHECK_FALSE(p.matches("alice2"));
    CHECK_FALSE(p.matches("xalice"));
    CHECK_FALSE(p.matches("alic"));
}

TEST_CASE("matching ignores ASCII case on both sides") {
    CHECK(AccountPattern("AL*").matches("alice"));
    CHECK(AccountPattern("al*").matches("ALICE"));
    CHECK(AccountPattern("A?ICE").matches("alice"));
    CHECK(AccountPattern("Al*").literal_prefix() == "al");
}

TEST_CASE("question mark matches exactly one character") {
    AccountPattern p("b?b");
    CHECK(p.matches("bob"));
    CHECK(p.matches("b_b"));
    CHECK_FALSE(p.matches("bb"));
    CHECK_FALSE(p.matches("boob"));
}

TEST_CASE("star matches any run including empty and backtracks") {
    CHECK(AccountPattern("a*e").matches("ae"));
    CHECK(AccountPattern("a*e").matches("alice"));
    CHECK_FALSE(AccountPattern("a*e").matches("alicex"));
    CHECK(AccountPattern("*li*").matches("alice"));
    CHECK(AccountPattern("a*b*c").matches("axxbyyc"));
    CHECK(AccountPattern("a*bc").matches("abcbc"));
    CHECK_FALSE(AccountPattern("a*b*c").matches("axxbyy"));
    CHECK(AccountPattern("*?").matches("x"));
    CHECK_FALSE(AccountPattern("*?").matches(""));
}

TEST_CASE("backslash escapes the next character") {
    CHECK(AccountPattern("a\\*").matches("a*"));
    CHECK_FALSE(AccountPattern("a\\*").matches("ab"));
    CHECK(AccountPattern("a\\?").matches("a?"));
    CHECK_FALSE(AccountPattern("a\\?").matches("ab"));
    CHECK(AccountPattern("\\a\\b").matches("ab"));
    CHECK(AccountPattern("a\\\\b").matches("a\\b"));
    CHECK(AccountPattern("a\\*").literal_prefix() == "a*");
}

TEST_CASE("a trailing backslash is a literal backslash") {
    CHECK(AccountPattern("a\\").matches("a\\"));
    CHECK_FALSE(AccountPattern("a\\").matches("a"));
}

TEST_CASE("literal prefix stops at the first wildcard") {
    CHECK(AccountPattern("bob*x").literal_prefix() == "bob");
    CHECK(AccountPattern("?bob").literal_prefix().empty());
    CHECK(AccountPattern("bob").literal_prefix() == "bob");
}

TEST_CASE("pathological patterns finish quickly") {
    const std::string name(32, 'a');
    CHECK_FALSE(AccountPattern("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b").matches(name));
    CHECK(AccountPattern("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a").matches(name));
}
