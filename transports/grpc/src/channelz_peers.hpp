// ChannelzPeers: the peers of the open connections of this gRPC server, read from gRPC's
// channelz registry; the LivePeers query of ConnectionLimit.
//
// Why channelz: gRPC 1.51's public C++ API reports calls, never connections. A
// CallbackServerContext names the peer of one call and server interceptors see the same calls,
// but nothing tells when a connection opens or closes, and a connection without a call in flight
// (idle, or between calls) still holds its slot. Bookkeeping from calls alone would free the slot
// of every idle connection and let the limit be passed. The hooks that do see connections
// (socket mutators, the transport's accept path) are internal headers. Channelz is the one
// public registry of a server's open sockets; its C API answers in JSON, which is parsed here
// with protobuf's JSON parser (into google.protobuf.Struct) rather than matched as text.
// Thread use: safe from any number of threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat::grpc_transport {

class ChannelzPeers final {
   public:
    // The peer strings of the open connections of the server that holds `caller`'s connection;
    // nullopt when channelz cannot tell. That server's channelz id is found once and kept.
    std::optional<std::vector<std::string>> operator()(std::string_view caller);

   private:
    std::atomic<std::intptr_t> server_id_{0};
};

}  // namespace chat::grpc_transport
