// A minimal HTTP/1.1 endpoint for Prometheus scrapes: answers GET /metrics
// with the text `render` returns, anything else 404, one request per
// connection, on a thread of its own.
//
// prometheus-cpp's own Exposer (civetweb) is not used: Debian's civetweb
// runs its handlers on 100 KiB thread stacks, and in a process that loads
// libquadmath (OpenBLAS's libgfortran does: the workers) glibc formats every
// printf the slow, stack-hungry way, which overflows those stacks on the
// first scrape.
#ifndef PARAMD_COMMON_METRICS_ENDPOINT_H_
#define PARAMD_COMMON_METRICS_ENDPOINT_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"

namespace paramd {

// Listens on host:port (port 0: the OS picks) and serves until the process
// exits; returns the port bound. `host` is an IPv4 address or "localhost".
absl::StatusOr<int> ServeMetricsEndpoint(const std::string& host, int port,
                                         std::function<std::string()> render);

}  // namespace paramd

#endif  // PARAMD_COMMON_METRICS_ENDPOINT_H_
