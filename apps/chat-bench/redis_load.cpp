// RedisLoad: the reference load of the `redis` cells. The same shape as chatd's lean JSON load
// (P senders with W in flight or an offered rate, P receivers, one epoll thread, the same bodies
// and clocks), in Redis pub/sub: receiver i SUBSCRIBEs to its own channel, sender i PUBLISHes
// to it and counts the integer reply (subscribers reached; 0 is a failed send). Redis only
// relays: nothing is stored, the reply does not carry the message, and there is no ack.
// Thread use: see EpollLoad.
#include <unistd.h>

#include <charconv>
#include <stdexcept>

#include "epoll_load.hpp"
#include "raw_json.hpp"
#include "redis_server.hpp"
#include "resp.hpp"

namespace chat::bench {

namespace {

class RedisLoad final : public EpollLoad {
   public:
    RedisLoad(const BenchOptions& options, LoadTarget target)
        : EpollLoad(options, std::move(target)) {}
    ~RedisLoad() override { close(); }

   private:
    void open(Conn& c) override {
        c.fd = connect_tcp(c.endpoint);
        std::string command;
        std::string buffer;
        resp::Value value;
        if (c.sender) {
            resp::append_command(command, {"PING"});
            redis_request(c.fd, command, buffer, value);
            if (value.kind != resp::Kind::simple || value.text != "PONG") {
                throw std::runtime_error("redis: PING answered " + std::string(value.text));
            }
            return;
        }
        resp::append_command(command, {"SUBSCRIBE", c.name});
        redis_request(c.fd, command, buffer, value);
        if (value.kind != resp::Kind::array || value.items.size() != 3 ||
            value.items[0] != "subscribe" || value.items[1] != c.name) {
            throw std::runtime_error("redis: SUBSCRIBE " + c.name + " was refused");
        }
    }

    void append_send(Conn& s, std::string_view body) override {
        resp::append_command(s.out, {"PUBLISH", s.to, body});
    }

    bool on_data(Conn& c, std::string_view data) override {
        std::string_view rest = data;
        if (!c.in.empty()) {
            c.in.append(data);
            rest = c.in;
        }
        resp::Value value;
        std::size_t consumed = 0;
        for (;;) {
            std::size_t used = 0;
            const auto result = resp::parse(rest.substr(consumed), value, used);
            if (result == resp::Parse::malformed) return false;
            if (result == resp::Parse::incomplete) break;
            consumed += used;
            if (c.sender) {
                long long reached = 0;
                const bool integer = value.kind == resp::Kind::integer;
                if (integer) {
                    std::from_chars(value.text.data(), value.text.data() + value.text.size(),
                                    reached);
                }
                sent(c, integer && reached > 0);
            } else if (value.kind == resp::Kind::array && value.items.size() == 3 &&
                       value.items[0] == "message") {
                delivered(c, value.items[2]);
            }
        }
        if (c.in.empty()) {
            c.in.assign(rest.substr(consumed));
        } else {
            c.in.erase(0, consumed);
        }
        return true;
    }
};

}  // namespace

std::unique_ptr<LoadGenerator> make_redis_load(const BenchOptions& options,
                                               const LoadTarget& target) {
    return std::make_unique<RedisLoad>(options, target);
}

}  // namespace chat::bench
