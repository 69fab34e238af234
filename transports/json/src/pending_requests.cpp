// PendingRequests: request ids, the outbox and the reply table of the JSON client.
#include "pending_requests.hpp"

#include <charconv>
#include <utility>

namespace chat::json_transport {

void PendingRequests::open() {
    std::lock_guard lock(mutex_);
    accepting_ = true;
}

PendingRequests::Submitted PendingRequests::submit(std::string_view open_frame,
                                                   ReplyHandler on_reply) {
    Submitted out;
    // Why the connection is gone, when the server said so (e.g. server_busy) before we asked.
    std::optional<Error> refused;
    {
        std::lock_guard lock(mutex_);
        if (accepting_) {
            out.id = next_id_++;
            pending_.emplace(out.id, std::move(on_reply));
            outbox_.append(open_frame);
            outbox_.append(open_frame.size() > 1 ? ",\"id\":" : "\"id\":");
            char digits[24];
            auto [end, ec] = std::to_chars(digits, digits + sizeof digits, out.id);
            (void)ec;
            outbox_.append(digits, end);
            outbox_.append("}\n");
            out.post_flush = !flush_posted_;
            flush_posted_ = true;
            return out;
        }
        refused = closing_error_;
    }
    if (on_reply) on_reply(refused ? *refused : make_error(Errc::internal, "not connected"));
    return out;
}

void PendingRequests::take_outbox(std::string& out) {
    std::lock_guard lock(mutex_);
    flush_posted_ = false;
    if (out.empty()) {
        out.swap(outbox_);
    } else {
        out.append(outbox_);
        outbox_.clear();
    }
}

void PendingRequests::forget(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    pending_.erase(id);
}

PendingRequests::ReplyHandler PendingRequests::take(std::optional<std::uint64_t> id) {
    std::lock_guard lock(mutex_);
    auto it = id ? pending_.find(*id) : pending_.begin();
    if (it == pending_.end()) return {};
    ReplyHandler handler = std::move(it->second);
    pending_.erase(it);
    return handler;
}

void PendingRequests::set_closing_error(Error error) {
    std::lock_guard lock(mutex_);
    closing_error_ = std::move(error);
}

std::optional<Error> PendingRequests::closing_error() {
    std::lock_guard lock(mutex_);
    return closing_error_;
}

void PendingRequests::fail_all(const Error& error) {
    std::map<std::uint64_t, ReplyHandler> failed;
    {
        std::lock_guard lock(mutex_);
        accepting_ = false;
        failed.swap(pending_);
    }
    for (auto& [id, handler] : failed) {
        if (handler) handler(error);
    }
}

}  // namespace chat::json_transport
