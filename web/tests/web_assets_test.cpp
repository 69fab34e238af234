// The embedded page (chat::web::embedded_assets / find_asset) against the files of web/page/:
// every file is there with every byte, under its path, with the content type of its extension.
#include "chat/web_assets.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace fs = std::filesystem;

namespace {

// Every regular file under web/page, by the path it is served at.
std::map<std::string, std::string> page_files() {
    std::map<std::string, std::string> files;
    const fs::path root(CHAT_WEB_PAGE_DIR);
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        files.emplace("/" + entry.path().lexically_relative(root).generic_string(),
                      std::move(bytes));
    }
    return files;
}

std::string expected_type(const std::string& path) {
    const std::string ext = fs::path(path).extension().string();
    if (ext == ".html") return "text/html; charset=utf-8";
    if (ext == ".css") return "text/css; charset=utf-8";
    if (ext == ".js") return "text/javascript; charset=utf-8";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".png") return "image/png";
    return "";
}

}  // namespace

TEST_CASE("every file of web/page is embedded with its exact bytes and content type") {
    const auto files = page_files();
    REQUIRE(files.size() >= 3);
    CHECK(chat::web::embedded_assets().size() == files.size());
    for (const auto& [path, bytes] : files) {
        INFO(path);
        const auto* asset = chat::web::find_asset(path);
        REQUIRE(asset != nullptr);
        CHECK(asset->path == path);
        CHECK(asset->body == bytes);
        const auto type = expected_type(path);
        REQUIRE_FALSE(type.empty());  // a new kind of file: add it here and to embed_assets.cmake
        CHECK(asset->content_type == type);
    }
}

TEST_CASE("the table is sorted by path with no path twice") {
    const auto assets = chat::web::embedded_assets();
    for (std::size_t i = 1; i < assets.size(); ++i) {
        INFO(assets[i - 1].path << " before " << assets[i].path);
        CHECK(assets[i - 1].path < assets[i].path);
    }
}

TEST_CASE("/ serves index.html, and the page and its scripts are there") {
    const auto* root = chat::web::find_asset("/");
    REQUIRE(root != nullptr);
    CHECK(root->path == "/index.html");
    CHECK(root == chat::web::find_asset("/index.html"));
    CHECK(root->content_type == "text/html; charset=utf-8");
    CHECK(root->body.find("<!doctype html>") == 0);
    const auto* main_js = chat::web::find_asset("/js/main.js");
    REQUIRE(main_js != nullptr);
    CHECK(main_js->content_type == "text/javascript; charset=utf-8");
}

TEST_CASE("an unknown path finds nothing") {
    for (const char* path : {"", "/nope", "index.html", "/INDEX.HTML", "/index.html/", "/js",
                             "/js/", "//index.html", "/ws", "/index.htm"}) {
        INFO(path);
        CHECK(chat::web::find_asset(path) == nullptr);
    }
}
