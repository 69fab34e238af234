// RequestPipeline: the request side of one JSON server connection: bytes -> frames (a bounded
// LineFramer) -> envelope checks -> rate limit -> op table -> replies in request order.
//
// Sends are pipelined: up to kMaxPipelined of them may be with the core at once (so a burst
// shares one SQLite group commit), each holding a reply slot, and replies leave strictly in slot
// order. Every other op is a barrier: it starts only when nothing is in flight and nothing starts
// until it is answered, so a request always sees the effects of the ones before it. Frames that
// cannot be dispatched yet wait in a bounded backlog; reading pauses while it is full. No
// request is dispatched while the connection's outbound buffer is over its limit.
//
// The pipeline belongs to its FrameConnection and works through it: replies go to its outbound
// queue, ops run against it, and it is told when to stop (docs/protocol.md describes the
// envelope, the order of replies and the limits).
// Thread use: the connection's strand only.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/error.hpp"
#include "chat/limits.hpp"
#include "chat/token_bucket.hpp"
#include "codec.hpp"
#include "line_framer.hpp"

namespace chat::json_transport {

class FrameConnection;
struct OpRow;

// The reply fields of an op, already serialized: `"key":value,...` without braces.
struct EncodedFields {
    std::string text;
};

class RequestPipeline final {
   public:
    RequestPipeline(FrameConnection& connection, const Limits& limits);

    // --- Input. ---
    // Bytes from the peer: complete frames are dispatched at once or kept in the backlog.
    void on_bytes(std::string_view bytes);
    // One whole frame, for a wire that delimits frames itself (a WebSocket message; the caller
    // has bounded it by Limits::max_frame): dispatched at once or kept in the backlog. Blank
    // frames are skipped, as blank lines are.
    void on_frame(std::string_view frame);
    // The input ends with something that is no frame (too large, of the wrong kind): once the
    // requests before it are answered, `error` goes out (with "id":null) as the last reply and
    // the connection winds down giving `reason`.
    void refuse_input(Error error, const char* reason);
    // The peer is done sending.
    void end_input() noexcept { input_ended_ = true; }
    // False once the input ended (EOF, or a frame too large) or while the backlog is full.
    bool wants_input() const noexcept;
    // Dispatches from the backlog as far as the rules allow.
    void pump();
    // True while dispatching: replies completed meanwhile must not start another pump().
    bool dispatching() const noexcept { return in_pump_; }
    // Nothing is in flight.
    bool idle() const noexcept { return slot_head_ == slots_.size(); }
    // The input ended and every request read has been answered.
    bool finished() const noexcept { return input_ended_ && backlog_.empty() && idle(); }
    // The connection winds down: nothing read ahead is answered any more.
    void drop_backlog();
    // The connection closed: forgets every request.
    void clear();

    // --- Answering. ---
    // The request being dispatched, to answer later with finish().
    std::uint64_t current() const noexcept { return current_seq_; }
    // Answers request `seq` (once; later answers, and answers after clear(), are ignored).
    void finish(std::uint64_t seq, Result<json::object> fields);
    void finish(std::uint64_t seq, Result<EncodedFields> fields);

   private:
    struct Pending {
        std::string frame;
        std::optional<Error> refusal{};  // refuse_input(): the last thing answered
        const char* reason = nullptr;
    };
    // A dispatched request whose reply has not left yet.
    struct Slot {
        std::string id_json = "null";  // the request's id, serialized, echoed in the reply
        std::string frame;             // the reply, once ready
        bool ready = false;
        bool barrier = false;  // not a send: it runs alone
    };

    bool backlog_full() const noexcept;
    // A frame read: dispatched at once when nothing waits before it, else kept in the backlog.
    void accept_frame(std::string_view frame);
    // Dispatches `frame`, or returns false having done nothing when it must wait for the
    // requests in flight.
    bool try_dispatch(std::string_view frame);
    // What is wrong with the request's envelope (JSON, object, id), if anything; records a
    // usable id in the current slot.
    std::optional<Error> check_envelope(const boost::system::error_code& parse_error,
                                        const json::object* request);
    // What stops the op from running, if anything; sets `row` to the op's row.
    std::optional<Error> check_op(const json::value& request, const json::value* op,
                                  const OpRow*& row) const;
    void open_slot(bool barrier);
    Slot* slot_of(std::uint64_t seq) noexcept;
    void complete(Slot& slot);

    FrameConnection& connection_;
    const Limits& limits_;

    LineFramer framer_;
    std::deque<Pending> backlog_;  // frames read ahead that cannot be dispatched yet
    std::size_t backlog_bytes_ = 0;
    bool input_ended_ = false;  // EOF seen or input refused (too large)
    bool in_pump_ = false;      // dispatching: completions must not re-enter pump()

    // Requests in flight, oldest first: slots_[slot_head_..]. A vector compacted as it goes, so
    // an idle connection holds no allocation for it.
    std::vector<Slot> slots_;
    std::size_t slot_head_ = 0;
    std::uint64_t head_seq_ = 0;     // the sequence number of slots_[slot_head_]
    std::uint64_t current_seq_ = 0;  // the request being dispatched
    bool barrier_ = false;           // a barrier request is in flight

    TokenBucket rate_;
};

}  // namespace chat::json_transport
