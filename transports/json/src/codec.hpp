// The JSON shapes shared by the server and the client half: Message <-> JSON, error objects,
// push events, reply frames, and a reader that pulls typed fields out of an object while
// remembering the first problem (so an op's decoder stays a few flat lines).
// Thread use: free functions are pure; a FieldReader belongs to one thread.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chat/error.hpp"
#include "chat/types.hpp"

namespace chat::json_transport {

namespace json = boost::json;

// nullopt when a field is missing or of the wrong type.
std::optional<Message> decode_message(const json::value& value);

// {"code":"no_such_user","message":"..."}: the one place an Errc becomes its wire string.
json::object encode_error(const Error& error);
// The Error of an error object; an unknown or missing code becomes `internal`.
Error decode_error(const json::value& value);

// One frame: the serialized object followed by '\n'.
std::string to_frame(const json::object& object);

// {"id":<id>,"ok":true,...fields}  /  {"id":<id>,"ok":false,"error":{...}}
std::string reply_frame(const json::value& id, json::object fields);
std::string error_frame(const json::value& id, const Error& error);

// {"event":"message","message":{...}}  /  {"event":"logged_out","reason":"..."}
std::string message_event_frame(const Message& message);
// The hot paths write straight into an output buffer instead of building a json::object first
// (same bytes as serializing one): a JSON string literal, a message object
// ({"id":42,"from":"alice","to":"bob","body":"hi","sent_at":1764000000000}, the one encoder of a
// message on this wire), a push frame.
void append_json_string(std::string& out, std::string_view text);
void append_message(std::string& out, const Message& message);
void append_message_event_frame(std::string& out, const Message& message);
// {"id":<id_json>,"ok":true<,fields_json>}\n, where `fields_json` is `"key":value,...` or empty.
void append_reply_frame(std::string& out, std::string_view id_json, std::string_view fields_json);
// {"id":<id_json>,"ok":false,"error":{"code":"...","message":"..."}}\n
void append_error_frame(std::string& out, std::string_view id_json, const Error& error);
std::string logged_out_event_frame(LogoutReason reason);

// True when every key and string in `value` is valid UTF-8. In a top-level object, the values
// of the keys in `exempt` are not looked at (the core validates those itself).
bool is_valid_utf8_json(const json::value& value, std::span<const std::string_view> exempt = {});

// An unsigned integer from a JSON number that is integral and >= 0.
std::optional<std::uint64_t> to_u64(const json::value& value);

// Reads typed fields of one object. An absent field or a JSON null counts as "not given".
// After the first missing or mistyped field every later read returns an empty value and
// error() names that first problem (as bad_request).
class FieldReader final {
   public:
    explicit FieldReader(const json::object& object) : object_(object) {}

    std::string_view required_string(std::string_view key);
    std::optional<std::string_view> optional_string(std::string_view key);
    std::uint64_t required_u64(std::string_view key);
    std::optional<std::uint64_t> optional_u64(std::string_view key);
    std::optional<std::int64_t> optional_i64(std::string_view key);
    std::optional<std::vector<std::uint64_t>> optional_u64_array(std::string_view key);
    std::optional<std::vector<std::string>> optional_string_array(std::string_view key);
    const json::value* optional_value(std::string_view key);

    bool ok() const noexcept { return !error_.has_value(); }
    const std::optional<Error>& error() const noexcept { return error_; }
    void fail(std::string message);

   private:
    const json::value* find(std::string_view key);

    const json::object& object_;
    std::optional<Error> error_;
};

}  // namespace chat::json_transport
