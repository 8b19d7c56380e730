// What every paramd daemon and client shares at the RPC edge: channels,
// servers with health checking and reflection, deadlines, retries, port
// files and shutdown signals.
#ifndef PARAMD_COMMON_RPC_UTIL_H_
#define PARAMD_COMMON_RPC_UTIL_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/rpc_security.h"
#include "grpcpp/grpcpp.h"

namespace paramd {

// Largest message a daemon accepts; bigger requests fail RESOURCE_EXHAUSTED.
inline constexpr int kMaxMessageBytes = 256 << 20;

// A channel to `address` (host:port) with paramd's limits, secured as
// ConfigureRpc (rpc_security.h) set. Channels to one address share a
// connection unless `own_connection`.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           bool own_connection = false);

// Serves `services` on host:port (port 0: the OS picks) with the standard
// health service and server reflection, secured as ConfigureRpc set (and
// refusing plaintext beyond loopback without --insecure). Sets *bound_port.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const std::string& host, int port,
    const std::vector<grpc::Service*>& services, int* bound_port);

// What the server's health service answers for every service name: SERVING
// or NOT_SERVING. A daemon says SERVING only once it can do its work.
void SetServing(grpc::Server* server, bool serving);

// Writes `port` to `path` atomically (temp file, then rename), so a reader
// that sees the file sees the whole number.
absl::Status WritePortFile(const std::string& path, int port);

// Sets a deadline `timeout` from now on `context`.
void SetTimeout(grpc::ClientContext* context, absl::Duration timeout);

// Calls `call` until it returns OK or a non-retryable status, sleeping with
// exponential backoff (50 ms doubling to 2 s, with jitter) between tries, for
// at most `budget` in all, or until *stop becomes true. Returns the last
// status.
absl::Status Retry(const std::function<absl::Status()>& call,
                   absl::Duration budget,
                   const std::atomic<bool>* stop = nullptr);

// Keeps freed large buffers in the heap for reuse instead of returning them
// to the OS, so the multi-megabyte tensors of every step do not page-fault
// afresh. Call first thing in a daemon's main().
void KeepLargeBuffersMapped();

// Catches SIGTERM and SIGINT from now on (a handler, so it works whatever
// signal masks library threads have). Call first thing in main().
void CatchShutdownSignals();

// Waits for SIGTERM or SIGINT (after CatchShutdownSignals); returns it.
int WaitForShutdownSignal();

// ConfigureRpc(security) (rpc_security.h), and from then on SIGHUP rereads
// the token files, logging the outcome. Call in main() after parsing flags,
// before any channel or server.
absl::Status SecureRpc(const RpcSecurity& security);

// Starts a thread that waits for a shutdown signal and then sets *stop and
// calls `on_signal`. The thread is detached.
void OnShutdownSignal(std::atomic<bool>* stop, std::function<void()> on_signal);

}  // namespace paramd

#endif  // PARAMD_COMMON_RPC_UTIL_H_
