// Process-wide gRPC runtime settings (see grpc_runtime.hpp).
#include "grpc_runtime.hpp"

#include <absl/synchronization/mutex.h>

#include <mutex>

namespace chat::grpc_transport {

void prepare_grpc_runtime() {
    static std::once_flag once;
    std::call_once(once,
                   [] { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); });
}

}  // namespace chat::grpc_transport
