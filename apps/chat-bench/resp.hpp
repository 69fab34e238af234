// Just enough of RESP (the Redis serialisation protocol, version 2) for the Redis reference
// load: commands written as arrays of bulk strings, and replies read as simple strings, errors,
// integers, bulk strings, or one-level arrays of those (a pub/sub message is an array of three
// bulk strings; a subscription's confirmation ends with an integer).
// Thread use: pure functions.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace chat::bench::resp {

// Appends the command `words` (e.g. {"PUBLISH", channel, body}) to `out`.
void append_command(std::string& out, std::initializer_list<std::string_view> words);

enum class Kind : char {
    simple = '+',
    error = '-',
    integer = ':',
    bulk = '$',
    array = '*',
};

struct Value {
    Kind kind = Kind::simple;
    std::string_view text;                // simple, error, integer (its digits), bulk
    std::vector<std::string_view> items;  // array: each element's text (nested arrays refused)
    bool null = false;                    // a null bulk string or array
};

enum class Parse { complete, incomplete, malformed };

// Parses the value at the start of `in`. On `complete`, `value` views into `in` and `used` is its
// length in bytes; on `incomplete` more bytes are needed; `malformed` is not RESP (or nests).
Parse parse(std::string_view in, Value& value, std::size_t& used);

}  // namespace chat::bench::resp
