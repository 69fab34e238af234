// The one Catch2 main shared by every test program (compiled once). Core logging goes to
// stderr at `warn` unless CHAT_TEST_LOG names another level, so test output stays readable.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdlib>

#include "chat/log.hpp"

int main(int argc, char* argv[]) {
    const char* level = std::getenv("CHAT_TEST_LOG");
    chat::log::set_level(
        chat::log::parse_level(level ? level : "warn").value_or(chat::log::Level::warn));
    return Catch::Session().run(argc, argv);
}
