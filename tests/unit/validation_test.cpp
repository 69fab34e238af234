// Unit tests of the domain validation rules: usernames, passwords, bodies, UTF-8.
#include "chat/validation.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "chat/error.hpp"
#include "chat/limits.hpp"

using namespace chat;

TEST_CASE("username length bounds are 1 to 32 bytes") {
    CHECK_FALSE(is_valid_username(""));
    CHECK(is_valid_username("a"));
    CHECK(is_valid_username(std::string(32, 'x')));
    CHECK_FALSE(is_valid_username(std::string(33, 'x')));
}

TEST_CASE("username accepts only A-Z a-z 0-9 underscore dot dash") {
    CHECK(is_valid_username("Alice_01.b-c"));
    CHECK_FALSE(is_valid_username("al ice"));
    CHECK_FALSE(is_valid_username("al@ice"));
    CHECK_FALSE(is_valid_username("al*"));
    CHECK_FALSE(is_valid_username("\xC3\xA9mile"));  // é: non-ASCII
    CHECK_FALSE(is_valid_username(std::string("a\0b", 3)));
}

TEST_CASE("password is 1 to 256 bytes of UTF-8") {
    CHECK_FALSE(is_valid_password(""));
    CHECK(is_valid_password("x"));
    CHECK(is_valid_password(std::string(256, 'p')));
    CHECK_FALSE(is_valid_password(std::string(257, 'p')));
    CHECK(is_valid_password("p\xC3\xA4ss w\xE2\x82\xACrd"));
    CHECK_FALSE(is_valid_password("bad\xFF"));
}

TEST_CASE("body is 1 to 16384 bytes of UTF-8") {
    CHECK_FALSE(is_valid_body(""));
    CHECK(is_valid_body("h"));
    CHECK(is_valid_body(std::string(Limits::kMaxBody, 'b')));
    CHECK_FALSE(is_valid_body(std::string(Limits::kMaxBody + 1, 'b')));
    CHECK(is_valid_body("line one\nline two\t\xF0\x9F\x98\x80"));
}

TEST_CASE("UTF-8 validation rejects malformed sequences") {
    CHECK(is_valid_utf8(""));
    CHECK(is_valid_utf8("plain"));
    CHECK(is_valid_utf8("\xC2\xA9"));                // ©
    CHECK(is_valid_utf8("\xE2\x82\xAC"));            // €
    CHECK(is_valid_utf8("\xF4\x8F\xBF\xBF"));        // U+10FFFF
    CHECK_FALSE(is_valid_utf8("\x80"));              // lone continuation
    CHECK_FALSE(is_valid_utf8("\xC2"));              // truncated
    CHECK_FALSE(is_valid_utf8("\xE2\x82"));          // truncated
    CHECK_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
    CHECK_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong
    CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate U+D800
    CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
    CHECK_FALSE(is_valid_utf8("\xFE"));
    CHECK_FALSE(is_valid_utf8("ok\xC2x"));  // bad continuation
}

TEST_CASE("lower-casing folds ASCII only") {
    CHECK(to_lower_ascii("AbC_9.-") == "abc_9.-");
    CHECK(to_lower_ascii("\xC3\x89") == "\xC3\x89");
}

TEST_CASE("page sizes clamp to default and maximum") {
    CHECK(clamp_page(0, 100, 1000) == 100);
    CHECK(clamp_page(1, 100, 1000) == 1);
    CHECK(clamp_page(1000, 100, 1000) == 1000);
    CHECK(clamp_page(1001, 100, 1000) == 1000);
    CHECK(clamp_page(UINT64_MAX, 100, 1000) == 1000);
}

TEST_CASE("error codes round-trip through their wire strings") {
    for (Errc c :
         {Errc::bad_request, Errc::unknown_op, Errc::unsupported_version, Errc::invalid_username,
          Errc::invalid_password, Errc::invalid_message, Errc::user_exists, Errc::no_such_user,
          Errc::bad_credentials, Errc::not_logged_in, Errc::already_logged_in,
          Errc::frame_too_large, Errc::rate_limited, Errc::server_busy, Errc::internal}) {
        auto back = errc_from_string(to_string(c));
        REQUIRE(back.has_value());
        CHECK(*back == c);
    }
    CHECK(to_string(Errc::no_such_user) == "no_such_user");
    CHECK_FALSE(errc_from_string("nope").has_value());
}

TEST_CASE("text that is not UTF-8 gets the error of its field's rule") {
    const std::string broken = "ab\xff";
    CHECK(invalid_utf8_code(TextField::username) == Errc::invalid_username);
    CHECK(invalid_utf8_code(TextField::password) == Errc::invalid_password);
    CHECK(invalid_utf8_code(TextField::recipient) == Errc::no_such_user);
    CHECK(invalid_utf8_code(TextField::body) == Errc::invalid_message);
    CHECK(invalid_utf8_code(TextField::pattern) == Errc::bad_request);
    CHECK(invalid_utf8_code(TextField::cursor) == Errc::bad_request);
    auto bad = check_utf8(TextField::body, broken);
    REQUIRE(bad.has_value());
    CHECK(bad->code == Errc::invalid_message);
    CHECK(bad->message == "the message is not valid UTF-8 text");
    CHECK_FALSE(check_utf8(TextField::body, "héllo").has_value());
    CHECK_FALSE(check_utf8(TextField::cursor, "").has_value());
}
