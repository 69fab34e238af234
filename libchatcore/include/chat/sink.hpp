// Sink: how the core reaches a live session. A transport implements one per connection (JSON) or
// per push stream (gRPC) and attaches it to a session; the core calls it for every push.
// Thread use: the core calls a sink from any thread, possibly several at once, sometimes while
// holding the session registry's lock. A sink must only enqueue and return: never block, never
// do I/O inline, never call back into ChatService.
#pragma once

#include "chat/types.hpp"

namespace chat {

class Sink {
   public:
    virtual ~Sink() = default;
    // A new message for this session's user.
    virtual void deliver(const Message& message) = 0;
    // The session ended on the server's side; no push follows.
    virtual void logged_out(LogoutReason reason) = 0;
};

}  // namespace chat
