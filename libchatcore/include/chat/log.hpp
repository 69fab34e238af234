// A small structured logger: one line per event, `2026-11-25T10:00:00.123Z level component msg
// key=value ...`, to stderr. Never pass passwords to it.
// Thread use: safe from any thread; each line is written whole.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace chat::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

void set_level(Level level) noexcept;
Level level() noexcept;
std::optional<Level> parse_level(std::string_view text) noexcept;
bool enabled(Level level) noexcept;

// Writes one line. `fields` is already formatted as ` key=value` pairs (or empty).
void write(Level level, std::string_view component, std::string_view message,
           std::string_view fields = {});

// Builder for `key=value` fields: log::Fields().add("peer", ep).add("user", u).str()
class Fields {
   public:
    template <class T>
    Fields& add(std::string_view key, const T& value) {
        out_ << ' ' << key << '=' << value;
        return *this;
    }
    std::string str() const { return out_.str(); }

   private:
    std::ostringstream out_;
};

}  // namespace chat::log
