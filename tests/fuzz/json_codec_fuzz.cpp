// libFuzzer target for the JSON transport's decoding layer, without sockets or a service: fast
// enough for millions of inputs a minute, where json_frame_fuzz.cpp drives whole connections.
//
// Each input is a byte stream. It is fed to the LineFramer in pieces (sizes chosen by a checksum
// of the input) and the frames it yields are compared with a plain reference splitter of the
// same documented rules. Every frame is then parsed with the server's parser options, checked
// for UTF-8 the way the server does (exempting the fields the op's row names), and read with
// every FieldReader accessor, whose answers are compared with the JSON value itself. Frames the
// server would build from what it read (a reply echoing the request's id, a message event) must
// be valid JSON, and a message decoded from a frame must survive an encode/decode round trip.
//
// Thread use: libFuzzer calls the entry point from one thread.
#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chat/validation.hpp"
#include "codec.hpp"
#include "json_ops.hpp"
#include "line_framer.hpp"

namespace {

namespace json = boost::json;
using chat::json_transport::FieldReader;
using chat::json_transport::LineFramer;

constexpr std::size_t kMaxFrame = 512;
constexpr std::array<std::size_t, 6> kPieceSizes = {1 << 20, 1, 3, 16, 100, 700};

[[noreturn]] void broken(const char* what) {
    std::fprintf(stderr, "json_codec_fuzz: %s\n", what);
    std::abort();
}

std::size_t piece_size(std::string_view input) {
    std::size_t sum = 0;
    for (char c : input) sum = sum * 131 + static_cast<unsigned char>(c);
    return kPieceSizes[sum % kPieceSizes.size()];
}

// The framing rules of line_framer.hpp, written the simplest way.
struct Framed {
    std::vector<std::string> frames;
    bool too_large = false;
    std::size_t pending = 0;
};

Framed reference_frames(std::string_view input) {
    Framed out;
    while (true) {
        auto newline = input.find('\n');
        if (newline == std::string_view::npos) {
            if (input.size() > kMaxFrame + 1) {
                out.too_large = true;
            } else {
                out.pending = input.size();
            }
            return out;
        }
        std::string_view frame = input.substr(0, newline);
        input.remove_prefix(newline + 1);
        if (!frame.empty() && frame.back() == '\r') frame.remove_suffix(1);
        if (frame.size() > kMaxFrame) {
            out.too_large = true;
            return out;
        }
        if (frame.find_first_not_of(" \t\r") != std::string_view::npos) {
            out.frames.emplace_back(frame);
        }
    }
}

Framed framer_frames(std::string_view input) {
    LineFramer framer(kMaxFrame);
    Framed out;
    const std::size_t piece = piece_size(input);
    while (!input.empty()) {
        auto status = framer.feed(input.substr(0, piece), [&](std::string_view frame) {
            if (frame.size() > kMaxFrame) broken("a frame over the limit was passed on");
            out.frames.emplace_back(frame);
        });
        input.remove_prefix(std::min(piece, input.size()));
        if (status == LineFramer::Status::too_large) {
            out.too_large = true;
            // Refused for good: later input is not looked at.
            if (framer.feed("{}\n", [](std::string_view) { broken("a frame after too_large"); }) !=
                LineFramer::Status::too_large) {
                broken("the framer accepted input after too_large");
            }
            return out;
        }
        if (framer.pending_bytes() > kMaxFrame + 1) broken("the framer holds too much");
    }
    out.pending = framer.pending_bytes();
    return out;
}

json::parse_options server_parse_options() {
    json::parse_options options;
    options.max_depth = 64;
    options.allow_invalid_utf8 = true;
    return options;
}

// A strict parse: what any client will do with a line the server sends.
void check_strict_json(const std::string& frame, const char* what) {
    if (frame.empty() || frame.back() != '\n') broken("a frame without its newline");
    if (frame.find('\n') != frame.size() - 1) broken("a newline inside a frame");
    std::string_view line(frame.data(), frame.size() - 1);
    if (!chat::is_valid_utf8(line)) broken(what);
    boost::system::error_code ec;
    auto value = json::parse(line, ec);
    if (ec || !value.is_object()) {
        std::fprintf(stderr, "line: %.*s\n",
                     static_cast<int>(std::min<std::size_t>(line.size(), 300)), line.data());
        broken(what);
    }
}

bool is_nonnegative_integer(const json::value& v) {
    return v.is_uint64() || (v.is_int64() && v.get_int64() >= 0);
}

void check_field_reader(const json::object& object) {
    // Every key the frame has, and one it does not.
    std::vector<std::string_view> keys{"no such key"};
    for (const auto& member : object) {
        keys.emplace_back(member.key().data(), member.key().size());
        if (keys.size() > 16) break;
    }
    for (std::string_view key : keys) {
        const json::value* raw = object.if_contains(key);
        const bool given = raw != nullptr && !raw->is_null();
        {
            FieldReader in(object);
            auto text = in.optional_string(key);
            if (in.ok() != (!given || raw->is_string())) broken("optional_string: ok");
            if (text.has_value() != (given && raw->is_string())) broken("optional_string: value");
            if (text && *text != std::string_view(raw->get_string())) {
                broken("optional_string: text");
            }
        }
        {
            FieldReader in(object);
            in.required_string(key);
            if (in.ok() != (given && raw->is_string())) broken("required_string");
        }
        {
            FieldReader in(object);
            auto number = in.optional_u64(key);
            if (in.ok() != (!given || is_nonnegative_integer(*raw))) broken("optional_u64: ok");
            if (number.has_value() != (given && is_nonnegative_integer(*raw))) {
                broken("optional_u64: value");
            }
            if (number && raw->is_uint64() && *number != raw->get_uint64()) broken("u64 value");
            if (number && raw->is_int64() &&
                *number != static_cast<std::uint64_t>(raw->get_int64())) {
                broken("u64 from int64");
            }
        }
        {
            FieldReader in(object);
            auto number = in.optional_i64(key);
            const bool fits =
                given &&
                (raw->is_int64() ||
                 (raw->is_uint64() && raw->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)));
            if (in.ok() != (!given || fits)) broken("optional_i64: ok");
            if (number.has_value() != fits) broken("optional_i64: value");
        }
        {
            FieldReader in(object);
            auto numbers = in.optional_u64_array(key);
            bool valid = !given;
            if (given && raw->is_array()) {
                valid = true;
                for (const auto& element : raw->get_array()) {
                    if (!is_nonnegative_integer(element)) valid = false;
                }
            }
            if (in.ok() != valid) broken("optional_u64_array: ok");
            if (numbers && numbers->size() != raw->get_array().size()) {
                broken("optional_u64_array: size");
            }
        }
        {
            FieldReader in(object);
            auto strings = in.optional_string_array(key);
            if (strings && strings->size() != raw->get_array().size()) {
                broken("optional_string_array: size");
            }
            if (in.optional_value(key) != nullptr && !in.ok()) {
                broken("a read after a failure returned a value");
            }
        }
    }
    // The first problem sticks: two failing reads report the first.
    FieldReader in(object);
    in.fail("first");
    in.fail("second");
    if (!in.error() || in.error()->message != "first") broken("FieldReader kept a later error");
}

void check_frame(std::string_view frame) {
    // Reused like the server's own per-connection parser.
    static json::parser parser(json::storage_ptr(), server_parse_options());
    parser.reset();
    boost::system::error_code ec;
    parser.write(frame.data(), frame.size(), ec);
    if (ec) return;  // the server answers bad_request; nothing more to check
    json::value request = parser.release();
    const json::object* object = request.if_object();
    if (object == nullptr) return;

    // UTF-8 as the server checks it: fields the op's row names are left to the core.
    std::span<const std::string_view> exempt;
    const json::value* op = object->if_contains("op");
    if (op != nullptr && op->is_string()) {
        if (const auto* row = chat::json_transport::find_op(op->get_string())) {
            exempt = std::span(row->domain_text);
        }
    }
    const bool utf8 = chat::json_transport::is_valid_utf8_json(request, exempt);
    // Exempting fields can only turn a "no" into a "yes".
    if (!utf8 && chat::json_transport::is_valid_utf8_json(request, {})) {
        broken("is_valid_utf8_json: an exemption made valid text invalid");
    }
    check_field_reader(*object);

    // A reply echoing a usable id (as the server does) is valid JSON. The server echoes no
    // infinite number (an id like 1e400 is answered bad_request with a null id), so neither does
    // this check.
    const json::value* id = object->if_contains("id");
    const bool finite = id == nullptr || !id->is_double() || std::isfinite(id->get_double());
    if (id != nullptr && utf8 && finite && (id->is_number() || id->is_null() || id->is_string())) {
        check_strict_json(chat::json_transport::reply_frame(*id, json::object{}),
                          "a reply echoing the id is not valid JSON");
        check_strict_json(
            chat::json_transport::error_frame(*id, chat::make_error(chat::Errc::bad_request, "x")),
            "an error reply echoing the id is not valid JSON");
    }

    // A message read from the frame survives encode/decode, and its event frame is JSON.
    if (auto message = chat::json_transport::decode_message(request)) {
        std::string encoded;
        chat::json_transport::append_message(encoded, *message);
        auto again = chat::json_transport::decode_message(json::parse(encoded));
        if (!again || !(*again == *message)) broken("message encode/decode round trip");
        if (chat::is_valid_utf8(message->from) && chat::is_valid_utf8(message->to) &&
            chat::is_valid_utf8(message->body)) {
            check_strict_json(chat::json_transport::message_event_frame(*message),
                              "a message event is not valid JSON");
        }
    }
    // Error objects decode to some code, whatever they hold.
    (void)chat::json_transport::decode_error(request);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const Framed expected = reference_frames(input);
    const Framed got = framer_frames(input);
    if (got.frames != expected.frames) broken("framer and reference disagree on the frames");
    if (got.too_large != expected.too_large) broken("framer and reference disagree on too_large");
    if (!got.too_large && got.pending != expected.pending) broken("pending bytes differ");
    for (const auto& frame : got.frames) check_frame(frame);
    return 0;
}
