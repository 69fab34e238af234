// Process-wide settings of the gRPC runtime that the transport relies on for its speed.
// Thread use: call from any thread, any number of times (the settings are applied once).
#pragma once

namespace chat::grpc_transport {

// Turns off Abseil's mutex deadlock detection. Debian's gRPC and Abseil are built with
// assertions on, which leaves it enabled: every lock and unlock of every absl::Mutex inside gRPC
// (several per call) then updates one process-wide lock graph under a global lock, and its
// lookups grow with the number of mutexes alive — with 10 000 open connections a third of the
// CPU went there. It is a debugging aid that never changes what a correct program does.
// Called by the server's start() and the client's connect().
void prepare_grpc_runtime();

}  // namespace chat::grpc_transport
