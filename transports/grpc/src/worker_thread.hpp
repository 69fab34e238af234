// WorkerThread: one thread running posted tasks in order. The gRPC server uses one to start
// stream writes outside the core's locks (a Sink must only enqueue). (The client's callbacks run
// on chat::Delivery, the seam's piece every client shares.)
// Thread use: post() and stop() from any thread; stop() from the worker itself does not join.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace chat::grpc_transport {

class WorkerThread final {
   public:
    // `name`: the thread's name as tools show it (at most 15 characters are kept).
    explicit WorkerThread(const char* name = "chat-worker");
    ~WorkerThread();  // stop()
    WorkerThread(const WorkerThread&) = delete;
    WorkerThread& operator=(const WorkerThread&) = delete;

    // Queues `task`; false (and `task` dropped) once stop() has begun.
    bool post(std::function<void()> task);

    // Runs the tasks already queued, then ends the thread and joins it (unless called from the
    // worker itself, which then ends after the current task). Idempotent.
    void stop();

    bool on_worker() const noexcept { return std::this_thread::get_id() == id_; }

   private:
    void run(const char* name);

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> tasks_;
    bool stopping_ = false;
    std::thread thread_;  // after the state above: starts once it exists
    std::thread::id id_;  // thread_'s id, kept apart so reading it never races with join()
};

}  // namespace chat::grpc_transport
