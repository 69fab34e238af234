// ChannelzPeers: open connections of this gRPC server from channelz's JSON answers, parsed with
// protobuf's JSON parser.
#include "channelz_peers.hpp"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpc/grpc.h>
#include <grpc/support/alloc.h>

#include <algorithm>
#include <charconv>

namespace chat::grpc_transport {

namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr int kMaxPages = 1000;
constexpr std::intptr_t kSocketsPerPage = 500;

// A channelz answer (a string to free with gpr_free) parsed as a JSON object; nullopt when
// there is none or it does not parse.
std::optional<Struct> parse(char* text) {
    if (text == nullptr) return std::nullopt;
    Struct out;
    const bool ok = google::protobuf::util::JsonStringToMessage(text, &out).ok();
    gpr_free(text);
    if (!ok) return std::nullopt;
    return out;
}

const Value* field(const Struct& object, const std::string& key) {
    const auto it = object.fields().find(key);
    return it == object.fields().end() ? nullptr : &it->second;
}

// The objects of the array `key` of `object` (none when it is absent).
std::vector<const Struct*> objects(const Struct& object, const std::string& key) {
    std::vector<const Struct*> out;
    const Value* list = field(object, key);
    if (list == nullptr || !list->has_list_value()) return out;
    for (const auto& item : list->list_value().values()) {
        if (item.has_struct_value()) out.push_back(&item.struct_value());
    }
    return out;
}

std::string text_of(const Struct& object, const std::string& key) {
    const Value* v = field(object, key);
    return v != nullptr && v->kind_case() == Value::kStringValue ? v->string_value()
                                                                 : std::string();
}

// A channelz id; they are int64 values, which proto3's JSON form writes as strings. -1 when
// absent or malformed.
std::intptr_t id_of(const Struct& object, const std::string& key) {
    const std::string text = text_of(object, key);
    std::intptr_t id = -1;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size() || id < 0) return -1;
    return id;
}

// Whether a paged answer says it holds the last page.
bool at_end(const Struct& answer) {
    const Value* end = field(answer, "end");
    return end != nullptr && end->kind_case() == Value::kBoolValue && end->bool_value();
}

bool contains(const std::vector<std::string>& peers, std::string_view peer) {
    return std::find(peers.begin(), peers.end(), peer) != peers.end();
}

// The peers of server `id`'s sockets. Server sockets are named "chttp2 <peer>"; the peer is the
// part after the last space.
std::optional<std::vector<std::string>> server_peers(std::intptr_t id) {
    std::vector<std::string> peers;
    std::intptr_t start = 0;
    for (int page = 0; page < kMaxPages; ++page) {
        const auto answer = parse(grpc_channelz_get_server_sockets(id, start, kSocketsPerPage));
        if (!answer || field(*answer, "error") != nullptr) return std::nullopt;
        std::intptr_t last = -1;
        for (const Struct* socket : objects(*answer, "socketRef")) {
            const std::string name = text_of(*socket, "name");
            const auto space = name.rfind(' ');
            peers.push_back(space == std::string::npos ? name : name.substr(space + 1));
            last = std::max(last, id_of(*socket, "socketId"));
        }
        if (last < 0 || at_end(*answer)) break;
        start = last + 1;
    }
    return peers;
}

}  // namespace

std::optional<std::vector<std::string>> ChannelzPeers::operator()(std::string_view caller) {
    if (const auto id = server_id_.load(); id != 0) {
        if (auto peers = server_peers(id); peers && contains(*peers, caller)) return peers;
    }
    std::intptr_t start = 0;
    for (int page = 0; page < kMaxPages; ++page) {
        const auto answer = parse(grpc_channelz_get_servers(start));
        if (!answer) return std::nullopt;
        std::intptr_t last = -1;
        for (const Struct* server : objects(*answer, "server")) {
            const Value* ref = field(*server, "ref");
            if (ref == nullptr || !ref->has_struct_value()) continue;
            const std::intptr_t id = id_of(ref->struct_value(), "serverId");
            if (id < 0) continue;
            last = std::max(last, id);
            if (auto peers = server_peers(id); peers && contains(*peers, caller)) {
                server_id_.store(id);
                return peers;
            }
        }
        if (last < 0 || at_end(*answer)) break;
        start = last + 1;
    }
    return std::nullopt;
}

}  // namespace chat::grpc_transport
