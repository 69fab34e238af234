// Tests of the line editor's pieces: editing, history, key decoding and rendering.
#include "line_editor.hpp"

#include <catch2/catch.hpp>

#include "utf8.hpp"

using namespace chat::cli;

TEST_CASE("EditLine inserts and erases around the cursor", "[line_editor]") {
    EditLine line;
    line.insert("helo");
    line.move_left();
    line.insert("l");
    CHECK(line.text() == "hello");
    CHECK(line.cursor() == 4);
    line.move_home();
    CHECK_FALSE(line.backspace());
    CHECK(line.erase_forward());
    CHECK(line.text() == "ello");
    line.move_end();
    CHECK(line.backspace());
    CHECK(line.text() == "ell");
    CHECK_FALSE(line.erase_forward());
}

TEST_CASE("EditLine moves over whole UTF-8 code points", "[line_editor]") {
    EditLine line;
    line.insert("a\xC3\xA9z");  // a é z
    CHECK(line.move_left());
    CHECK(line.move_left());
    CHECK(line.cursor() == 1);
    CHECK(line.move_right());
    CHECK(line.cursor() == 3);
    CHECK(line.backspace());
    CHECK(line.text() == "az");
    line.set("\xE2\x82\xAC");  // €
    CHECK(line.backspace());
    CHECK(line.text().empty());
}

TEST_CASE("EditLine kills to start and end and words", "[line_editor]") {
    EditLine line;
    line.insert("send bob hello there");
    line.kill_word_back();
    CHECK(line.text() == "send bob hello ");
    line.move_word_left();
    CHECK(line.cursor() == 9);
    line.kill_to_end();
    CHECK(line.text() == "send bob ");
    line.move_word_left();
    line.kill_to_start();
    CHECK(line.text() == "bob ");
    CHECK(line.cursor() == 0);
    line.move_word_right();
    CHECK(line.cursor() == 3);
}

TEST_CASE("LineHistory walks back and forth and keeps the draft", "[line_editor]") {
    LineHistory history(3);
    history.add("one");
    history.add("two");
    history.add("two");
    history.add("");
    CHECK(history.size() == 2);
    CHECK(history.older("draft") == std::optional<std::string>("two"));
    CHECK(history.older("two") == std::optional<std::string>("one"));
    CHECK_FALSE(history.older("one").has_value());
    CHECK(history.newer() == std::optional<std::string>("two"));
    CHECK(history.newer() == std::optional<std::string>("draft"));
    CHECK_FALSE(history.newer().has_value());
    history.add("three");
    history.add("four");
    CHECK(history.size() == 3);
}

namespace {

std::vector<KeyKind> decode_all(std::string input, bool final = false) {
    KeyDecoder decoder;
    std::vector<KeyKind> keys;
    while (auto key = decoder.next(input, final)) keys.push_back(key->kind);
    return keys;
}

}  // namespace

TEST_CASE("KeyDecoder understands control keys and escape sequences", "[line_editor]") {
    using K = KeyKind;
    CHECK(decode_all("\x01\x05\x15\x0b\x17\x03\x04\x7f\x08\x0c") ==
          std::vector<K>{K::home, K::end, K::kill_to_start, K::kill_to_end, K::kill_word,
                         K::interrupt, K::eof_or_erase, K::backspace, K::backspace,
                         K::clear_screen});
    CHECK(decode_all("\x1b[A\x1b[B\x1b[C\x1b[D\x1b[H\x1b[F\x1b[3~\x1b[1~\x1b[4~") ==
          std::vector<K>{K::up, K::down, K::right, K::left, K::home, K::end, K::erase_forward,
                         K::home, K::end});
    CHECK(decode_all("\x1bOH\x1bOF\x1b[1;5C\x1b[1;5D") ==
          std::vector<K>{K::home, K::end, K::word_right, K::word_left});
    CHECK(decode_all("\r\n\n") == std::vector<K>{K::enter, K::ignored, K::enter});
}

TEST_CASE("KeyDecoder waits for the rest of a split sequence", "[line_editor]") {
    KeyDecoder decoder;
    std::string input = "\x1b[";
    CHECK_FALSE(decoder.next(input).has_value());
    input += "D";
    auto key = decoder.next(input);
    REQUIRE(key);
    CHECK(key->kind == KeyKind::left);
    CHECK(input.empty());

    input = "\xE2\x82";  // the first two bytes of €
    CHECK_FALSE(decoder.next(input).has_value());
    input += "\xAC";
    key = decoder.next(input);
    REQUIRE(key);
    CHECK(key->kind == KeyKind::text);
    CHECK(key->text == "\xE2\x82\xAC");

    input = "\x1b";
    CHECK_FALSE(decoder.next(input).has_value());
    key = decoder.next(input, true);
    REQUIRE(key);
    CHECK(key->kind == KeyKind::ignored);
    CHECK(input.empty());
}

TEST_CASE("render_line draws prompt and text and places the cursor", "[line_editor]") {
    CHECK(render_line("> ", "hello", 5, 80, false) == "\r> hello\x1b[K\r\x1b[7C");
    CHECK(render_line("> ", "hello", 0, 80, false) == "\r> hello\x1b[K\r\x1b[2C");
    CHECK(render_line("Password: ", "secret", 6, 80, true) == "\rPassword: \x1b[K");
}

TEST_CASE("render_line scrolls a long line so the cursor stays visible", "[line_editor]") {
    const std::string text = "abcdefghijklmnopqrstuvwxyz";
    // 20 columns: prompt 2, 17 for text, the last column stays free.
    const std::string at_end = render_line("> ", text, text.size(), 20, false);
    CHECK(at_end == "\r> jklmnopqrstuvwxyz\x1b[K\r\x1b[19C");
    const std::string at_start = render_line("> ", text, 0, 20, false);
    CHECK(at_start == "\r> abcdefghijklmnopq\x1b[K\r\x1b[2C");
}

TEST_CASE("display_width counts columns not bytes", "[line_editor]") {
    CHECK(display_width("abc") == 3);
    CHECK(display_width("\xC3\xA9t\xC3\xA9") == 3);
    std::size_t pos = 0;
    CHECK(decode_utf8("\xFF", pos) == kReplacementChar);
    CHECK(pos == 1);
}
