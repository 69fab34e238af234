// PendingRequests: the JSON client's table of requests waiting for their reply, and the outbox
// their frames wait in until the I/O thread writes them. Replies are matched by the request id
// the client adds to each frame (docs/protocol.md, "Requests", "Replies").
// Thread use: every method from any thread (one mutex); reply handlers run on the caller of
// submit() (refused at once), take() or fail_all(), never under the lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "chat/error.hpp"
#include "codec.hpp"

namespace chat::json_transport {

class PendingRequests final {
   public:
    using ReplyHandler = std::function<void(Result<json::object>)>;

    struct Submitted {
        std::uint64_t id = 0;     // 0: refused (not connected, broken or closed)
        bool post_flush = false;  // the caller must have the I/O thread call take_outbox()
    };

    // From now on submit() accepts requests (once connected).
    void open();

    // `open_frame` is a request object without its closing brace (`{"op":"send",...`): the id
    // is added, the frame closed and appended to the outbox. Frames submitted while a flush is
    // pending leave with it, in one write. When refused, `on_reply` runs at once with the
    // reason.
    Submitted submit(std::string_view open_frame, ReplyHandler on_reply);

    // I/O thread: everything submitted since the last call (appended to `out`).
    void take_outbox(std::string& out);

    // A request the caller stopped waiting for (timed out): its reply is dropped.
    void forget(std::uint64_t id);

    // The handler waiting for reply `id`, or for the oldest request when the reply carries no
    // id; empty when nobody waits (timed out already, or nothing pending).
    ReplyHandler take(std::optional<std::uint64_t> id);

    // Why the server is about to drop the connection (an error reply without an id).
    void set_closing_error(Error error);
    std::optional<Error> closing_error();

    // Stops accepting and fails every request still waiting with `error`.
    void fail_all(const Error& error);

   private:
    std::mutex mutex_;
    std::map<std::uint64_t, ReplyHandler> pending_;  // by id: oldest first
    std::uint64_t next_id_ = 1;
    bool accepting_ = false;  // connected and not broken or closed
    std::string outbox_;      // frames submitted, not yet taken by the I/O thread
    bool flush_posted_ = false;
    std::optional<Error> closing_error_;
};

}  // namespace chat::json_transport
