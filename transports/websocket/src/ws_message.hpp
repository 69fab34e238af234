// The server's WebSocket messages, encoded by hand: a server sends unmasked frames, so a text
// message is two to ten bytes of header (RFC 6455 §5.2) and the payload as it is. Encoding a run
// of them into one buffer lets a batch of replies and pushes leave in one socket write, where
// Beast writes (and waits for) one message at a time.
#pragma once

#include <string>
#include <string_view>

namespace chat::ws_transport {

// Appends `payload` to `out` as one final, unmasked text frame.
void append_text_message(std::string& out, std::string_view payload);

// Appends every frame of `frames` (JSON Lines frames, each ending in '\n', the last perhaps not)
// as one text message each, without its '\n'.
void append_text_messages(std::string& out, std::string_view frames);

}  // namespace chat::ws_transport
