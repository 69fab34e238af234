// EpollLoad: the one-thread epoll engine of the raw-socket loads (see epoll_load.hpp).
#include "epoll_load.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>

#include "account_setup.hpp"
#include "socket_bytes.hpp"

namespace chat::bench {

namespace {
constexpr std::chrono::seconds kDrainTimeout{30};
}

void EpollLoad::setup() {
    for (unsigned i = 0; i < options_.pairs; ++i) {
        auto r = std::make_unique<Conn>();
        r->name = target_.name_prefix + "r" + std::to_string(i);
        r->endpoint = target_.receiver_endpoint(i);
        add_tally(r->tally);
        receivers_.push_back(std::move(r));
    }
    for (unsigned i = 0; i < options_.pairs; ++i) {
        auto s = std::make_unique<Conn>();
        s->sender = true;
        s->name = target_.name_prefix + "s" + std::to_string(i);
        s->endpoint = target_.sender_endpoint(i);
        s->to = receivers_[i]->name;
        senders_.push_back(std::move(s));
    }
    std::vector<Conn*> all;
    for (auto& r : receivers_) all.push_back(r.get());
    for (auto& s : senders_) all.push_back(s.get());
    run_parallel(all.size(), [&](std::size_t i) { open(*all[i]); });

    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_ < 0 || wake_ < 0) throw std::runtime_error("epoll/eventfd failed");
    epoll_event wake_event{};
    wake_event.events = EPOLLIN;
    wake_event.data.ptr = nullptr;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &wake_event);
    for (Conn* c : all) {
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.ptr = c;
        epoll_ctl(epoll_, EPOLL_CTL_ADD, c->fd, &event);
    }
}

void EpollLoad::start() {
    running_ = true;
    stopping_ = false;
    io_thread_ = std::thread([this] { serve(); });
}

void EpollLoad::stop() {
    if (!io_thread_.joinable()) return;
    stopping_ = true;
    running_ = false;
    const std::uint64_t one = 1;
    (void)::write(wake_, &one, sizeof one);
    io_thread_.join();
}

void EpollLoad::close() {
    stop();
    forget_tallies();
    for (auto* list : {&senders_, &receivers_}) {
        for (auto& c : *list) {
            if (c->fd >= 0) ::close(c->fd);
        }
        list->clear();
    }
    if (epoll_ >= 0) ::close(epoll_);
    if (wake_ >= 0) ::close(wake_);
    epoll_ = wake_ = -1;
}

LoadCounters EpollLoad::counters() {
    LoadCounters c = shared_counters();
    for (auto& s : senders_) c.senders += wire_bytes({s->fd});
    for (auto& r : receivers_) c.receivers += wire_bytes({r->fd});
    return c;
}

void EpollLoad::sent(Conn& s, bool ok) {
    if (s.inflight > 0) --s.inflight;
    count_send(ok);
    if (ok && options_.rate <= 0 && running_.load(std::memory_order_relaxed)) {
        queue_send(s, now_nanos());
    }
}

void EpollLoad::mark_dirty(Conn& c) {
    if (!c.dirty) {
        c.dirty = true;
        dirty_.push_back(&c);
    }
}

void EpollLoad::queue_send(Conn& s, std::uint64_t stamp) {
    make_body(stamp, options_.size, body_);
    append_send(s, body_);
    ++s.inflight;
    mark_dirty(s);
}

bool EpollLoad::on_readable(Conn& c) {
    const ssize_t n = ::read(c.fd, read_buffer_->data(), read_buffer_->size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    if (n <= 0) return false;
    return on_data(c, std::string_view(read_buffer_->data(), static_cast<std::size_t>(n)));
}

bool EpollLoad::flush(Conn& c) {
    while (!c.out.empty()) {
        const ssize_t n = ::write(c.fd, c.out.data(), c.out.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n <= 0) return false;
        c.out.erase(0, static_cast<std::size_t>(n));
    }
    const bool want = !c.out.empty();
    if (want != c.want_write) {
        c.want_write = want;
        epoll_event event{};
        event.events = EPOLLIN | (want ? EPOLLOUT : 0u);
        event.data.ptr = &c;
        epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &event);
    }
    return true;
}

void EpollLoad::flush_dirty(bool& broken) {
    for (Conn* c : dirty_) {
        c->dirty = false;
        if (!flush(*c)) broken = true;
    }
    dirty_.clear();
}

bool EpollLoad::drained() const {
    for (const auto& s : senders_) {
        if (s->inflight > 0) return false;
    }
    return delivered_total() >= sent_ok_total();
}

void EpollLoad::serve() {
    const bool open_loop = options_.rate > 0;
    const double interval = open_loop ? 1e9 / options_.rate : 0;
    const std::uint64_t start = now_nanos();
    std::uint64_t k = 0;
    if (!open_loop) {
        for (auto& s : senders_) {
            for (unsigned i = 0; i < options_.window; ++i) queue_send(*s, now_nanos());
        }
    }
    std::array<epoll_event, 256> events;
    std::uint64_t drain_deadline = 0;
    bool broken = false;
    for (;;) {
        flush_dirty(broken);
        if (stopping_.load(std::memory_order_relaxed)) {
            if (drain_deadline == 0) {
                drain_deadline = now_nanos() + static_cast<std::uint64_t>(
                                                   std::chrono::nanoseconds(kDrainTimeout).count());
            }
            if (broken || drained() || now_nanos() > drain_deadline) return;
        }
        timespec timeout{0, 100'000'000};  // look at the stop flag at least this often
        std::uint64_t due = 0;
        if (open_loop && running_.load(std::memory_order_relaxed)) {
            due = start + static_cast<std::uint64_t>(static_cast<double>(k) * interval);
            const std::uint64_t now = now_nanos();
            const std::uint64_t wait = due > now ? due - now : 0;
            if (wait < 100'000'000u) {
                timeout.tv_sec = 0;
                timeout.tv_nsec = static_cast<long>(wait);
            }
        }
        const int n =
            epoll_pwait2(epoll_, events.data(), static_cast<int>(events.size()), &timeout, nullptr);
        for (int i = 0; i < n; ++i) {
            auto* c = static_cast<Conn*>(events[static_cast<std::size_t>(i)].data.ptr);
            if (c == nullptr) {
                std::uint64_t value = 0;
                (void)::read(wake_, &value, sizeof value);
                continue;
            }
            const auto flags = events[static_cast<std::size_t>(i)].events;
            if ((flags & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 && !on_readable(*c)) {
                broken = true;
                count_send(false);
            }
            if ((flags & EPOLLOUT) != 0) mark_dirty(*c);
        }
        if (open_loop && running_.load(std::memory_order_relaxed)) {
            // Every send that has come due, stamped with its due time.
            for (std::uint64_t now = now_nanos();; ++k) {
                due = start + static_cast<std::uint64_t>(static_cast<double>(k) * interval);
                if (due > now) break;
                Conn& s = *senders_[k % senders_.size()];
                if (s.inflight >= options_.window) {
                    count_skipped();
                } else {
                    queue_send(s, due);
                }
            }
        }
        if (broken) running_ = false;
    }
}

}  // namespace chat::bench
