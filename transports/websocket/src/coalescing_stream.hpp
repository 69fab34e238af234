// CoalescingStream: the layer between Beast's websocket::stream and the socket (or the TLS
// stream) that turns many small reads and writes into few system calls.
//
// Beast writes one WebSocket message per write and starts the next only when the last has
// completed, and it reads through a 1 536-byte buffer of its own. Under load that is a system
// call per message each way. This layer:
//  - writes: copies what it is given and completes the write when the socket write carrying those
//    bytes has completed, as a plain stream would (so a peer that does not read still holds its
//    writers back). What arrives while a socket write is in flight joins the next one: one socket
//    write in flight, bytes in the order written, each write whole (so a ping, a pong or the
//    close frame Beast sends never lands inside another frame).
//    With a write-behind allowance (set_write_behind), a write completes as soon as its bytes are
//    copied, as long as the bytes not yet on the socket stay within it: a writer that writes one
//    message at a time (Beast) then gets a whole run of them into one socket write, and past the
//    allowance it waits for the socket like any writer. A socket error then shows at the next
//    write, and to the reader.
//  - reads: once a socket read has filled the reader's buffer (more is likely waiting), the next
//    ones read what the socket has, up to kReadChunk, into a buffer of the layer's and hand it out
//    to the reads that follow until it is used up; a chunk read that comes back less than half
//    full goes back to reading straight into the reader's buffer. So the chunk exists only under
//    load: an idle connection waits on its reader's buffer and keeps none here.
//
// It is a Beast stream layer: next_layer(), get_lowest_layer() and the websocket teardown work
// through it. Every operation must be started from the stream's executor (the connection's
// strand): the layer has no lock of its own. A read or write keeps the stream alive through its
// reader's handler (Beast's operations hold the stream's state); a socket write whose waiters
// have all been answered (write-behind) does not, and does nothing if it ends after the stream.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace chat::ws_transport {

template <class Next>
class CoalescingStream {
   public:
    using next_layer_type = Next;
    using executor_type = typename Next::executor_type;

    // Bytes a socket read asks for at most.
    static constexpr std::size_t kReadChunk = 16 * 1024;
    // Write buffers that grew past this for one large batch are released afterwards.
    static constexpr std::size_t kKeepWriteCapacity = 64 * 1024;

    template <class... Args>
    explicit CoalescingStream(Args&&... args) : next_(std::forward<Args>(args)...) {}

    CoalescingStream(const CoalescingStream&) = delete;
    CoalescingStream& operator=(const CoalescingStream&) = delete;

    executor_type get_executor() noexcept { return next_.get_executor(); }
    Next& next_layer() noexcept { return next_; }
    const Next& next_layer() const noexcept { return next_; }

    // Writes complete once copied while at most `bytes` wait for the socket (0: only when their
    // bytes are on it).
    void set_write_behind(std::size_t bytes) noexcept { write_behind_ = bytes; }

    // Bytes read from the socket that no read has taken yet.
    std::size_t buffered_read_bytes() const noexcept { return read_end_ - read_pos_; }
    // Bytes accepted for writing that the socket has not taken yet.
    std::size_t buffered_write_bytes() const noexcept { return pending_.size() + sending_.size(); }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& into) {
                start_read(std::move(handler), into);
            },
            token, buffers);
    }

    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& from) {
                start_write(std::move(handler), from);
            },
            token, buffers);
    }

    // A write of `bytes` as they are: the same as async_write_some of all of them, without the
    // copy when nothing else waits for the socket.
    template <class Token>
    auto async_write_string(std::string bytes, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, std::string from) {
                if (write_error_) return complete_later(std::move(handler), write_error_, 0);
                const std::size_t size = from.size();
                if (pending_.empty()) {
                    pending_.swap(from);
                } else {
                    pending_.append(from);
                }
                accept_write(std::move(handler), size);
            },
            token, std::move(bytes));
    }

   private:
    using Handler =
        boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;

    struct Waiter {
        Handler handler;
        std::size_t bytes;
    };

    template <class H>
    void complete_later(H handler, boost::system::error_code ec, std::size_t bytes) {
        const auto ex = boost::asio::get_associated_executor(handler, get_executor());
        boost::asio::post(ex, boost::beast::bind_front_handler(std::move(handler), ec, bytes));
    }

    template <class H>
    static void complete_now(H handler, boost::system::error_code ec, std::size_t bytes) {
        const auto ex = boost::asio::get_associated_executor(handler);
        boost::asio::dispatch(ex, boost::beast::bind_front_handler(std::move(handler), ec, bytes));
    }

    // --- Reading. ---

    template <class H, class MutableBuffers>
    void start_read(H handler, const MutableBuffers& buffers) {
        const std::size_t wanted = boost::asio::buffer_size(buffers);
        if (wanted == 0 || read_pos_ < read_end_) {
            return complete_later(std::move(handler), {}, take_read(buffers));
        }
        const auto ex = boost::asio::get_associated_executor(handler, get_executor());
        if (wanted >= kReadChunk || !chunked_reads_) {
            // Straight into the reader's buffer (a large read gains nothing from a copy).
            next_.async_read_some(buffers,
                                  boost::asio::bind_executor(
                                      ex, [this, wanted, handler = std::move(handler)](
                                              boost::system::error_code ec, std::size_t n) mutable {
                                          if (!ec) chunked_reads_ = n == wanted;
                                          std::move(handler)(ec, n);
                                      }));
            return;
        }
        if (!read_buffer_) read_buffer_ = std::make_unique_for_overwrite<char[]>(kReadChunk);
        next_.async_read_some(boost::asio::buffer(read_buffer_.get(), kReadChunk),
                              boost::asio::bind_executor(
                                  ex, [this, buffers, handler = std::move(handler)](
                                          boost::system::error_code ec, std::size_t n) mutable {
                                      read_pos_ = 0;
                                      read_end_ = n;
                                      chunked_reads_ = n >= kReadChunk / 2;
                                      const std::size_t taken = take_read(buffers);
                                      // The data is handed out first; an error comes with the next
                                      // read.
                                      if (taken > 0) ec = {};
                                      std::move(handler)(ec, taken);
                                  }));
    }

    template <class MutableBuffers>
    std::size_t take_read(const MutableBuffers& buffers) {
        const std::size_t n = boost::asio::buffer_copy(
            buffers, boost::asio::buffer(read_buffer_.get() + read_pos_, read_end_ - read_pos_));
        read_pos_ += n;
        if (read_pos_ == read_end_) {
            read_pos_ = read_end_ = 0;
            read_buffer_.reset();
        }
        return n;
    }

    // --- Writing. ---

    template <class H, class ConstBuffers>
    void start_write(H handler, const ConstBuffers& buffers) {
        if (write_error_) return complete_later(std::move(handler), write_error_, 0);
        const std::size_t bytes = boost::asio::buffer_size(buffers);
        const std::size_t at = pending_.size();
        pending_.resize(at + bytes);
        boost::asio::buffer_copy(boost::asio::buffer(pending_.data() + at, bytes), buffers);
        accept_write(std::move(handler), bytes);
    }

    // `bytes` more are at the end of pending_ for `handler`.
    template <class H>
    void accept_write(H handler, std::size_t bytes) {
        if (bytes == 0) return complete_later(std::move(handler), {}, 0);
        if (buffered_write_bytes() <= write_behind_) {
            complete_later(std::move(handler), {}, bytes);
        } else {
            pending_waiters_.push_back(Waiter{Handler(std::move(handler)), bytes});
        }
        if (!socket_write_in_flight_) flush();
    }

    // The waiters of a socket write travel with it: if the write is destroyed unrun (the
    // io_context shutting down), so are they, and nothing keeps its connection alive.
    void flush() {
        socket_write_in_flight_ = true;
        sending_.swap(pending_);
        pending_.clear();
        boost::asio::async_write(
            next_, boost::asio::buffer(sending_),
            boost::asio::bind_executor(get_executor(),
                                       [this, alive = std::weak_ptr<const char>(alive_),
                                        waiters = std::move(pending_waiters_)](
                                           boost::system::error_code ec, std::size_t) mutable {
                                           // Without a waiter nothing keeps the stream alive: it
                                           // may be gone.
                                           if (alive.expired()) return;
                                           on_flushed(ec, std::move(waiters));
                                       }));
        pending_waiters_.clear();
    }

    void on_flushed(boost::system::error_code ec, std::vector<Waiter> done) {
        socket_write_in_flight_ = false;
        if (pending_.empty() || sending_.capacity() > kKeepWriteCapacity) {
            // Quiet (or it grew for one large write): keep no buffer.
            std::string().swap(sending_);
        } else {
            sending_.clear();
        }
        if (ec) {
            write_error_ = ec;
            // What waits for the next write fails with this one.
            for (Waiter& waiter : pending_waiters_) done.push_back(std::move(waiter));
            pending_waiters_.clear();
            std::string().swap(pending_);
        } else if (!pending_.empty()) {
            flush();  // the socket stays busy while the writers hear back
        }
        for (Waiter& waiter : done) {
            complete_now(std::move(waiter.handler), ec, ec ? 0 : waiter.bytes);
        }
    }

    Next next_;

    std::unique_ptr<char[]> read_buffer_;  // kReadChunk bytes while it holds unread bytes
    std::size_t read_pos_ = 0;
    std::size_t read_end_ = 0;
    bool chunked_reads_ = false;  // the last socket read filled its buffer: read in chunks

    std::string pending_;  // accepted, waiting for the next socket write
    std::vector<Waiter> pending_waiters_;
    std::string sending_;  // the socket write in flight
    bool socket_write_in_flight_ = false;
    std::size_t write_behind_ = 0;
    // Expires with the stream: a socket write that completes after it is gone does nothing.
    std::shared_ptr<const char> alive_ = std::make_shared<const char>('\0');
    boost::system::error_code write_error_;
};

// The websocket close handshake ends by tearing down the layer below.
template <class Next>
void teardown(boost::beast::role_type role, CoalescingStream<Next>& stream,
              boost::system::error_code& ec) {
    using boost::beast::websocket::teardown;
    teardown(role, stream.next_layer(), ec);
}

template <class Next, class TeardownHandler>
void async_teardown(boost::beast::role_type role, CoalescingStream<Next>& stream,
                    TeardownHandler&& handler) {
    using boost::beast::websocket::async_teardown;
    async_teardown(role, stream.next_layer(), std::forward<TeardownHandler>(handler));
}

}  // namespace chat::ws_transport
