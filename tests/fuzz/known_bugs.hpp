// Known, reported bugs that a fuzzing run may be told to step over, so that a long run can look
// for new problems while an old one waits for its fix. Off by default: a plain run fails on them.
//
//   CHAT_FUZZ_KNOWN=infinite-id   an id like 1e400 is parsed as an infinite double and echoed as
//                                 `Infinity`, which is not JSON (dispatch() in
//                                 transports/json/src/json_connection.cpp accepts any number).
//
// Thread use: reads the environment once; call from any thread.
#pragma once

#include <cstdlib>
#include <string_view>

namespace chat::fuzz {

inline bool tolerate(std::string_view bug) {
    const char* known = std::getenv("CHAT_FUZZ_KNOWN");
    if (known == nullptr) return false;
    std::string_view list(known);
    while (!list.empty()) {
        auto comma = list.find(',');
        if (list.substr(0, comma) == bug) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

inline bool tolerate_infinite_id() {
    static const bool on = tolerate("infinite-id");
    return on;
}

}  // namespace chat::fuzz
