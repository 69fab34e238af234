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

TEST_CASE("sanitize_for_terminal shows bidi and zero-width characters as placeholders",
          "[format]") {
    // U+202E RIGHT-TO-LEFT OVERRIDE would show "evil\u202Etxt.exe" as "eviltxt.exe" reversed.
    const std::string shown = sanitize_for_terminal("evil\u202Etxt.exe");
    CHECK(shown == "evil<U+202E>txt.exe");
    CHECK(shown.find("\xE2\x80\xAE") == std::string::npos);
    CHECK(sanitize_for_terminal("\u202A\u202B\u202C\u202D") == "<U+202A><U+202B><U+202C><U+202D>");
    CHECK(sanitize_for_terminal("\u2066a\u2067b\u2068c\u2069") ==
          "<U+2066>a<U+2067>b<U+2068>c<U+2069>");
    CHECK(sanitize_for_terminal("\u200E\u200F\u061C") == "<U+200E><U+200F><U+061C>");
    CHECK(sanitize_for_terminal("ad\u200Bmin\u200C\u200D\u2060\u2064\uFEFF") ==
          "ad<U+200B>min<U+200C><U+200D><U+2060><U+2064><U+FEFF>");
    // Ordinary non-ASCII text and U+0085 (a C1 control) as before.
    CHECK(sanitize_for_terminal("caf\u00E9 \u05E9\u05DC\u05D5\u05DD") ==
          "caf\u00E9 \u05E9\u05DC\u05D5\u05DD");
    CHECK(sanitize_for_terminal("a\u0085b") == "a\uFFFDb");
}

TEST_CASE("sanitize_for_terminal treats line and paragraph separators as newlines", "[format]") {
    CHECK(sanitize_for_terminal("one\u2028two\u2029three", 2) == "one\n  two\n  three");
    // Text that must stay on one line shows every line break.
    CHECK(sanitize_line_for_terminal("bob\nalice\u2028x\u2029") == "bob^Jalice<U+2028>x<U+2029>");
    CHECK(sanitize_line_for_terminal("\x1b[31mbob\u202E") == "^[[31mbob<U+202E>");
}

TEST_CASE("json_string escapes what could act on a terminal or end a JavaScript line", "[format]") {
    CHECK(json_string("a\u2028b\u2029c") == "\"a\\u2028b\\u2029c\"");
    CHECK(json_string("\u202Eevil\u200B") == "\"\\u202eevil\\u200b\"");
    CHECK(json_string("\x7f\u0085\u009B") == "\"\\u007f\\u0085\\u009b\"");
    CHECK(json_string("\x1b[2J") == "\"\\u001b[2J\"");
    // Bytes that are not UTF-8 cannot be carried by JSON text.
    CHECK(json_string("a\xFF"
                      "b") == "\"a\uFFFDb\"");
}

TEST_CASE("format_message keeps a sender's name on one line", "[format]") {
    const Message m{1, "mallory\n[12:00] alice", "bob", "hi\u202E", 1764000000000};
    const std::string shown = format_message(m, true);
    CHECK(shown.find('\n') == std::string::npos);
    CHECK(shown.find("] mallory^J[12:00] alice: hi<U+202E>") != std::string::npos);
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
