// The connection of the WebSocket server: one TCP connection (TLS when the server has a
// certificate) that speaks HTTP until it upgrades, then carries one JSON frame per WebSocket
// text message. What it does, in order:
//
//   TLS handshake (wss only) -> HTTP requests: files and refusals (http_site.hpp), an upgrade
//   with a wrong Origin gets 403 -> WebSocket: frames through the shared request pipeline, op
//   table, outbound queue and session sink of the JSON frames (transports/json/src) ->
//   close handshake with the code docs/protocol.md gives (1000, 1003, 1009, 1013) -> closed.
//
// A FrameConnection like the JSON Lines connection: the session half and the outbound half
// (login timeout, write stall, slow readers) are FrameConnection's; keepalive is Beast's
// ping/pong with a dead-peer timeout (ServerSettings::idle_timeout). Beast's stream sits on a
// CoalescingStream (coalescing_stream.hpp), and the server's messages are encoded here
// (ws_message.hpp), so that a batch of replies and pushes is one socket write.
// Thread use: as FrameConnection: everything on the connection's strand, which is also the
// executor of its stream (so Beast's own pings and timers run there too).
#pragma once

#include <boost/asio.hpp>
#include <cstdint>
#include <memory>

#include "frame_connection.hpp"
#include "server_core.hpp"
#include "ws_settings.hpp"

namespace chat::ws_transport {

// A connection for `socket`, not yet started: TLS when core.tls is set. `reject_busy` (with
// `peer_full`: for this peer address): the server is full, so it only says so.
std::shared_ptr<json_transport::FrameConnection> make_connection(
    json_transport::ServerCore& core, boost::asio::ip::tcp::socket socket, std::uint64_t id,
    bool reject_busy, bool peer_full, std::shared_ptr<const ServerSettings> settings);

}  // namespace chat::ws_transport
