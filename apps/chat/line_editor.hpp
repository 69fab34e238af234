// The pieces of the client's small line editor that do not touch the terminal, so they can be
// tested alone: the edited text with its cursor, the history, the decoder that turns the bytes
// of a raw-mode terminal into keys, and the renderer that draws the line (scrolling it
// sideways when it is wider than the terminal, so a line never wraps and redraws stay simple).
// Thread use: plain objects; the console that owns them guards them with its mutex.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace chat::cli {

// Text being edited plus a cursor (a byte offset that is always on a code point boundary).
class EditLine final {
   public:
    const std::string& text() const noexcept { return text_; }
    std::size_t cursor() const noexcept { return cursor_; }
    bool empty() const noexcept { return text_.empty(); }

    void insert(std::string_view bytes);
    bool backspace();      // erases the code point before the cursor
    bool erase_forward();  // erases the code point under the cursor
    bool move_left();
    bool move_right();
    void move_home() noexcept { cursor_ = 0; }
    void move_end() noexcept { cursor_ = text_.size(); }
    void move_word_left();
    void move_word_right();
    void kill_to_start();
    void kill_to_end();
    void kill_word_back();
    void set(std::string text);  // replaces the text; cursor at the end
    void clear() noexcept;

   private:
    std::string text_;
    std::size_t cursor_ = 0;
};

// Lines entered before, for up/down. Navigation starts at the newest entry; the line being
// typed when navigation began is kept as a draft and comes back below the newest entry.
class LineHistory final {
   public:
    explicit LineHistory(std::size_t capacity = 500) : capacity_(capacity) {}

    // Records a line (not empty ones, nor a repeat of the newest entry); resets navigation.
    void add(const std::string& line);
    // The entry older than the one shown (nullopt at the oldest); `current` is what is typed.
    std::optional<std::string> older(const std::string& current);
    // The entry newer than the one shown, or the draft after the newest; nullopt when not
    // navigating.
    std::optional<std::string> newer();
    void reset_navigation() noexcept { index_ = entries_.size(); }
    std::size_t size() const noexcept { return entries_.size(); }

   private:
    std::size_t capacity_;
    std::deque<std::string> entries_;
    std::size_t index_ = 0;  // == entries_.size() when not navigating
    std::string draft_;
};

enum class KeyKind {
    text,  // printable text (one code point or an invalid byte) in Key::text
    enter,
    backspace,
    erase_forward,  // Delete
    eof_or_erase,   // Ctrl-D: end of input on an empty line, else Delete
    left,
    right,
    word_left,
    word_right,
    home,
    end,
    up,
    down,
    kill_to_start,  // Ctrl-U
    kill_to_end,    // Ctrl-K
    kill_word,      // Ctrl-W
    clear_screen,   // Ctrl-L
    interrupt,      // Ctrl-C
    ignored,        // a key or escape sequence without a meaning here
};

struct Key {
    KeyKind kind = KeyKind::ignored;
    std::string text;
};

// Turns raw terminal bytes into keys. Incomplete escape or UTF-8 sequences stay in the input
// until more bytes arrive, or until the caller says no more are coming (`final`), after which a
// lone Escape is ignored.
class KeyDecoder final {
   public:
    // Takes the next key off the front of `input`; nullopt when `input` holds no complete key.
    std::optional<Key> next(std::string& input, bool final = false);

   private:
    bool last_was_cr_ = false;  // "\r\n" from a paste is one Enter
};

// The bytes that draw `prompt` and `text` on the current terminal line, clear the rest of it and
// put the cursor at `cursor`. When prompt and text do not fit in `columns`, the text is shown
// through a window that keeps the cursor visible. `hidden` draws the prompt only (passwords).
std::string render_line(std::string_view prompt, std::string_view text, std::size_t cursor,
                        std::size_t columns, bool hidden);

}  // namespace chat::cli
