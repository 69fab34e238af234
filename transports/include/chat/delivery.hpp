// Delivery: the client-side half of push delivery that every chat::Client shares, whatever its
// wire. A transport decodes pushes and hands them here; Delivery runs the application's
// handlers on a thread of its own, in arrival order, hands each message over once when
// auto_ack is on (bounded de-duplication by id, see PushDedup) and acks what it handed over in
// batches, through a function the transport gives it (docs/protocol.md, `ack`).
//
// Auto-ack batching: ids collect while handlers run; one ack for all of them goes out when the
// queue has run dry and no earlier ack is still waiting for its reply. A repeat is acked again
// (the server re-sends only what it still holds); with no message handler nothing is acked
// (nobody saw it, so it stays queued on the server).
//
// Thread use: every method may be called from any thread, also from inside a handler. After
// close() returns no message, logged-out or disconnect handler runs and no ack starts; tasks
// given to post() still run, in order, until the Delivery is destroyed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "chat/transport.hpp"

namespace chat {

class Delivery final {
   public:
    // Sends one ack for `ids`; must call `done` exactly once when the reply came or the ack
    // failed or could not start (from any thread, also at once from inside the call).
    using AckSender = std::function<void(std::vector<MessageId> ids, std::function<void()> done)>;

    // `thread_name`: the callback thread's name as tools show it (at most 15 characters kept).
    explicit Delivery(bool auto_ack, const char* thread_name = "chat-callbacks",
                      std::size_t dedup_capacity = 65536);
    // close(), then runs the tasks already posted and ends the thread (joins it, unless it is
    // destroyed from inside one of its own tasks: the thread then ends by itself).
    ~Delivery();
    Delivery(const Delivery&) = delete;
    Delivery& operator=(const Delivery&) = delete;

    // Set before the first push arrives (in practice: before connect()).
    void on_message(Client::MessageHandler handler);
    void on_logged_out(Client::LoggedOutHandler handler);
    void on_disconnect(Client::DisconnectHandler handler);
    void set_ack_sender(AckSender sender);

    // What the transport decoded; each is queued behind everything queued before.
    void message(Message message);
    void logged_out(LogoutReason reason);
    void disconnected(Error error);
    // Any other work for the callback thread (e.g. send_async completions), in the same order.
    // False (and `task` dropped) only once the Delivery is being destroyed.
    bool post(std::function<void()> task);

    // Between hold() and release() queued work wakes the callback thread only once, at
    // release(): a transport wraps the events of one read in them. Calls may nest.
    void hold();
    void release();

    // Stops the handlers and acks (see above) and waits until the callback thread has finished
    // what it is running; from inside a handler it returns at once. Idempotent.
    void close();
    // Waits until everything posted before has run (at once on the callback thread).
    void drain();

    bool on_callback_thread() const noexcept;

   private:
    struct State;
    static void run(const std::shared_ptr<State>& state, const char* name);

    std::shared_ptr<State> state_;  // shared with the thread, which may outlive this object
    std::thread thread_;
    std::thread::id thread_id_;  // kept apart so reading it never races with join()
};

}  // namespace chat
