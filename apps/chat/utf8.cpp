// UTF-8 stepping and display widths for the client.
#include "utf8.hpp"

#include <cwchar>
#include <string>

namespace chat::cli {

namespace {

bool is_continuation(unsigned char c) noexcept { return (c & 0xC0) == 0x80; }

}  // namespace

char32_t decode_utf8(std::string_view text, std::size_t& pos) noexcept {
    const auto lead = static_cast<unsigned char>(text[pos]);
    if (lead < 0x80) {
        ++pos;
        return lead;
    }
    std::size_t len = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((lead & 0xE0) == 0xC0) {
        len = 2;
        cp = lead & 0x1F;
        min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
        len = 3;
        cp = lead & 0x0F;
        min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
        len = 4;
        cp = lead & 0x07;
        min = 0x10000;
    } else {
        ++pos;
        return kReplacementChar;
    }
    if (pos + len > text.size()) {
        ++pos;
        return kReplacementChar;
    }
    for (std::size_t i = 1; i < len; ++i) {
        const auto c = static_cast<unsigned char>(text[pos + i]);
        if (!is_continuation(c)) {
            ++pos;
            return kReplacementChar;
        }
        cp = (cp << 6) | (c & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        ++pos;
        return kReplacementChar;
    }
    pos += len;
    return cp;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::size_t prev_code_point(std::string_view text, std::size_t pos) noexcept {
    if (pos == 0) return 0;
    std::size_t p = pos - 1;
    // At most three continuation bytes belong to one code point.
    for (int i = 0; i < 3 && p > 0 && is_continuation(static_cast<unsigned char>(text[p])); ++i) {
        --p;
    }
    // Only accept the candidate when it really decodes to a sequence ending at `pos`.
    std::size_t q = p;
    decode_utf8(text, q);
    return q == pos ? p : pos - 1;
}

std::size_t next_code_point(std::string_view text, std::size_t pos) noexcept {
    if (pos >= text.size()) return text.size();
    decode_utf8(text, pos);
    return pos;
}

int code_point_width(char32_t cp) noexcept {
    if (cp < 0x20 || cp == 0x7F) return 1;  // shown as a replacement by the callers
    if (cp < 0x7F) return 1;
    const int w = ::wcwidth(static_cast<wchar_t>(cp));
    return w < 0 ? 1 : w;
}

std::size_t display_width(std::string_view text) noexcept {
    std::size_t width = 0;
    std::size_t pos = 0;
    while (pos < text.size())
        width += static_cast<std::size_t>(code_point_width(decode_utf8(text, pos)));
    return width;
}

}  // namespace chat::cli
