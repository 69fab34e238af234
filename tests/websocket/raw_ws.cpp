// Raw HTTP, chatd on the ws transport, temporary files and certificates (see raw_ws.hpp).
#include "raw_ws.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace chat::ws_test {

std::optional<http::response<http::string_body>> http_request(
    std::uint16_t port, http::verb method, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers) {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    http::request<http::empty_body> req(method, target, 11);
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    for (const auto& [name, value] : headers) req.set(name, value);
    http::response<http::string_body> response;
    beast::flat_buffer buffer;
    bool ok = false;
    stream.expires_after(kTimeout);
    stream.async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
        [&](boost::system::error_code ec) {
            if (ec) return;
            http::async_write(stream, req, [&](boost::system::error_code write_ec, std::size_t) {
                if (write_ec) return;
                // The parser must know a HEAD response has no body.
                auto parser = std::make_shared<http::response_parser<http::string_body>>();
                if (method == http::verb::head) parser->skip(true);
                http::async_read(stream, buffer, *parser,
                                 [&, parser](boost::system::error_code read_ec, std::size_t) {
                                     if (read_ec) return;
                                     response = parser->release();
                                     ok = true;
                                 });
            });
        });
    ioc.run();
    if (!ok) return std::nullopt;
    return response;
}

WsChatd::WsChatd(std::vector<std::string> extra)
    : process([&] {
          std::vector<std::string> args = {"--store",   "memory", "--transport",    "ws",
                                           "--ws-port", "0",      "--rate-limit",   "0",
                                           "--threads", "2",      "--hash-threads", "2"};
          for (auto& arg : extra) args.push_back(std::move(arg));
          return args;
      }()) {
    auto found = process.wait_port("ws");
    if (!found)
        throw std::runtime_error("chatd did not report its ws port; log:\n" + process.log());
    port = *found;
}

WsChatd::~WsChatd() { process.stop(SIGTERM); }

json::object request(std::string_view op, std::int64_t id, json::object fields) {
    json::object out = std::move(fields);
    out["op"] = op;
    out["id"] = id;
    return out;
}

std::string error_code(const std::optional<json::object>& reply) {
    if (!reply) return "no reply";
    const auto* ok = reply->if_contains("ok");
    if (ok != nullptr && ok->is_bool() && ok->get_bool()) return "";
    const auto* error = reply->if_contains("error");
    if (error == nullptr || !error->is_object()) return "malformed";
    const auto* code = error->as_object().if_contains("code");
    if (code == nullptr || !code->is_string()) return "malformed";
    return std::string(code->get_string());
}

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "chat-ws-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
    const auto file = std::filesystem::path(path) / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file.string();
}

TestCertificate::TestCertificate() {
    cert = dir.path + "/cert.pem";
    key = dir.path + "/key.pem";
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout '" +
        key + "' -out '" + cert + "' >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) {
        throw std::runtime_error("openssl could not make a test certificate");
    }
}

}  // namespace chat::ws_test
