// The gRPC wire forms of our domain: conversions between chat types and the chat.v1 protobuf
// messages, the metadata keys, and the one table from chat::Errc to a gRPC status (and back).
// Thread use: pure functions; call from any thread.
#pragma once

#include <grpcpp/support/status.h>

#include <optional>
#include <string_view>

#include "chat/error.hpp"
#include "chat/types.hpp"
#include "chat/v1/chat.pb.h"

namespace chat::grpc_transport {

// Request metadata carrying the session token: "Bearer <token>".
inline constexpr std::string_view kAuthorizationKey = "authorization";
// Trailing metadata with the stable error code of a failed call, e.g. "no_such_user".
inline constexpr std::string_view kErrorCodeKey = "chat-error-code";
// Initial metadata of a Subscribe stream that is registered for pushes ("1").
inline constexpr std::string_view kSubscribedKey = "chat-subscribed";

// docs/protocol.md's table: the gRPC status code of each error code.
grpc::StatusCode status_code(Errc code) noexcept;

// The status of a failed call: our table's code and the message "<code>: <human text>".
grpc::Status to_status(const Error& error);

// The Error a client sees for a failed call. `trailer_code` is the chat-error-code trailing
// metadata if the server sent one; without it the code is read from the message prefix, and
// failing that (errors raised by gRPC itself) derived from the status code.
Error to_error(const grpc::Status& status, std::optional<std::string_view> trailer_code);

void to_proto(const Message& in, v1::Message& out);
Message from_proto(const v1::Message& in);

}  // namespace chat::grpc_transport
