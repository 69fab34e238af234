// The HTTP side of the WebSocket port: static files, refusals, the Origin rule (see
// http_site.hpp).
#include "http_site.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#ifdef CHAT_HAVE_WEB_ASSETS
#include "chat/web_assets.hpp"
#endif

namespace chat::ws_transport {

namespace {

namespace fs = std::filesystem;

// What a browser needs to run the page and nothing more: no script, style or connection
// outside this origin (connect-src 'self' covers ws:// and wss:// to it), no plugins, no
// <base>, no framing by other sites.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'";
// Files bigger than this are not served (the page is a few small files).
constexpr std::uintmax_t kMaxFileBytes = 16u * 1024u * 1024u;

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

void add_security_headers(Response& response) {
    response.set(http::field::server, "chatd");
    response.set("Content-Security-Policy", kContentSecurityPolicy);
    response.set("X-Content-Type-Options", "nosniff");
    response.set("Referrer-Policy", "no-referrer");
    response.set(http::field::cache_control, "no-cache");
}

Response respond(const Request& request, http::status status, std::string_view content_type,
                 std::string body) {
    Response response(status, request.version());
    add_security_headers(response);
    response.set(http::field::content_type, content_type);
    response.keep_alive(request.keep_alive());
    const std::size_t size = body.size();
    if (request.method() != http::verb::head) response.body() = std::move(body);
    response.content_length(size);
    return response;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The path of a request target, percent-decoded, checked segment by segment: nullopt for a
// target that is refused outright (not absolute, bad escapes, NUL, backslash, "." or ".."
// segments). "/" and paths ending in "/" name their index.html.
std::optional<std::string> clean_path(std::string_view target) {
    target = target.substr(0, target.find_first_of("?#"));
    if (target.empty() || target.front() != '/') return std::nullopt;
    std::string path;
    path.reserve(target.size());
    for (std::size_t i = 0; i < target.size(); ++i) {
        char c = target[i];
        if (c == '%') {
            if (i + 2 >= target.size()) return std::nullopt;
            const int high = hex_value(target[i + 1]);
            const int low = hex_value(target[i + 2]);
            if (high < 0 || low < 0) return std::nullopt;
            c = static_cast<char>(high * 16 + low);
            i += 2;
        }
        if (c == '\0' || c == '\\') return std::nullopt;
        path.push_back(c);
    }
    std::size_t start = 1;
    while (start <= path.size()) {
        const std::size_t end = std::min(path.find('/', start), path.size());
        const std::string_view segment = std::string_view(path).substr(start, end - start);
        if (segment == "." || segment == "..") return std::nullopt;
        start = end + 1;
    }
    if (path.back() == '/') path += "index.html";
    return path;
}

// True when some segment of `path` starts with a dot (".git", ".env"): never served.
bool names_hidden_file(std::string_view path) { return path.find("/.") != std::string_view::npos; }

// The file under `root` that `path` names, if it is a regular file inside the root (symbolic
// links are followed, but must not lead out of it).
std::optional<std::string> read_under_root(const fs::path& root, std::string_view path) {
    std::error_code ec;
    const fs::path wanted = fs::canonical(root / fs::path(path.substr(1)), ec);
    if (ec) return std::nullopt;
    const auto [root_end, wanted_at] =
        std::mismatch(root.begin(), root.end(), wanted.begin(), wanted.end());
    if (root_end != root.end()) return std::nullopt;
    if (!fs::is_regular_file(wanted, ec)) return std::nullopt;
    const auto size = fs::file_size(wanted, ec);
    if (ec || size > kMaxFileBytes) return std::nullopt;
    std::ifstream in(wanted, std::ios::binary);
    if (!in) return std::nullopt;
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return std::nullopt;
    return body;
}

}  // namespace

std::string_view content_type_of(std::string_view file_name) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 14> kTypes{{
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".webmanifest", "application/manifest+json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
        {".wasm", "application/wasm"},
    }};
    const auto slash = file_name.rfind('/');
    const auto dot = file_name.rfind('.');
    if (dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash)) {
        const std::string extension = lower(file_name.substr(dot));
        for (const auto& [ext, type] : kTypes) {
            if (ext == extension) return type;
        }
    }
    return "application/octet-stream";
}

Response error_response(const Request& request, http::status status, std::string_view text) {
    return respond(request, status, "text/plain; charset=utf-8", std::string(text) + "\n");
}

Response answer_http(const Request& request, const ServerSettings& settings) {
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
        Response response =
            error_response(request, http::status::method_not_allowed, "method not allowed");
        response.set(http::field::allow, "GET, HEAD");
        return response;
    }
    const std::optional<std::string> path = clean_path(request.target());
    if (!path) return error_response(request, http::status::bad_request, "bad path");
    if (names_hidden_file(*path))
        return error_response(request, http::status::not_found, "not found");
    if (settings.web_root) {
        auto body = read_under_root(*settings.web_root, *path);
        if (!body) return error_response(request, http::status::not_found, "not found");
        return respond(request, http::status::ok, content_type_of(*path), std::move(*body));
    }
#ifdef CHAT_HAVE_WEB_ASSETS
    if (const chat::web::Asset* asset = chat::web::find_asset(*path)) {
        return respond(request, http::status::ok, asset->content_type, std::string(asset->body));
    }
#endif
    return error_response(request, http::status::not_found, "not found");
}

bool origin_allowed(const Request& request, const ServerSettings& settings) {
    const auto origin_field = request.find(http::field::origin);
    if (origin_field == request.end()) return true;  // not a browser: nothing to protect
    if (settings.any_origin) return true;
    const std::string origin = lower(origin_field->value());
    const auto host_field = request.find(http::field::host);
    if (host_field != request.end()) {
        const std::string host = lower(host_field->value());
        if (!host.empty() && (origin == "http://" + host || origin == "https://" + host)) {
            return true;
        }
    }
    return std::find(settings.allowed_origins.begin(), settings.allowed_origins.end(), origin) !=
           settings.allowed_origins.end();
}

}  // namespace chat::ws_transport
