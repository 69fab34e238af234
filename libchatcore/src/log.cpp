// The structured logger: ISO-8601 UTC timestamp, level, component, message, fields.
#include "chat/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace chat::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::mutex g_write_mutex;

const char* level_name(Level l) {
    switch (l) {
        case Level::debug:
            return "debug";
        case Level::info:
            return "info";
        case Level::warn:
            return "warn";
        case Level::error:
            return "error";
        case Level::off:
            break;
    }
    return "off";
}

}  // namespace

void set_level(Level l) noexcept { g_level.store(l, std::memory_order_relaxed); }
Level level() noexcept { return g_level.load(std::memory_order_relaxed); }
bool enabled(Level l) noexcept { return l != Level::off && l >= level(); }

std::optional<Level> parse_level(std::string_view text) noexcept {
    for (Level l : {Level::debug, Level::info, Level::warn, Level::error, Level::off}) {
        if (text == level_name(l)) return l;
    }
    return std::nullopt;
}

void write(Level l, std::string_view component, std::string_view message, std::string_view fields) {
    if (!enabled(l)) return;
    const auto now = std::chrono::system_clock::now();
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[96];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    std::lock_guard lock(g_write_mutex);
    std::fprintf(stderr, "%s %s %.*s %.*s%.*s\n", stamp, level_name(l),
                 static_cast<int>(component.size()), component.data(),
                 static_cast<int>(message.size()), message.data(), static_cast<int>(fields.size()),
                 fields.data());
    std::fflush(stderr);
}

}  // namespace chat::log
