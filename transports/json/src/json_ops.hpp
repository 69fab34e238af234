// The op table of the JSON transport: one row per op of docs/protocol.md, each going
// decode -> validate -> ChatService call -> encode reply. Adding an op is adding a row.
// Thread use: the table is immutable; a row runs on the strand of the connection it answers.
#pragma once

#include <array>
#include <string_view>

#include "codec.hpp"

namespace chat::json_transport {

class FrameConnection;

struct OpRow {
    std::string_view name;
    bool needs_session;
    // Top-level string fields whose text the core validates itself (UTF-8 included), so that
    // broken text there gets the domain's code (invalid_message, ...) rather than bad_request.
    std::array<std::string_view, 2> domain_text;
    // Answers through FrameConnection::reply / reply_later exactly once.
    void (*run)(FrameConnection& connection, const json::object& request);
};

// nullptr for an unknown op.
const OpRow* find_op(std::string_view name) noexcept;

}  // namespace chat::json_transport
