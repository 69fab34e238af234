// The web page chatd serves on its WebSocket port (docs/client.md, "In the browser"): the
// files of web/page/, embedded into the program at build time so that an installed chatd
// serves the page without any files beside it. `chatd --web-root DIR` serves a directory
// instead; these are the default.
#pragma once

#include <span>
#include <string_view>

namespace chat::web {

struct Asset {
    std::string_view path;          // as requested, from the root: "/index.html", "/app.js"
    std::string_view content_type;  // e.g. "text/html; charset=utf-8"
    std::string_view body;
};

// Every embedded file, sorted by path. "/" itself is not listed: it serves "/index.html".
std::span<const Asset> embedded_assets() noexcept;

// The asset at `path` ("/" means "/index.html"), or nullptr.
const Asset* find_asset(std::string_view path) noexcept;

}  // namespace chat::web
