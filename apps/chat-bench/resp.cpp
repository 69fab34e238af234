// The RESP subset of the Redis reference load (see resp.hpp).
#include "resp.hpp"

#include <charconv>
#include <cstdint>

namespace chat::bench::resp {

namespace {

// The line at `at` up to its CRLF; false when the CRLF has not arrived yet.
bool line_at(std::string_view in, std::size_t at, std::string_view& line, std::size_t& next) {
    const auto end = in.find("\r\n", at);
    if (end == std::string_view::npos) return false;
    line = in.substr(at, end - at);
    next = end + 2;
    return true;
}

bool to_count(std::string_view digits, long long& out) {
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    return ec == std::errc() && end == digits.data() + digits.size() && !digits.empty();
}

// One non-array value at `at`.
Parse scalar(std::string_view in, std::size_t at, Kind& kind, std::string_view& text, bool& null,
             std::size_t& next) {
    if (at >= in.size()) return Parse::incomplete;
    const char tag = in[at];
    std::string_view line;
    if (!line_at(in, at + 1, line, next)) {
        // A header line is short: a long run without CRLF is not RESP.
        return in.size() - at > 64 ? Parse::malformed : Parse::incomplete;
    }
    null = false;
    switch (tag) {
        case '+':
        case '-':
        case ':':
            kind = static_cast<Kind>(tag);
            text = line;
            return Parse::complete;
        case '$': {
            kind = Kind::bulk;
            long long length = 0;
            if (!to_count(line, length) || length < -1) return Parse::malformed;
            if (length == -1) {
                null = true;
                text = {};
                return Parse::complete;
            }
            const auto size = static_cast<std::size_t>(length);
            if (in.size() < next + size + 2) return Parse::incomplete;
            if (in.substr(next + size, 2) != "\r\n") return Parse::malformed;
            text = in.substr(next, size);
            next += size + 2;
            return Parse::complete;
        }
        default:
            return Parse::malformed;
    }
}

}  // namespace

void append_command(std::string& out, std::initializer_list<std::string_view> words) {
    char digits[24];
    auto number = [&](char tag, std::size_t n) {
        out.push_back(tag);
        const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
        (void)ec;
        out.append(digits, end);
        out.append("\r\n");
    };
    number('*', words.size());
    for (std::string_view word : words) {
        number('$', word.size());
        out.append(word);
        out.append("\r\n");
    }
}

Parse parse(std::string_view in, Value& value, std::size_t& used) {
    value.items.clear();
    if (in.empty()) return Parse::incomplete;
    if (in[0] != '*') {
        const Parse result = scalar(in, 0, value.kind, value.text, value.null, used);
        return result;
    }
    std::string_view line;
    std::size_t next = 0;
    if (!line_at(in, 1, line, next)) return in.size() > 64 ? Parse::malformed : Parse::incomplete;
    long long count = 0;
    if (!to_count(line, count) || count < -1) return Parse::malformed;
    value.kind = Kind::array;
    value.text = {};
    value.null = count == -1;
    for (long long i = 0; i < count; ++i) {
        if (next < in.size() && in[next] == '*') return Parse::malformed;
        Kind kind{};
        std::string_view text;
        bool null = false;
        const Parse result = scalar(in, next, kind, text, null, next);
        if (result != Parse::complete) return result;
        value.items.push_back(text);
    }
    used = next;
    return Parse::complete;
}

}  // namespace chat::bench::resp
