// redact_postgres_url: a connection string fit for logs and error messages. Handles both forms
// libpq accepts: the URI (postgresql://user:password@host/db?password=...) and key=value pairs
// (password=secret or password='quoted \' secret').
// Thread use: a pure function.
#include <cctype>
#include <string>
#include <string_view>

#include "chat/postgres_store.hpp"

namespace chat {

namespace {

constexpr std::string_view kHidden = "***";

bool is_uri(std::string_view url) {
    return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

std::string redact_uri(std::string_view url) {
    const std::size_t authority = url.find("://") + 3;
    // The authority ends at the path, the query or the fragment.
    std::size_t authority_end = url.find_first_of("/?#", authority);
    if (authority_end == std::string_view::npos) authority_end = url.size();
    std::string out(url.substr(0, authority));
    std::string_view hosts = url.substr(authority, authority_end - authority);
    // user:password@ — the last '@' ends the user info (an unencoded '@' may be in it).
    if (const auto at = hosts.rfind('@'); at != std::string_view::npos) {
        const std::string_view user_info = hosts.substr(0, at);
        if (const auto colon = user_info.find(':'); colon != std::string_view::npos) {
            out.append(user_info.substr(0, colon + 1));
            out.append(kHidden);
        } else {
            out.append(user_info);
        }
        hosts.remove_prefix(at);
    }
    out.append(hosts);

    // ?...&password=...&...
    std::string_view rest = url.substr(authority_end);
    const auto query = rest.find('?');
    if (query == std::string_view::npos) {
        out.append(rest);
        return out;
    }
    out.append(rest.substr(0, query + 1));
    rest.remove_prefix(query + 1);
    bool first = true;
    while (!rest.empty() || first) {
        const auto amp = rest.find('&');
        std::string_view param = rest.substr(0, amp);
        if (!first) out.push_back('&');
        first = false;
        const auto eq = param.find('=');
        if (eq != std::string_view::npos && param.substr(0, eq) == "password") {
            out.append("password=");
            out.append(kHidden);
        } else {
            out.append(param);
        }
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
    }
    return out;
}

// key = value pairs separated by whitespace; a value is a bare word or a single-quoted string
// with backslash escapes.
std::string redact_pairs(std::string_view text) {
    std::string out;
    std::size_t i = 0;
    const auto space = [&](std::size_t at) {
        return at < text.size() && std::isspace(static_cast<unsigned char>(text[at]));
    };
    while (i < text.size()) {
        const std::size_t start = i;
        while (space(i)) ++i;
        std::size_t key_end = i;
        while (key_end < text.size() && text[key_end] != '=' && !space(key_end)) ++key_end;
        const std::string_view key = text.substr(i, key_end - i);
        std::size_t j = key_end;
        while (space(j)) ++j;
        if (j >= text.size() || text[j] != '=') {
            // Not a pair (malformed): keep it as it is up to here.
            out.append(text.substr(start, j - start));
            i = j;
            continue;
        }
        ++j;
        while (space(j)) ++j;
        const std::size_t value_start = j;
        if (j < text.size() && text[j] == '\'') {
            ++j;
            while (j < text.size() && text[j] != '\'') {
                if (text[j] == '\\' && j + 1 < text.size()) ++j;
                ++j;
            }
            if (j < text.size()) ++j;  // the closing quote
        } else {
            while (j < text.size() && !space(j)) {
                if (text[j] == '\\' && j + 1 < text.size()) ++j;
                ++j;
            }
        }
        out.append(text.substr(start, value_start - start));
        out.append(key == "password" ? kHidden : text.substr(value_start, j - value_start));
        i = j;
    }
    return out;
}

}  // namespace

std::string redact_postgres_url(std::string_view url) {
    return is_uri(url) ? redact_uri(url) : redact_pairs(url);
}

}  // namespace chat
