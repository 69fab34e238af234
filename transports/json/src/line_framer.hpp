// LineFramer: splits a byte stream into JSON Lines frames with a hard bound on how much of an
// unfinished line it keeps. A frame is the bytes before '\n', minus one trailing '\r'; frames
// that are empty or only blanks are skipped. A frame longer than `max_frame` bytes is reported
// once as too large and the framer then refuses all further input (the caller closes).
// Thread use: not thread-safe; one per connection, used from that connection's strand/thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace chat::json_transport {

class LineFramer final {
   public:
    enum class Status { ok, too_large };

    explicit LineFramer(std::size_t max_frame) : max_frame_(max_frame) {}

    // Calls `on_frame(std::string_view)` for every complete frame in `bytes`, in order. The view
    // is valid only during the call. Returns too_large (and stops) at the first oversized frame;
    // after that, every call returns too_large without looking at its input.
    template <class OnFrame>
    Status feed(std::string_view bytes, OnFrame&& on_frame) {
        if (too_large_) return Status::too_large;
        while (!bytes.empty()) {
            auto newline = bytes.find('\n');
            if (newline == std::string_view::npos) {
                // Keep at most max_frame + 1 bytes: the +1 is a '\r' that may end the frame.
                if (partial_.size() + bytes.size() > max_frame_ + 1) return fail();
                partial_.append(bytes);
                return Status::ok;
            }
            std::string_view piece = bytes.substr(0, newline);
            bytes.remove_prefix(newline + 1);
            std::string_view frame;
            if (partial_.empty()) {
                frame = piece;  // the common case: the whole line is in this read, no copy
            } else {
                if (partial_.size() + piece.size() > max_frame_ + 1) return fail();
                partial_.append(piece);
                frame = partial_;
            }
            if (!frame.empty() && frame.back() == '\r') frame.remove_suffix(1);
            if (frame.size() > max_frame_) return fail();
            if (!is_blank(frame)) on_frame(frame);
            if (!partial_.empty()) release_partial();
        }
        return Status::ok;
    }

    // Bytes of an unfinished frame held right now.
    std::size_t pending_bytes() const noexcept { return partial_.size(); }
    std::size_t max_frame() const noexcept { return max_frame_; }
    // Empty, or only spaces, tabs and '\r': skipped, never a request.
    static bool is_blank(std::string_view frame) noexcept;

   private:
    Status fail();
    void release_partial();

    std::size_t max_frame_;
    std::string partial_;
    bool too_large_ = false;
};

}  // namespace chat::json_transport
