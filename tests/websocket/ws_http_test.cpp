// The HTTP side of chatd's WebSocket port: the Origin rule at the upgrade, the page's files
// from --web-root (paths that try to leave it refused), the security headers on every response,
// 404 and 405.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "raw_ws.hpp"

namespace chat::ws_test {
namespace {

void check_security_headers(const http::response<http::string_body>& response) {
    const std::string csp(response["Content-Security-Policy"]);
    CHECK(csp.find("default-src 'self'") != std::string::npos);
    CHECK(csp.find("connect-src 'self'") != std::string::npos);
    CHECK(csp.find("object-src 'none'") != std::string::npos);
    CHECK(csp.find("base-uri 'none'") != std::string::npos);
    CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
    CHECK(response["X-Content-Type-Options"] == "nosniff");
}

TEST_CASE("An upgrade from a foreign Origin is refused with 403 before it happens") {
    WsChatd chatd;
    const std::string own = "http://127.0.0.1:" + std::to_string(chatd.port);

    RawWs foreign;
    WsOptions evil;
    evil.origin = "https://evil.example";
    CHECK(foreign.connect(chatd.port, evil) != "");
    CHECK(foreign.http_status() == 403);
    check_security_headers(foreign.http_response());
    // "null" (a sandboxed page, a file) is no origin of ours either.
    RawWs null_origin;
    WsOptions null_options;
    null_options.origin = "null";
    CHECK(null_origin.connect(chatd.port, null_options) != "");
    CHECK(null_origin.http_status() == 403);

    SECTION("no Origin header (not a browser): allowed") {
        RawWs ws;
        REQUIRE(ws.connect(chatd.port) == "");
        CHECK(error_code(ws.call(request("hello", 1))) == "");
    }
    SECTION("the page's own origin, http or https, any case: allowed") {
        for (const std::string& origin : {own, "https://127.0.0.1:" + std::to_string(chatd.port),
                                          "HTTP://127.0.0.1:" + std::to_string(chatd.port)}) {
            RawWs ws;
            WsOptions options;
            options.origin = origin;
            REQUIRE(ws.connect(chatd.port, options) == "");
            CHECK(error_code(ws.call(request("hello", 1))) == "");
        }
    }
    SECTION("an origin that only looks like ours: refused") {
        RawWs ws;
        WsOptions options;
        options.origin = own + ".evil.example";
        CHECK(ws.connect(chatd.port, options) != "");
        CHECK(ws.http_status() == 403);
    }
}

TEST_CASE("The flag --ws-allowed-origin admits the origins it lists and only those") {
    WsChatd chatd({"--ws-allowed-origin", "https://chat.example.org", "--ws-allowed-origin",
                   "https://a.example, https://b.example"});
    for (const char* origin :
         {"https://chat.example.org", "https://a.example", "https://B.example"}) {
        RawWs ws;
        WsOptions options;
        options.origin = origin;
        REQUIRE(ws.connect(chatd.port, options) == "");
        CHECK(error_code(ws.call(request("hello", 1))) == "");
    }
    RawWs other;
    WsOptions options;
    options.origin = "https://c.example";
    CHECK(other.connect(chatd.port, options) != "");
    CHECK(other.http_status() == 403);
    // The server is fine after the refusals.
    RawWs ws;
    REQUIRE(ws.connect(chatd.port) == "");
    CHECK(error_code(ws.call(request("hello", 2))) == "");
}

TEST_CASE("Plain GETs serve --web-root with content types and security headers") {
    TempDir root;
    root.write("index.html", "<!doctype html><title>chat</title>");
    root.write("app.js", "console.log('hi');");
    root.write("css/site.css", "body{}");
    root.write(".hidden", "not for you");
    TempDir outside;
    const std::string secret = outside.write("secret.txt", "top secret");
    std::filesystem::create_symlink(secret, std::filesystem::path(root.path) / "leak.txt");

    WsChatd chatd({"--web-root", root.path});

    auto index = http_request(chatd.port, http::verb::get, "/");
    REQUIRE(index);
    CHECK(index->result_int() == 200);
    CHECK(index->body() == "<!doctype html><title>chat</title>");
    CHECK(std::string((*index)[http::field::content_type]).rfind("text/html", 0) == 0);
    check_security_headers(*index);

    auto script = http_request(chatd.port, http::verb::get, "/app.js?v=2");
    REQUIRE(script);
    CHECK(script->result_int() == 200);
    CHECK(script->body() == "console.log('hi');");
    CHECK(std::string((*script)[http::field::content_type]).rfind("text/javascript", 0) == 0);

    auto css = http_request(chatd.port, http::verb::get, "/css/site.css");
    REQUIRE(css);
    CHECK(css->result_int() == 200);
    CHECK(std::string((*css)[http::field::content_type]).rfind("text/css", 0) == 0);

    auto head = http_request(chatd.port, http::verb::head, "/app.js");
    REQUIRE(head);
    CHECK(head->result_int() == 200);
    CHECK(head->body().empty());
    CHECK((*head)[http::field::content_length] == "18");

    // Ways out of the root, none of which may show the file outside it.
    for (const char* target :
         {"/../secret.txt", "/css/../../secret.txt", "/%2e%2e/secret.txt",
          "/css/%2E%2E/%2e%2e/secret.txt", "/..%2fsecret.txt", "/leak.txt", "/.hidden",
          "/%00index.html", "/css\\..\\..\\secret.txt", "secret.txt"}) {
        INFO(target);
        auto refused = http_request(chatd.port, http::verb::get, target);
        REQUIRE(refused);
        CHECK((refused->result_int() == 400 || refused->result_int() == 404));
        CHECK(refused->body().find("secret") == std::string::npos);
        CHECK(refused->body().find("not for you") == std::string::npos);
        check_security_headers(*refused);
    }

    auto missing = http_request(chatd.port, http::verb::get, "/nope.html");
    REQUIRE(missing);
    CHECK(missing->result_int() == 404);
    check_security_headers(*missing);

    auto post = http_request(chatd.port, http::verb::post, "/");
    REQUIRE(post);
    CHECK(post->result_int() == 405);
    CHECK((*post)[http::field::allow] == "GET, HEAD");
    check_security_headers(*post);

    // The same port still upgrades.
    RawWs ws;
    REQUIRE(ws.connect(chatd.port) == "");
    CHECK(error_code(ws.call(request("hello", 1))) == "");
}

TEST_CASE("Without --web-root a GET gets the built-in page or 404 when there is none") {
    WsChatd chatd;
    auto index = http_request(chatd.port, http::verb::get, "/");
    REQUIRE(index);
    CHECK((index->result_int() == 200 || index->result_int() == 404));
    check_security_headers(*index);
    auto traversal = http_request(chatd.port, http::verb::get, "/../../etc/passwd");
    REQUIRE(traversal);
    CHECK(traversal->result_int() == 400);
    CHECK(traversal->body().find("root:") == std::string::npos);
}

TEST_CASE("chatd refuses a --web-root that is no directory and the web flags without ws") {
    e2e::ChatdProcess bad_root({"--store", "memory", "--transport", "ws", "--ws-port", "0",
                                "--web-root", "/nonexistent/chat-web"});
    CHECK(bad_root.wait_exit() != 0);
    CHECK(bad_root.log().find("web_root") != std::string::npos);
    e2e::ChatdProcess without_ws(
        {"--store", "memory", "--transport", "json", "--json-port", "0", "--web-root", "/tmp"});
    CHECK(without_ws.wait_exit() == 2);
}

}  // namespace
}  // namespace chat::ws_test
