// Small UTF-8 helpers for the line editor and the message formatter: stepping over code points
// and measuring how many terminal columns text takes.
// Thread use: pure functions; call from any thread.
#pragma once

#include <cstddef>
#include <string_view>

namespace chat::cli {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Decodes the code point starting at `pos` and advances `pos` past it. An invalid or truncated
// sequence yields kReplacementChar and advances by one byte, so callers always make progress.
char32_t decode_utf8(std::string_view text, std::size_t& pos) noexcept;

// Appends the UTF-8 form of `cp` to `out`.
void append_utf8(std::string& out, char32_t cp);

// Byte offset of the code point before `pos` (0 at the start).
std::size_t prev_code_point(std::string_view text, std::size_t pos) noexcept;

// Byte offset just after the code point at `pos` (text.size() at the end).
std::size_t next_code_point(std::string_view text, std::size_t pos) noexcept;

// Terminal columns of one code point (wcwidth in the current locale; 1 when unknown, 0 for
// combining marks).
int code_point_width(char32_t cp) noexcept;

// Terminal columns of `text`.
std::size_t display_width(std::string_view text) noexcept;

}  // namespace chat::cli
