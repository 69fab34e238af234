// AccountPattern: the wildcard of list_accounts (`*` any run, `?` one character, `\` escapes the
// next character, a trailing `\` is a literal backslash), matched case-insensitively against the
// whole username. An empty pattern means `*`.
// Thread use: immutable after construction; share freely.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace chat {

class AccountPattern final {
   public:
    explicit AccountPattern(std::string_view pattern);

    // `name` may be in any case; matching folds ASCII case.
    bool matches(std::string_view name) const noexcept;

    // The lower-cased literal text every match starts with (lets a store seek instead of scan).
    const std::string& literal_prefix() const noexcept { return prefix_; }

   private:
    enum class Kind { literal, any_one, any_run };
    struct Token {
        Kind kind;
        char ch;  // lower-cased, for literals
    };
    std::vector<Token> tokens_;
    std::string prefix_;
};

}  // namespace chat
