// StringHash: a transparent hash for unordered maps keyed by std::string, so lookups by
// std::string_view find entries without building a std::string. Use it with std::equal_to<>.
// Thread use: stateless.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace chat::grpc_transport {

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

}  // namespace chat::grpc_transport
