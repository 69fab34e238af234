// Delivery: the callback thread, de-duplication and auto-ack batching of every chat::Client.
#include "chat/delivery.hpp"

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <utility>

#include "chat/push_dedup.hpp"

namespace chat {

struct Delivery::State {
    State(bool ack, std::size_t dedup_capacity) : auto_ack(ack), dedup(dedup_capacity) {}

    // Queues `task`, waking the thread unless held. False once stopping.
    bool enqueue(std::function<void()> task) {
        std::lock_guard lock(mu);
        if (stopping) return false;
        tasks.push_back(std::move(task));
        if (held > 0) {
            wake_pending = true;
            return true;
        }
        // Under the lock: the task may destroy its Delivery (and this state) as soon as the
        // thread can take it, so nothing here may touch the state after the unlock.
        cv.notify_one();
        return true;
    }

    bool is_closed() {
        std::lock_guard lock(mu);
        return closed;
    }

    // Callback thread: one pushed message.
    void hand_over(const Message& m) {
        if (is_closed() || !message_handler) return;  // nobody took it: it stays queued
        if (!auto_ack) {
            message_handler(m);
            return;
        }
        if (dedup.first_time(m.id)) message_handler(m);
        std::lock_guard lock(mu);
        // Also a repeat: the server re-sends only what it still holds.
        if (!closed) acks.push_back(m.id);
    }

    // Under mu: an ack should go out now.
    bool ack_due() const {
        return !closed && !ack_in_flight && !acks.empty() && tasks.empty() && ack_sender;
    }

    const bool auto_ack;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> tasks;
    bool closed = false;    // no more handlers or acks
    bool stopping = false;  // the thread ends once the queue is empty
    int held = 0;
    bool wake_pending = false;
    std::vector<MessageId> acks;  // handed over, not yet acked
    bool ack_in_flight = false;

    // Set before the first push; read on the callback thread only.
    Client::MessageHandler message_handler;
    Client::LoggedOutHandler logged_out_handler;
    Client::DisconnectHandler disconnect_handler;
    AckSender ack_sender;
    PushDedup dedup;  // callback thread only
};

Delivery::Delivery(bool auto_ack, const char* thread_name, std::size_t dedup_capacity)
    : state_(std::make_shared<State>(auto_ack, dedup_capacity)),
      thread_([state = state_, thread_name] { run(state, thread_name); }),
      thread_id_(thread_.get_id()) {}

Delivery::~Delivery() {
    {
        std::lock_guard lock(state_->mu);
        state_->closed = true;
        state_->stopping = true;
    }
    state_->cv.notify_all();
    if (!thread_.joinable()) return;
    if (on_callback_thread()) {
        thread_.detach();  // destroyed from a handler: the loop ends by itself
    } else {
        thread_.join();
    }
}

void Delivery::on_message(Client::MessageHandler handler) {
    state_->message_handler = std::move(handler);
}
void Delivery::on_logged_out(Client::LoggedOutHandler handler) {
    state_->logged_out_handler = std::move(handler);
}
void Delivery::on_disconnect(Client::DisconnectHandler handler) {
    state_->disconnect_handler = std::move(handler);
}
void Delivery::set_ack_sender(AckSender sender) {
    std::lock_guard lock(state_->mu);
    state_->ack_sender = std::move(sender);
}

void Delivery::message(Message message) {
    state_->enqueue([s = state_.get(), m = std::move(message)] { s->hand_over(m); });
}

void Delivery::logged_out(LogoutReason reason) {
    state_->enqueue([s = state_.get(), reason] {
        if (!s->is_closed() && s->logged_out_handler) s->logged_out_handler(reason);
    });
}

void Delivery::disconnected(Error error) {
    state_->enqueue([s = state_.get(), e = std::move(error)] {
        if (!s->is_closed() && s->disconnect_handler) s->disconnect_handler(e);
    });
}

bool Delivery::post(std::function<void()> task) { return state_->enqueue(std::move(task)); }

void Delivery::hold() {
    std::lock_guard lock(state_->mu);
    ++state_->held;
}

void Delivery::release() {
    {
        std::lock_guard lock(state_->mu);
        if (--state_->held > 0 || !state_->wake_pending) return;
        state_->wake_pending = false;
        state_->cv.notify_one();  // under the lock, as in enqueue()
    }
}

void Delivery::close() {
    {
        std::lock_guard lock(state_->mu);
        state_->closed = true;
        state_->acks.clear();
    }
    drain();  // also when closed before: a handler may still be running
}

void Delivery::drain() {
    if (on_callback_thread()) return;
    std::promise<void> drained;
    auto done = drained.get_future();
    if (post([&drained] { drained.set_value(); })) done.wait();
}

bool Delivery::on_callback_thread() const noexcept {
    return std::this_thread::get_id() == thread_id_;
}

void Delivery::run(const std::shared_ptr<State>& state, const char* name) {
    pthread_setname_np(pthread_self(), name);
    State& s = *state;
    std::unique_lock lock(s.mu);
    std::deque<std::function<void()>> batch;
    for (;;) {
        s.cv.wait(lock, [&s] { return s.stopping || !s.tasks.empty() || s.ack_due(); });
        if (!s.tasks.empty()) {
            // Everything queued so far, taken under one lock.
            batch.swap(s.tasks);
            lock.unlock();
            for (auto& task : batch) {
                task();
                task = nullptr;  // release captures outside the lock
            }
            batch.clear();
            lock.lock();
            continue;
        }
        if (s.ack_due()) {
            std::vector<MessageId> ids;
            ids.swap(s.acks);
            s.ack_in_flight = true;
            lock.unlock();
            s.ack_sender(std::move(ids), [state] {
                {
                    std::lock_guard done_lock(state->mu);
                    state->ack_in_flight = false;
                }
                state->cv.notify_one();
            });
            lock.lock();
            continue;
        }
        return;  // stopping and drained
    }
}

}  // namespace chat
