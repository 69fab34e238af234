// LeanJsonLoad: the load over raw JSON Lines sockets, all of them served by one epoll thread,
// for when chat::Client itself would be the bottleneck and hide the server (--client=lean).
// It speaks just enough of the protocol: create_account, login, pipelined sends, and one
// `ack up_to` per batch of pushes read (as an auto-acking client does). See load.hpp.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "account_setup.hpp"
#include "load.hpp"
#include "raw_json.hpp"

namespace chat::bench {

namespace {

constexpr std::chrono::seconds kDrainTimeout{30};
constexpr std::size_t kReadChunk = 256 * 1024;

void append_number(std::string& out, std::uint64_t value) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    (void)ec;
    out.append(digits, end);
}

std::optional<std::uint64_t> number_after(std::string_view text, std::string_view key) {
    const auto at = text.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    std::uint64_t value = 0;
    const char* first = text.data() + at + key.size();
    auto [end, ec] = std::from_chars(first, text.data() + text.size(), value);
    if (ec != std::errc() || end == first) return std::nullopt;
    return value;
}

// Thread use: see LoadGenerator; every connection is served by the one I/O thread from start()
// to stop(); setup runs before it exists.
class LeanJsonLoad final : public LoadGenerator {
   public:
    LeanJsonLoad(const BenchOptions& options, LoadTarget target)
        : options_(options), target_(std::move(target)) {}

    ~LeanJsonLoad() override { close(); }

    void setup() override {
        if (target_.transport != "json") {
            throw std::runtime_error("--client=lean speaks only the json transport");
        }
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
        run_parallel(all.size(), [&](std::size_t i) { open_account(*all[i]); });

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

    void start() override {
        running_ = true;
        stopping_ = false;
        io_thread_ = std::thread([this] { serve(); });
    }

    void stop() override {
        if (!io_thread_.joinable()) return;
        stopping_ = true;
        running_ = false;
        const std::uint64_t one = 1;
        (void)::write(wake_, &one, sizeof one);
        io_thread_.join();
    }

    void close() override {
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

    LoadCounters counters() override {
        LoadCounters c = shared_counters();
        for (auto& s : senders_) c.senders += wire_bytes({s->fd});
        for (auto& r : receivers_) c.receivers += wire_bytes({r->fd});
        return c;
    }

   private:
    struct Conn {
        int fd = -1;
        Endpoint endpoint;  // the node it talks to
        bool sender = false;
        std::string name;
        std::string to;
        std::string in;   // an unfinished line
        std::string out;  // bytes not yet written
        bool want_write = false;
        bool dirty = false;  // `out` grew since the last flush
        unsigned inflight = 0;
        std::uint64_t next_id = 1;
        std::uint64_t max_seen = 0;
        std::uint64_t acked = 0;
        ReceiverTally tally;
    };

    void open_account(Conn& c) {
        c.fd = connect_tcp(c.endpoint);
        for (const char* op : {"create_account", "login"}) {
            const std::string reply =
                json_request(c.fd, c.in, credentials_request(op, c.name, kBenchPassword));
            if (reply.find("\"ok\":true") == std::string::npos) {
                throw std::runtime_error(std::string(op) + " " + c.name + ": " + reply);
            }
        }
    }

    void queue_send(Conn& s, std::uint64_t stamp) {
        make_body(stamp, options_.size, body_);
        s.out.append("{\"op\":\"send\",\"id\":");
        append_number(s.out, s.next_id++);
        s.out.append(",\"to\":\"");
        s.out.append(s.to);
        s.out.append("\",\"body\":\"");
        s.out.append(body_);
        s.out.append("\"}\n");
        ++s.inflight;
        mark_dirty(s);
    }

    void mark_dirty(Conn& c) {
        if (!c.dirty) {
            c.dirty = true;
            dirty_.push_back(&c);
        }
    }

    void on_sender_line(Conn& s, std::string_view line) {
        if (s.inflight > 0) --s.inflight;
        const bool ok = line.find("\"ok\":true") != std::string_view::npos;
        count_send(ok);
        if (ok && options_.rate <= 0 && running_.load(std::memory_order_relaxed)) {
            queue_send(s, now_nanos());
        }
    }

    void on_receiver_line(Conn& r, std::string_view line) {
        constexpr std::string_view kEvent = "{\"event\":\"message\"";
        if (!line.starts_with(kEvent)) return;  // an ack's reply
        const auto message = line.find("\"message\":{");
        if (message == std::string_view::npos) return;
        const std::string_view fields = line.substr(message);
        if (auto id = number_after(fields, "\"id\":")) r.max_seen = std::max(r.max_seen, *id);
        const auto body = fields.find("\"body\":\"");
        if (body == std::string_view::npos) return;
        r.tally.record(fields.substr(body + 8), measuring());
    }

    void on_lines(Conn& c, std::string_view data) {
        auto handle = [&](std::string_view line) {
            if (c.sender) {
                on_sender_line(c, line);
            } else {
                on_receiver_line(c, line);
            }
        };
        if (!c.in.empty()) {
            const auto newline = data.find('\n');
            if (newline == std::string_view::npos) {
                c.in.append(data);
                return;
            }
            c.in.append(data.substr(0, newline));
            handle(c.in);
            c.in.clear();
            data.remove_prefix(newline + 1);
        }
        for (auto newline = data.find('\n'); newline != std::string_view::npos;
             newline = data.find('\n')) {
            handle(data.substr(0, newline));
            data.remove_prefix(newline + 1);
        }
        c.in.assign(data);
        if (!c.sender && c.max_seen > c.acked) {
            c.out.append("{\"op\":\"ack\",\"id\":");
            append_number(c.out, c.next_id++);
            c.out.append(",\"up_to\":");
            append_number(c.out, c.max_seen);
            c.out.append("}\n");
            c.acked = c.max_seen;
            mark_dirty(c);
        }
    }

    bool on_readable(Conn& c) {
        const ssize_t n = ::read(c.fd, read_buffer_.data(), read_buffer_.size());
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
        if (n <= 0) return false;
        on_lines(c, std::string_view(read_buffer_.data(), static_cast<std::size_t>(n)));
        return true;
    }

    bool flush(Conn& c) {
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

    bool drained() const {
        for (const auto& s : senders_) {
            if (s->inflight > 0) return false;
        }
        return delivered_total() >= sent_ok_total();
    }

    // The I/O thread.
    void serve() {
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
                    drain_deadline =
                        now_nanos() +
                        static_cast<std::uint64_t>(std::chrono::nanoseconds(kDrainTimeout).count());
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
            const int n = epoll_pwait2(epoll_, events.data(), static_cast<int>(events.size()),
                                       &timeout, nullptr);
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

    void flush_dirty(bool& broken) {
        for (Conn* c : dirty_) {
            c->dirty = false;
            if (!flush(*c)) broken = true;
        }
        dirty_.clear();
    }

    const BenchOptions& options_;
    const LoadTarget target_;
    std::vector<std::unique_ptr<Conn>> receivers_;
    std::vector<std::unique_ptr<Conn>> senders_;
    std::vector<Conn*> dirty_;
    std::string body_;
    std::array<char, kReadChunk> read_buffer_{};
    int epoll_ = -1;
    int wake_ = -1;
    std::thread io_thread_;
    std::atomic<bool> running_{false};
    std::atomic<bool> stopping_{false};
};

}  // namespace

std::unique_ptr<LoadGenerator> make_lean_json_load(const BenchOptions& options,
                                                   const LoadTarget& target) {
    return std::make_unique<LeanJsonLoad>(options, target);
}

}  // namespace chat::bench
