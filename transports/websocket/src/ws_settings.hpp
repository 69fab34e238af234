// The WebSocket transport's own settings (chat/websocket/ws_transport.hpp names them): their
// help, and how their values are read into what the server and the client use.
// Thread use: plain values; the functions are pure.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "chat/transport.hpp"

namespace chat::ws_transport {

struct ServerSettings {
    std::optional<std::filesystem::path> web_root;  // none: the built-in page, if any
    std::vector<std::string> allowed_origins;       // lower-cased; besides the page's own
    bool any_origin = false;                        // "*" was given
    std::chrono::milliseconds idle_timeout{60000};  // 0: no keepalive
};

struct ClientSettings {
    std::string path = "/ws";
    std::string origin;  // empty: no Origin header
};

std::vector<TransportSetting> server_setting_list();
std::vector<TransportSetting> client_setting_list();

// Throw std::invalid_argument for an unknown setting or a value that cannot be used (a web root
// that is no directory, a malformed origin, ...).
ServerSettings server_settings(const TransportSettings& settings);
ClientSettings client_settings(const TransportSettings& settings);

}  // namespace chat::ws_transport
