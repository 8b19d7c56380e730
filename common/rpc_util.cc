#include "common/rpc_util.h"

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/rpc_metrics.h"
#include "common/rpc_security.h"
#include "common/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace paramd {

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           bool own_connection) {
  grpc::ChannelArguments args;
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // Reconnect quickly after a peer restarts.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  return grpc::CreateCustomChannel(address, ChannelCredentials(address), args);
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const std::string& host, int port,
    const std::vector<grpc::Service*>& services, int* bound_port) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  PARAMD_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                          ServerCredentials(host));
  grpc::ServerBuilder builder;
  const std::string address = absl::StrCat(host, ":", port);
  builder.AddListeningPort(address, credentials, bound_port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(RpcMetricsInterceptors());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || *bound_port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  return server;
}

void SetServing(grpc::Server* server, bool serving) {
  if (grpc::HealthCheckServiceInterface* health =
          server->GetHealthCheckService()) {
    health->SetServingStatus(serving);
  }
}

absl::Status WritePortFile(const std::string& path, int port) {
  const std::string temp = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(temp);
    out << port << "\n";
    if (!out.flush()) {
      return absl::InternalError(absl::StrCat("cannot write ", temp));
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename to ", path));
  }
  return absl::OkStatus();
}

void SetTimeout(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

absl::Status Retry(const std::function<absl::Status()>& call,
                   absl::Duration budget, const std::atomic<bool>* stop) {
  const absl::Time give_up = absl::Now() + budget;
  absl::Duration backoff = absl::Milliseconds(50);
  thread_local std::mt19937 rng(std::random_device{}());
  while (true) {
    absl::Status status = call();
    if (status.ok() || !IsRetryable(status)) return status;
    if (stop != nullptr && stop->load()) return status;
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    const absl::Duration pause = backoff * jitter(rng);
    if (absl::Now() + pause > give_up) return status;
    absl::SleepFor(pause);
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
}

namespace {

int shutdown_pipe[2] = {-1, -1};
int hangup_pipe[2] = {-1, -1};

void OnSignal(int signal) {
  const char byte = static_cast<char>(signal);
  // Async-signal-safe; a full pipe just means a shutdown (or a reload) is
  // already pending.
  [[maybe_unused]] ssize_t n =
      write(signal == SIGHUP ? hangup_pipe[1] : shutdown_pipe[1], &byte, 1);
}

void CatchSignal(int signal) {
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(signal, &action, nullptr);
}

}  // namespace

void KeepLargeBuffersMapped() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void CatchShutdownSignals() {
  if (shutdown_pipe[0] < 0 && pipe(shutdown_pipe) != 0) return;
  CatchSignal(SIGTERM);
  CatchSignal(SIGINT);
}

int WaitForShutdownSignal() {
  char byte = 0;
  while (read(shutdown_pipe[0], &byte, 1) < 0 && errno == EINTR) {
  }
  return byte;
}

void OnShutdownSignal(std::atomic<bool>* stop,
                      std::function<void()> on_signal) {
  std::thread([stop, on_signal = std::move(on_signal)] {
    WaitForShutdownSignal();
    stop->store(true);
    on_signal();
  }).detach();
}

absl::Status SecureRpc(const RpcSecurity& security) {
  PARAMD_RETURN_IF_ERROR(ConfigureRpc(security));
  if (hangup_pipe[0] >= 0 || pipe(hangup_pipe) != 0) return absl::OkStatus();
  CatchSignal(SIGHUP);
  std::thread([] {
    char byte = 0;
    while (true) {
      const ssize_t n = read(hangup_pipe[0], &byte, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n != 1) return;
      absl::Status reloaded = ReloadTokens();
      if (reloaded.ok()) {
        LogInfo("SIGHUP: tokens reloaded");
      } else {
        LogError(
            absl::StrCat("SIGHUP: tokens not reloaded, keeping the old "
                         "ones: ",
                         reloaded.message()));
      }
    }
  }).detach();
  return absl::OkStatus();
}

}  // namespace paramd
