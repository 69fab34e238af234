// The shared TLS policy (see tls_policy.hpp).
#include "chat/tls_policy.hpp"

#include <algorithm>
#include <vector>

namespace chat::tls_policy {

namespace {

std::vector<std::string_view> split(std::string_view list) {
    std::vector<std::string_view> out;
    while (!list.empty()) {
        const auto colon = list.find(':');
        auto item = list.substr(0, colon);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (!item.empty()) out.push_back(item);
        if (colon == std::string_view::npos) break;
        list.remove_prefix(colon + 1);
    }
    return out;
}

}  // namespace

std::string allowed_tls12_ciphers(std::string_view requested) {
    const auto allowed = split(kTls12Ciphers);
    std::vector<std::string_view> chosen;
    for (const auto item : split(requested)) {
        const bool ok = std::find(allowed.begin(), allowed.end(), item) != allowed.end();
        if (ok && std::find(chosen.begin(), chosen.end(), item) == chosen.end()) {
            chosen.push_back(item);
        }
    }
    if (chosen.empty()) return std::string(kTls12Ciphers);
    std::string out;
    for (const auto item : chosen) {
        if (!out.empty()) out += ':';
        out += item;
    }
    return out;
}

}  // namespace chat::tls_policy
