// The JSON shapes shared by the server and the client half (see codec.hpp).
#include "codec.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>

#include "chat/validation.hpp"

namespace chat::json_transport {

std::optional<Message> decode_message(const json::value& value) {
    const auto* object = value.if_object();
    if (object == nullptr) return std::nullopt;
    FieldReader in(*object);
    Message message;
    message.id = in.required_u64("id");
    message.from = in.required_string("from");
    message.to = in.required_string("to");
    message.body = in.required_string("body");
    auto sent_at = in.optional_i64("sent_at");
    if (!in.ok() || !sent_at) return std::nullopt;
    message.sent_at = *sent_at;
    return message;
}

json::object encode_error(const Error& error) {
    json::object out;
    out.reserve(2);
    out.emplace("code", to_string(error.code));
    out.emplace("message", error.message);
    return out;
}

Error decode_error(const json::value& value) {
    const auto* object = value.if_object();
    if (object == nullptr) return make_error(Errc::internal, "malformed error object");
    Error error;
    const auto* code = object->if_contains("code");
    std::optional<Errc> errc;
    if (code != nullptr && code->is_string()) errc = errc_from_string(code->get_string());
    error.code = errc.value_or(Errc::internal);
    if (const auto* message = object->if_contains("message");
        message != nullptr && message->is_string()) {
        error.message = message->get_string();
    }
    if (!errc && code != nullptr && code->is_string()) {
        // Keep an unknown code visible rather than silently turning it into `internal`.
        error.message = std::string(code->get_string()) + ": " + error.message;
    }
    return error;
}

std::string to_frame(const json::object& object) {
    std::string out = json::serialize(object);
    out.push_back('\n');
    return out;
}

std::string reply_frame(const json::value& id, json::object fields) {
    json::object out;
    out.reserve(fields.size() + 2);
    out.emplace("id", id);
    out.emplace("ok", true);
    for (auto& field : fields) out.emplace(field.key(), std::move(field.value()));
    return to_frame(out);
}

std::string error_frame(const json::value& id, const Error& error) {
    json::object out;
    out.reserve(3);
    out.emplace("id", id);
    out.emplace("ok", false);
    out.emplace("error", encode_error(error));
    return to_frame(out);
}

namespace {

template <class Integer>
void append_integer(std::string& out, Integer value) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    (void)ec;  // 24 bytes always hold a 64-bit integer
    out.append(digits, end);
}

// Which bytes a JSON string must escape (as Boost.JSON's serializer does): '"', '\\' and the
// control characters; everything else, UTF-8 included, goes out as it is.
constexpr std::array<bool, 256> kNeedsEscape = [] {
    std::array<bool, 256> table{};
    for (int c = 0; c < 0x20; ++c) table[static_cast<std::size_t>(c)] = true;
    table['"'] = true;
    table['\\'] = true;
    return table;
}();

// True when any of the eight bytes at `p` needs escaping (bit tricks: a byte below 0x20, or equal
// to '"' or '\\'). No false negatives; a hit is then looked at byte by byte.
bool word_needs_escape(const char* p) noexcept {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
    std::uint64_t w = 0;
    std::memcpy(&w, p, sizeof w);
    const auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
    const std::uint64_t below_space = (w - kOnes * 0x20) & ~w & kHigh;
    return (below_space | has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\'))) != 0;
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t run = 0;  // start of the bytes not yet copied
    std::size_t i = 0;
    while (i < text.size()) {
        if (i + 8 <= text.size() && !word_needs_escape(text.data() + i)) {
            i += 8;  // the common case: eight plain bytes at a time
            continue;
        }
        const auto c = static_cast<unsigned char>(text[i++]);
        if (!kNeedsEscape[c]) continue;
        out.append(text.data() + run, i - 1 - run);
        run = i;
        out.push_back('\\');
        switch (c) {
            case '"':
                out.push_back('"');
                break;
            case '\\':
                out.push_back('\\');
                break;
            case '\b':
                out.push_back('b');
                break;
            case '\f':
                out.push_back('f');
                break;
            case '\n':
                out.push_back('n');
                break;
            case '\r':
                out.push_back('r');
                break;
            case '\t':
                out.push_back('t');
                break;
            default:
                out.append("u00");
                out.push_back(kHex[c >> 4]);
                out.push_back(kHex[c & 0xf]);
        }
    }
    out.append(text.data() + run, text.size() - run);
    out.push_back('"');
}

void append_message(std::string& out, const Message& message) {
    out.append("{\"id\":");
    append_integer(out, message.id);
    out.append(",\"from\":");
    append_json_string(out, message.from);
    out.append(",\"to\":");
    append_json_string(out, message.to);
    out.append(",\"body\":");
    append_json_string(out, message.body);
    out.append(",\"sent_at\":");
    append_integer(out, message.sent_at);
    out.push_back('}');
}

void append_message_event_frame(std::string& out, const Message& message) {
    out.append("{\"event\":\"message\",\"message\":");
    append_message(out, message);
    out.append("}\n");
}

void append_reply_frame(std::string& out, std::string_view id_json, std::string_view fields_json) {
    out.reserve(out.size() + id_json.size() + fields_json.size() + 20);
    out.append("{\"id\":");
    out.append(id_json);
    out.append(",\"ok\":true");
    if (!fields_json.empty()) {
        out.push_back(',');
        out.append(fields_json);
    }
    out.append("}\n");
}

void append_error_frame(std::string& out, std::string_view id_json, const Error& error) {
    out.append("{\"id\":");
    out.append(id_json);
    out.append(",\"ok\":false,\"error\":{\"code\":");
    append_json_string(out, to_string(error.code));
    out.append(",\"message\":");
    append_json_string(out, error.message);
    out.append("}}\n");
}

std::string message_event_frame(const Message& message) {
    std::string out;
    out.reserve(96 + message.from.size() + message.to.size() + message.body.size());
    append_message_event_frame(out, message);
    return out;
}

std::string logged_out_event_frame(LogoutReason reason) {
    json::object out;
    out.reserve(2);
    out.emplace("event", "logged_out");
    out.emplace("reason", to_string(reason));
    return to_frame(out);
}

namespace {

bool valid_text(json::string_view text) {
    return is_valid_utf8(std::string_view(text.data(), text.size()));
}

bool valid_nested(const json::value& value) {
    switch (value.kind()) {
        case json::kind::string:
            return valid_text(value.get_string());
        case json::kind::array:
            for (const auto& element : value.get_array()) {
                if (!valid_nested(element)) return false;
            }
            return true;
        case json::kind::object:
            for (const auto& member : value.get_object()) {
                if (!valid_text(member.key()) || !valid_nested(member.value())) return false;
            }
            return true;
        default:
            return true;
    }
}

}  // namespace

bool is_valid_utf8_json(const json::value& value, std::span<const std::string_view> exempt) {
    const auto* object = value.if_object();
    if (object == nullptr) return valid_nested(value);
    for (const auto& member : *object) {
        if (!valid_text(member.key())) return false;
        const std::string_view key(member.key().data(), member.key().size());
        bool skip = !key.empty() && member.value().is_string() &&
                    std::find(exempt.begin(), exempt.end(), key) != exempt.end();
        if (!skip && !valid_nested(member.value())) return false;
    }
    return true;
}

std::optional<std::uint64_t> to_u64(const json::value& value) {
    if (const auto* u = value.if_uint64()) return *u;
    if (const auto* i = value.if_int64()) {
        if (*i < 0) return std::nullopt;
        return static_cast<std::uint64_t>(*i);
    }
    return std::nullopt;
}

void FieldReader::fail(std::string message) {
    if (!error_) error_ = make_error(Errc::bad_request, std::move(message));
}

const json::value* FieldReader::find(std::string_view key) {
    if (error_) return nullptr;
    const auto* value = object_.if_contains(key);
    if (value == nullptr || value->is_null()) return nullptr;
    return value;
}

std::string_view FieldReader::required_string(std::string_view key) {
    if (error_) return {};
    const auto* value = find(key);
    if (value == nullptr) {
        fail("missing field '" + std::string(key) + "'");
        return {};
    }
    if (!value->is_string()) {
        fail("field '" + std::string(key) + "' must be a string");
        return {};
    }
    return value->get_string();
}

std::optional<std::string_view> FieldReader::optional_string(std::string_view key) {
    const auto* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) {
        fail("field '" + std::string(key) + "' must be a string");
        return std::nullopt;
    }
    return std::string_view(value->get_string());
}

std::uint64_t FieldReader::required_u64(std::string_view key) {
    if (error_) return 0;
    if (find(key) == nullptr) {
        fail("missing field '" + std::string(key) + "'");
        return 0;
    }
    return optional_u64(key).value_or(0);
}

std::optional<std::uint64_t> FieldReader::optional_u64(std::string_view key) {
    const auto* value = find(key);
    if (value == nullptr) return std::nullopt;
    auto number = to_u64(*value);
    if (!number) fail("field '" + std::string(key) + "' must be a non-negative integer");
    return number;
}

std::optional<std::int64_t> FieldReader::optional_i64(std::string_view key) {
    const auto* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (const auto* i = value->if_int64()) return *i;
    if (const auto* u = value->if_uint64();
        u != nullptr &&
        *u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return static_cast<std::int64_t>(*u);
    }
    fail("field '" + std::string(key) + "' must be an integer");
    return std::nullopt;
}

std::optional<std::vector<std::uint64_t>> FieldReader::optional_u64_array(std::string_view key) {
    const auto* value = find(key);
    if (value == nullptr) return std::nullopt;
    const auto* array = value->if_array();
    if (array == nullptr) {
        fail("field '" + std::string(key) + "' must be an array of non-negative integers");
        return std::nullopt;
    }
    std::vector<std::uint64_t> out;
    out.reserve(array->size());
    for (const auto& element : *array) {
        auto number = to_u64(element);
        if (!number) {
            fail("field '" + std::string(key) + "' must be an array of non-negative integers");
            return std::nullopt;
        }
        out.push_back(*number);
    }
    return out;
}

std::optional<std::vector<std::string>> FieldReader::optional_string_array(std::string_view key) {
    const auto* value = find(key);
    if (value == nullptr) return std::nullopt;
    const auto* array = value->if_array();
    if (array == nullptr) {
        fail("field '" + std::string(key) + "' must be an array of strings");
        return std::nullopt;
    }
    std::vector<std::string> out;
    out.reserve(array->size());
    for (const auto& element : *array) {
        if (!element.is_string()) {
            fail("field '" + std::string(key) + "' must be an array of strings");
            return std::nullopt;
        }
        out.emplace_back(element.get_string());
    }
    return out;
}

const json::value* FieldReader::optional_value(std::string_view key) { return find(key); }

}  // namespace chat::json_transport
