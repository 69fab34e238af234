// EpollLoad: the engine of the raw-socket loads (the lean JSON Lines client and the Redis
// reference). Every connection is served by one epoll thread: senders keep W requests in flight
// (or are paced at an offered rate), receivers time every delivery. What goes on the wire is the
// subclass's: it opens a connection (blocking, before the thread runs), appends one send request
// to a sender's output, and parses what a connection reads, reporting send replies and
// deliveries back through sent() and delivered(). See load.hpp for the counters and the phases.
// Thread use: as LoadGenerator. open() runs on setup's helper threads (one connection each);
// append_send() and on_data() on the I/O thread from start() to stop().
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "load.hpp"

namespace chat::bench {

class EpollLoad : public LoadGenerator {
   public:
    // A subclass's destructor must call close(): the I/O thread calls its hooks.
    ~EpollLoad() override = default;

    void setup() override;
    void start() override;
    void stop() override;
    void close() override;
    LoadCounters counters() override;

   protected:
    struct Conn {
        int fd = -1;
        Endpoint endpoint;  // the node it talks to
        bool sender = false;
        std::string name;  // its account (or channel)
        std::string to;    // a sender's receiver
        std::string in;    // bytes read and not yet parsed
        std::string out;   // bytes not yet written
        bool want_write = false;
        bool dirty = false;  // `out` grew since the last flush
        unsigned inflight = 0;
        std::uint64_t next_id = 1;
        std::uint64_t max_seen = 0;  // the newest message id a receiver saw
        std::uint64_t acked = 0;     // the newest it acknowledged
        ReceiverTally tally;
    };

    EpollLoad(const BenchOptions& options, LoadTarget target)
        : options_(options), target_(std::move(target)) {}

    // Connects `c` (c.endpoint) and makes it ready: an account logged in, a channel subscribed.
    // Sets c.fd. Throws std::runtime_error when the server refuses.
    virtual void open(Conn& c) = 0;
    // Appends one send request carrying `body` to s.out.
    virtual void append_send(Conn& s, std::string_view body) = 0;
    // Parses bytes read from `c` (c.in holds what an earlier read left unfinished); calls sent()
    // for every send reply and delivered() for every message. Returns false when the stream is
    // broken beyond repair.
    virtual bool on_data(Conn& c, std::string_view data) = 0;

    // A send reply arrived on sender `s`: in a closed loop, the next send goes out.
    void sent(Conn& s, bool ok);
    // Receiver `r` got a message whose body starts at the start of `body`.
    void delivered(Conn& r, std::string_view body) { r.tally.record(body, measuring()); }
    // `c.out` grew: flush it before the next wait.
    void mark_dirty(Conn& c);

    const BenchOptions& options_;
    const LoadTarget target_;

   private:
    void queue_send(Conn& s, std::uint64_t stamp);
    bool on_readable(Conn& c);
    bool flush(Conn& c);
    void flush_dirty(bool& broken);
    bool drained() const;
    void serve();

    std::vector<std::unique_ptr<Conn>> receivers_;
    std::vector<std::unique_ptr<Conn>> senders_;
    std::vector<Conn*> dirty_;
    std::string body_;
    std::unique_ptr<std::array<char, 256 * 1024>> read_buffer_ =
        std::make_unique<std::array<char, 256 * 1024>>();
    int epoll_ = -1;
    int wake_ = -1;
    std::thread io_thread_;
    std::atomic<bool> running_{false};
    std::atomic<bool> stopping_{false};
};

}  // namespace chat::bench
