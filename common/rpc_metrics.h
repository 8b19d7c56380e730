// Per-call metrics of a gRPC server, by method and status code: calls
// handled, bytes received and sent, and handling time. StartServer
// (rpc_util.h) installs it on every daemon.
//   paramd_rpc_server_handled_total{method, code}
//   paramd_rpc_server_handling_seconds{method, code} (histogram)
//   paramd_rpc_server_received_bytes_total{method}
//   paramd_rpc_server_sent_bytes_total{method}
// (bytes: of paramd's own services, as protobuf encodes the messages; a
// method this binary does not serve is labelled "unknown").
#ifndef PARAMD_COMMON_RPC_METRICS_H_
#define PARAMD_COMMON_RPC_METRICS_H_

#include <memory>

#include "grpcpp/support/server_interceptor.h"

namespace paramd {

// A factory of interceptors that record each call's metrics in
// MetricsRegistry() (metrics.h).
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetricsInterceptors();

}  // namespace paramd

#endif  // PARAMD_COMMON_RPC_METRICS_H_
