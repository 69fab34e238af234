// Glob matching for list_accounts: iterative matcher with single-star backtracking, so the cost
// is O(pattern * name) at worst and no input can make it recurse or blow up.
#include "chat/account_pattern.hpp"

namespace chat {
namespace {

char fold(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

AccountPattern::AccountPattern(std::string_view pattern) {
    if (pattern.empty()) pattern = "*";
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '\\') {
            // An escape takes the next character literally; a trailing one is a literal '\'.
            const char lit = (i + 1 < pattern.size()) ? pattern[++i] : '\\';
            tokens_.push_back({Kind::literal, fold(lit)});
        } else if (c == '*') {
            if (tokens_.empty() || tokens_.back().kind != Kind::any_run) {
                tokens_.push_back({Kind::any_run, 0});
            }
        } else if (c == '?') {
            tokens_.push_back({Kind::any_one, 0});
        } else {
            tokens_.push_back({Kind::literal, fold(c)});
        }
    }
    for (const Token& t : tokens_) {
        if (t.kind != Kind::literal) break;
        prefix_.push_back(t.ch);
    }
}

bool AccountPattern::matches(std::string_view name) const noexcept {
    std::size_t t = 0;
    std::size_t n = 0;
    std::size_t star_t = std::string_view::npos;  // token index after the last '*'
    std::size_t star_n = 0;                       // name index that '*' currently swallows up to
    while (n < name.size()) {
        if (t < tokens_.size()) {
            const Token& tok = tokens_[t];
            if (tok.kind == Kind::any_run) {
                star_t = ++t;
                star_n = n;
                continue;
            }
            if (tok.kind == Kind::any_one || tok.ch == fold(name[n])) {
                ++t;
                ++n;
                continue;
            }
        }
        if (star_t == std::string_view::npos) return false;
        t = star_t;
        n = ++star_n;
    }
    while (t < tokens_.size() && tokens_[t].kind == Kind::any_run) ++t;
    return t == tokens_.size();
}

}  // namespace chat
