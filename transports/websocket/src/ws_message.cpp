// See ws_message.hpp.
#include "ws_message.hpp"

#include <cstdint>

namespace chat::ws_transport {

namespace {

constexpr unsigned char kFinText = 0x81;  // FIN, opcode 1 (text)
constexpr std::size_t kMaxShortLength = 125;
constexpr unsigned char kLength16 = 126;
constexpr unsigned char kLength64 = 127;

}  // namespace

void append_text_message(std::string& out, std::string_view payload) {
    const std::uint64_t size = payload.size();
    char header[10];
    std::size_t header_size = 2;
    header[0] = static_cast<char>(kFinText);
    if (size <= kMaxShortLength) {
        header[1] = static_cast<char>(size);
    } else if (size <= 0xffff) {
        header[1] = static_cast<char>(kLength16);
        header[2] = static_cast<char>(size >> 8);
        header[3] = static_cast<char>(size);
        header_size = 4;
    } else {
        header[1] = static_cast<char>(kLength64);
        for (int i = 0; i < 8; ++i) header[2 + i] = static_cast<char>(size >> (56 - 8 * i));
        header_size = 10;
    }
    out.append(header, header_size);
    out.append(payload);
}

void append_text_messages(std::string& out, std::string_view frames) {
    while (!frames.empty()) {
        const std::size_t newline = frames.find('\n');
        append_text_message(out, frames.substr(0, newline));
        frames.remove_prefix(newline == std::string_view::npos ? frames.size() : newline + 1);
    }
}

}  // namespace chat::ws_transport
