// The terminal-independent parts of the line editor: buffer, history, key decoding, rendering.
#include "line_editor.hpp"

#include "utf8.hpp"

namespace chat::cli {

namespace {

bool is_space(char c) noexcept { return c == ' '; }

// Text shown for the buffer: invalid UTF-8 becomes U+FFFD so the terminal never sees stray bytes.
std::string visible_text(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) append_utf8(out, decode_utf8(text, pos));
    return out;
}

std::size_t utf8_length(unsigned char lead) noexcept {
    if ((lead & 0xE0) == 0xC0) return 2;
    if ((lead & 0xF0) == 0xE0) return 3;
    if ((lead & 0xF8) == 0xF0) return 4;
    return 0;
}

Key make_key(KeyKind kind) { return Key{kind, {}}; }

KeyKind csi_key(std::string_view params, char final_byte) {
    // Modifier 3 (Alt) or 5 (Ctrl) on left/right moves by words, as in most shells.
    const bool word = params.ends_with(";5") || params.ends_with(";3");
    switch (final_byte) {
        case 'A':
            return KeyKind::up;
        case 'B':
            return KeyKind::down;
        case 'C':
            return word ? KeyKind::word_right : KeyKind::right;
        case 'D':
            return word ? KeyKind::word_left : KeyKind::left;
        case 'H':
            return KeyKind::home;
        case 'F':
            return KeyKind::end;
        case '~':
            if (params == "1" || params == "7") return KeyKind::home;
            if (params == "4" || params == "8") return KeyKind::end;
            if (params == "3") return KeyKind::erase_forward;
            return KeyKind::ignored;
        default:
            return KeyKind::ignored;
    }
}

KeyKind control_key(unsigned char c) noexcept {
    switch (c) {
        case 0x01:
            return KeyKind::home;
        case 0x02:
            return KeyKind::left;
        case 0x03:
            return KeyKind::interrupt;
        case 0x04:
            return KeyKind::eof_or_erase;
        case 0x05:
            return KeyKind::end;
        case 0x06:
            return KeyKind::right;
        case 0x08:
        case 0x7F:
            return KeyKind::backspace;
        case 0x0A:
        case 0x0D:
            return KeyKind::enter;
        case 0x0B:
            return KeyKind::kill_to_end;
        case 0x0C:
            return KeyKind::clear_screen;
        case 0x0E:
            return KeyKind::down;
        case 0x10:
            return KeyKind::up;
        case 0x15:
            return KeyKind::kill_to_start;
        case 0x17:
            return KeyKind::kill_word;
        default:
            return KeyKind::ignored;
    }
}

}  // namespace

void EditLine::insert(std::string_view bytes) {
    text_.insert(cursor_, bytes);
    cursor_ += bytes.size();
}

bool EditLine::backspace() {
    if (cursor_ == 0) return false;
    const std::size_t from = prev_code_point(text_, cursor_);
    text_.erase(from, cursor_ - from);
    cursor_ = from;
    return true;
}

bool EditLine::erase_forward() {
    if (cursor_ >= text_.size()) return false;
    text_.erase(cursor_, next_code_point(text_, cursor_) - cursor_);
    return true;
}

bool EditLine::move_left() {
    if (cursor_ == 0) return false;
    cursor_ = prev_code_point(text_, cursor_);
    return true;
}

bool EditLine::move_right() {
    if (cursor_ >= text_.size()) return false;
    cursor_ = next_code_point(text_, cursor_);
    return true;
}

void EditLine::move_word_left() {
    while (cursor_ > 0 && is_space(text_[cursor_ - 1])) --cursor_;
    while (cursor_ > 0 && !is_space(text_[cursor_ - 1])) cursor_ = prev_code_point(text_, cursor_);
}

void EditLine::move_word_right() {
    while (cursor_ < text_.size() && is_space(text_[cursor_])) ++cursor_;
    while (cursor_ < text_.size() && !is_space(text_[cursor_])) {
        cursor_ = next_code_point(text_, cursor_);
    }
}

void EditLine::kill_to_start() {
    text_.erase(0, cursor_);
    cursor_ = 0;
}

void EditLine::kill_to_end() { text_.erase(cursor_); }

void EditLine::kill_word_back() {
    const std::size_t end = cursor_;
    move_word_left();
    text_.erase(cursor_, end - cursor_);
}

void EditLine::set(std::string text) {
    text_ = std::move(text);
    cursor_ = text_.size();
}

void EditLine::clear() noexcept {
    text_.clear();
    cursor_ = 0;
}

void LineHistory::add(const std::string& line) {
    if (!line.empty() && (entries_.empty() || entries_.back() != line)) {
        entries_.push_back(line);
        if (entries_.size() > capacity_) entries_.pop_front();
    }
    draft_.clear();
    reset_navigation();
}

std::optional<std::string> LineHistory::older(const std::string& current) {
    if (index_ == 0) return std::nullopt;
    if (index_ == entries_.size()) draft_ = current;
    --index_;
    return entries_[index_];
}

std::optional<std::string> LineHistory::newer() {
    if (index_ >= entries_.size()) return std::nullopt;
    ++index_;
    return index_ == entries_.size() ? draft_ : entries_[index_];
}

std::optional<Key> KeyDecoder::next(std::string& input, bool final) {
    if (input.empty()) return std::nullopt;
    const auto c = static_cast<unsigned char>(input[0]);
    if (c == '\n' && last_was_cr_) {
        last_was_cr_ = false;
        input.erase(0, 1);
        return make_key(KeyKind::ignored);
    }
    last_was_cr_ = c == '\r';

    if (c == 0x1B) {
        if (input.size() == 1) {
            if (!final) return std::nullopt;
            input.erase(0, 1);
            return make_key(KeyKind::ignored);
        }
        const char kind = input[1];
        if (kind == '[') {
            std::size_t i = 2;
            // Parameter and intermediate bytes, then one final byte.
            while (i < input.size() && static_cast<unsigned char>(input[i]) >= 0x20 &&
                   static_cast<unsigned char>(input[i]) <= 0x3F) {
                ++i;
            }
            if (i == input.size()) {
                if (!final) return std::nullopt;
                input.clear();
                return make_key(KeyKind::ignored);
            }
            const KeyKind key = csi_key(std::string_view(input).substr(2, i - 2), input[i]);
            input.erase(0, i + 1);
            return make_key(key);
        }
        if (kind == 'O') {
            if (input.size() < 3) {
                if (!final) return std::nullopt;
                input.clear();
                return make_key(KeyKind::ignored);
            }
            const KeyKind key = csi_key({}, input[2]);
            input.erase(0, 3);
            return make_key(key);
        }
        // Alt+key, or a lone Escape followed by another Escape.
        input.erase(0, kind == 0x1B ? 1 : 2);
        return make_key(KeyKind::ignored);
    }
    if (c < 0x20 || c == 0x7F) {
        input.erase(0, 1);
        return make_key(control_key(c));
    }
    std::size_t len = c < 0x80 ? 1 : utf8_length(c);
    if (len == 0) len = 1;  // a stray byte: kept, shown as U+FFFD, refused by the server
    if (input.size() < len) {
        if (!final) return std::nullopt;
        len = 1;
    }
    for (std::size_t i = 1; i < len; ++i) {
        if ((static_cast<unsigned char>(input[i]) & 0xC0) != 0x80) {
            len = 1;
            break;
        }
    }
    Key key{KeyKind::text, input.substr(0, len)};
    input.erase(0, len);
    return key;
}

std::string render_line(std::string_view prompt, std::string_view text, std::size_t cursor,
                        std::size_t columns, bool hidden) {
    std::string out = "\r";
    out += prompt;
    if (hidden) {
        out += "\033[K";
        return out;
    }
    const std::size_t prompt_width = display_width(prompt);
    // The last column stays free: writing there makes some terminals wrap early.
    const std::size_t avail = columns > prompt_width + 2 ? columns - prompt_width - 1 : 1;

    std::size_t start = 0;
    while (start < cursor && display_width(text.substr(start, cursor - start)) > avail) {
        start = next_code_point(text, start);
    }
    std::size_t end = start;
    std::size_t width = 0;
    while (end < text.size()) {
        std::size_t next = end;
        const int w = code_point_width(decode_utf8(text, next));
        if (width + static_cast<std::size_t>(w) > avail) break;
        width += static_cast<std::size_t>(w);
        end = next;
    }
    out += visible_text(text.substr(start, end - start));
    out += "\033[K\r";
    const std::size_t column = prompt_width + display_width(text.substr(start, cursor - start));
    if (column > 0) out += "\033[" + std::to_string(column) + "C";
    return out;
}

}  // namespace chat::cli
