// The registry of every transport built into this installation: "json", and "grpc" when built.
// Thread use: the registry is built once on first call (thread-safe) and is read-only after.
#pragma once

#include "chat/transport.hpp"

namespace chat {

const TransportRegistry& builtin_transports();

}  // namespace chat
