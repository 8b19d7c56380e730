// Conversion between absl::Status and grpc::Status, used only at the RPC
// edge. The two share canonical code numbers.
#ifndef PARAMD_COMMON_GRPC_STATUS_H_
#define PARAMD_COMMON_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"

namespace paramd {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// True for failures worth retrying with backoff: UNAVAILABLE,
// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED and ABORTED.
bool IsRetryable(const absl::Status& status);

}  // namespace paramd

#endif  // PARAMD_COMMON_GRPC_STATUS_H_
