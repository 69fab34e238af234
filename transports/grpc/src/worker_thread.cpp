// WorkerThread: a task queue drained by one thread.
#include "worker_thread.hpp"

#include <pthread.h>

#include <utility>

namespace chat::grpc_transport {

WorkerThread::WorkerThread(const char* name)
    : thread_([this, name] { run(name); }), id_(thread_.get_id()) {}

WorkerThread::~WorkerThread() {
    stop();
    // Only reachable when the owner is destroyed from inside one of its own tasks.
    if (thread_.joinable()) thread_.detach();
}

bool WorkerThread::post(std::function<void()> task) {
    {
        std::lock_guard lock(mu_);
        if (stopping_) return false;
        tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return true;
}

void WorkerThread::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_one();
    if (!on_worker() && thread_.joinable()) thread_.join();
}

void WorkerThread::run(const char* name) {
    pthread_setname_np(pthread_self(), name);
    std::unique_lock lock(mu_);
    for (;;) {
        cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // stopping and drained
        auto task = std::move(tasks_.front());
        tasks_.pop_front();
        lock.unlock();
        task();
        task = nullptr;  // release captures outside the lock as well
        lock.lock();
    }
}

}  // namespace chat::grpc_transport
