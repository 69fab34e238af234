// The lookup over the embedded page (web/include/chat/web_assets.hpp); the table itself is
// generated from web/page/ at build time (web/cmake/embed_assets.cmake).
#include "chat/web_assets.hpp"

#include <algorithm>

namespace chat::web {

const Asset* find_asset(std::string_view path) noexcept {
    if (path == "/") path = "/index.html";
    const auto assets = embedded_assets();
    const auto at = std::lower_bound(
        assets.begin(), assets.end(), path,
        [](const Asset& asset, std::string_view wanted) { return asset.path < wanted; });
    if (at == assets.end() || at->path != path) return nullptr;
    return &*at;
}

}  // namespace chat::web
