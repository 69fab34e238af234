// Tests of how the client shows messages, JSON lines and errors.
#include "format.hpp"

#include <catch2/catch.hpp>

using namespace chat;
using namespace chat::cli;

TEST_CASE("json_string escapes quotes backslashes and control characters", "[format]") {
    CHECK(json_string("plain") == "\"plain\"");
    CHECK(json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(json_string("line1\nline2\ttab\r") == "\"line1\\nline2\\ttab\\r\"");
    CHECK(json_string(std::string("\x01\x1f", 2)) == "\"\\u0001\\u001f\"");
    CHECK(json_string("caf\xC3\xA9") == "\"caf\xC3\xA9\"");
}

TEST_CASE("message_json has every field of the wire message", "[format]") {
    const Message m{42, "alice", "bob", "hi \"there\"", 1764000000000};
    CHECK(message_json(m) ==
          R"({"id":42,"from":"alice","to":"bob","body":"hi \"there\"","sent_at":1764000000000})");
}

TEST_CASE("sanitize_for_terminal neutralises escape sequences", "[format]") {
    CHECK(sanitize_for_terminal("\x1b[2Jboom") == "^[[2Jboom");
    CHECK(sanitize_for_terminal("a\rb\x7f") == "a^Mb^?");
    CHECK(sanitize_for_terminal("\xC2\x9B"
                                "31m") ==
          "\xEF\xBF\xBD"
          "31m");
    CHECK(sanitize_for_terminal("one\ntwo", 3) == "one\n   two");
    CHECK(sanitize_for_terminal("\xFF") == "\xEF\xBF\xBD");
}

TEST_CASE("format_message shows time sender and body", "[format]") {
    const Message m{1, "alice", "bob", "hi\nthere", 1764000000000};
    const std::string shown = format_message(m, true);
    CHECK(shown.starts_with("[20"));
    CHECK(shown.find("] alice: hi\n") != std::string::npos);
    // The second line is indented under the body.
    const auto prefix = shown.find("hi\n");
    CHECK(shown.substr(prefix + 3).find_first_not_of(' ') == prefix);
    CHECK(format_time(1764000000000, true).size() == 16);
}

TEST_CASE("errors read as words plus the stable code", "[format]") {
    CHECK(explain(Error{Errc::no_such_user, "bob does not exist"}) ==
          "bob does not exist [no_such_user]");
    CHECK(explain(Error{Errc::bad_credentials, ""}) ==
          "wrong username or password [bad_credentials]");
    CHECK(script_error_line(Error{Errc::bad_credentials, "wrong username or password"}) ==
          "error: bad_credentials: wrong username or password");
    CHECK(plural(1, "message", "messages") == "1 message");
    CHECK(plural(3, "message", "messages") == "3 messages");
}
