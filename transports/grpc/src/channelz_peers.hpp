// ChannelzPeers: the peers of the open connections of this gRPC server, read from gRPC's
// channelz registry; the LivePeers query of ConnectionLimit.
// Thread use: safe from any number of threads.
#pragma once

#include <grpc/grpc.h>
#include <grpc/support/alloc.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat::grpc_transport {

// The open connections of this server, from gRPC's channelz registry (the only place gRPC tells
// which connections exist). Channelz answers in JSON; the few string fields needed are read
// directly. Our server's channelz id is found once, as the server holding the caller's socket.
class ChannelzPeers final {
   public:
    std::optional<std::vector<std::string>> operator()(std::string_view caller) {
        if (const auto id = server_id_.load(); id != 0) {
            if (auto peers = server_peers(id); peers && contains(*peers, caller)) return peers;
        }
        std::intptr_t start = 0;
        for (int page = 0; page < kMaxPages; ++page) {
            const Text servers(grpc_channelz_get_servers(start));
            if (servers.json().empty()) return std::nullopt;
            std::intptr_t last = -1;
            for (auto id_text : string_values(servers.json(), "serverId")) {
                const std::intptr_t id = to_id(id_text);
                last = std::max(last, id);
                if (auto peers = server_peers(id); peers && contains(*peers, caller)) {
                    server_id_.store(id);
                    return peers;
                }
            }
            if (last < 0 || servers.json().find("\"end\":true") != std::string_view::npos) break;
            start = last + 1;
        }
        return std::nullopt;
    }

   private:
    static constexpr int kMaxPages = 1000;

    // A string returned by a channelz call, freed with gpr_free.
    class Text {
       public:
        explicit Text(char* text) : text_(text) {}
        ~Text() {
            if (text_ != nullptr) gpr_free(text_);
        }
        Text(const Text&) = delete;
        Text& operator=(const Text&) = delete;
        std::string_view json() const {
            return text_ == nullptr ? std::string_view() : std::string_view(text_);
        }

       private:
        char* text_;
    };

    // The values of every `"key":"value"` in `json` (values here never contain quotes).
    static std::vector<std::string_view> string_values(std::string_view json,
                                                       std::string_view key) {
        std::vector<std::string_view> out;
        const std::string pattern = "\"" + std::string(key) + "\":\"";
        for (auto pos = json.find(pattern); pos != std::string_view::npos;
             pos = json.find(pattern, pos)) {
            pos += pattern.size();
            const auto end = json.find('"', pos);
            if (end == std::string_view::npos) break;
            out.push_back(json.substr(pos, end - pos));
            pos = end;
        }
        return out;
    }

    static std::intptr_t to_id(std::string_view text) {
        std::intptr_t id = 0;
        for (char c : text) {
            if (c < '0' || c > '9') return -1;
            id = id * 10 + (c - '0');
        }
        return id;
    }

    static bool contains(const std::vector<std::string>& peers, std::string_view peer) {
        return std::find(peers.begin(), peers.end(), peer) != peers.end();
    }

    // Socket names read "chttp2 <peer>"; the peer is the part after the last space.
    static std::optional<std::vector<std::string>> server_peers(std::intptr_t id) {
        std::vector<std::string> peers;
        std::intptr_t start = 0;
        for (int page = 0; page < kMaxPages; ++page) {
            const Text sockets(grpc_channelz_get_server_sockets(id, start, 500));
            const auto json = sockets.json();
            if (json.empty() || json.find("\"error\"") != std::string_view::npos) {
                return std::nullopt;
            }
            for (auto name : string_values(json, "name")) {
                const auto space = name.rfind(' ');
                peers.emplace_back(space == std::string_view::npos ? name : name.substr(space + 1));
            }
            std::intptr_t last = -1;
            for (auto id_text : string_values(json, "socketId"))
                last = std::max(last, to_id(id_text));
            if (last < 0 || json.find("\"end\":true") != std::string_view::npos) break;
            start = last + 1;
        }
        return peers;
    }

    std::atomic<std::intptr_t> server_id_{0};
};

}  // namespace chat::grpc_transport
