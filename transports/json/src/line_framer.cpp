// LineFramer: the out-of-line parts (see line_framer.hpp).
#include "line_framer.hpp"

namespace chat::json_transport {

LineFramer::Status LineFramer::fail() {
    too_large_ = true;
    std::string().swap(partial_);
    return Status::too_large;
}

void LineFramer::release_partial() {
    // An idle connection should not keep a big buffer around after one large frame.
    constexpr std::size_t kKeepCapacity = 4096;
    if (partial_.capacity() > kKeepCapacity) {
        std::string().swap(partial_);
    } else {
        partial_.clear();
    }
}

bool LineFramer::is_blank(std::string_view frame) noexcept {
    for (char c : frame) {
        if (c != ' ' && c != '\t' && c != '\r') return false;
    }
    return true;
}

}  // namespace chat::json_transport
