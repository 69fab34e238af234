// LeanJsonLoad: the load over raw JSON Lines sockets, all of them served by one epoll thread,
// for when chat::Client itself would be the bottleneck and hide the server (--client=lean).
// It speaks just enough of the protocol: create_account, login, pipelined sends, and one
// `ack up_to` per batch of pushes read (as an auto-acking client does). See load.hpp.
#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "account_setup.hpp"
#include "epoll_load.hpp"
#include "raw_json.hpp"

namespace chat::bench {

namespace {

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

// Thread use: see EpollLoad.
class LeanJsonLoad final : public EpollLoad {
   public:
    LeanJsonLoad(const BenchOptions& options, LoadTarget target)
        : EpollLoad(options, std::move(target)) {
        if (target_.transport != "json") {
            throw std::runtime_error("--client=lean speaks only the json transport");
        }
    }

    ~LeanJsonLoad() override { close(); }

   private:
    void open(Conn& c) override {
        c.fd = connect_tcp(c.endpoint);
        for (const char* op : {"create_account", "login"}) {
            const std::string reply =
                json_request(c.fd, c.in, credentials_request(op, c.name, kBenchPassword));
            if (reply.find("\"ok\":true") == std::string::npos) {
                throw std::runtime_error(std::string(op) + " " + c.name + ": " + reply);
            }
        }
    }

    void append_send(Conn& s, std::string_view body) override {
        s.out.append("{\"op\":\"send\",\"id\":");
        append_number(s.out, s.next_id++);
        s.out.append(",\"to\":\"");
        s.out.append(s.to);
        s.out.append("\",\"body\":\"");
        s.out.append(body);
        s.out.append("\"}\n");
    }

    void on_sender_line(Conn& s, std::string_view line) {
        sent(s, line.find("\"ok\":true") != std::string_view::npos);
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
        delivered(r, fields.substr(body + 8));
    }

    bool on_data(Conn& c, std::string_view data) override {
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
                return true;
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
        return true;
    }
};

}  // namespace

std::unique_ptr<LoadGenerator> make_lean_json_load(const BenchOptions& options,
                                                   const LoadTarget& target) {
    return std::make_unique<LeanJsonLoad>(options, target);
}

}  // namespace chat::bench
