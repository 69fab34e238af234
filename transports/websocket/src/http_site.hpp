// The HTTP side of the WebSocket port: what a plain request (not an upgrade) gets — the page's
// files from the web root or the built-in page, 404 for the rest, 405 for methods other than
// GET and HEAD — and whether an upgrade's Origin may open a WebSocket. Every response carries
// the security headers of docs/protocol.md ("WebSocket transport").
// Thread use: pure functions (they read files under the web root).
#pragma once

#include <boost/beast/http.hpp>
#include <string_view>

#include "ws_settings.hpp"

namespace chat::ws_transport {

namespace http = boost::beast::http;

using Request = http::request<http::empty_body>;
using Response = http::response<http::string_body>;

// The answer to a plain HTTP request.
Response answer_http(const Request& request, const ServerSettings& settings);

// A response of `status` with a short text body and the security headers (for refusals: 403,
// 503, 400 ...), keeping the request's HTTP version and keep-alive.
Response error_response(const Request& request, http::status status, std::string_view text);

// True when the upgrade `request` may go ahead: it has no Origin (not a browser), or its Origin
// is the page's own (http:// or https:// followed by the Host header), or an allowed one.
bool origin_allowed(const Request& request, const ServerSettings& settings);

// The content type served for a file name, by its extension.
std::string_view content_type_of(std::string_view file_name);

}  // namespace chat::ws_transport
