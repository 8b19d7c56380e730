// paramd-worker: a stateless trainer or evaluator. Kill it at any time.
#include <cblas.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/rpc_util.h"
#include "worker/coordinator_client.h"
#include "worker/evaluator.h"
#include "worker/models/model.h"
#include "worker/ps_client.h"
#include "worker/trainer.h"
#include "worker/worker_metrics.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7000",
          "Address (host:port) of the coordinator.");
ABSL_FLAG(std::string, role, "trainer", "trainer or evaluator.");
ABSL_FLAG(double, rpc_timeout_s, 30, "Deadline of each Pull and Push.");
ABSL_FLAG(double, retry_budget_s, 120,
          "How long to keep retrying a failing parameter server.");
ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address the health service listens on.");
ABSL_FLAG(int, port, 0, "Port of the health service; 0 lets the OS pick.");
ABSL_FLAG(std::string, port_file, "",
          "If set, write the health service's port to this file.");
ABSL_FLAG(int, blas_threads, 1,
          "Threads for the model's matrix products (several workers on one "
          "host each take one core).");

namespace {

int Fail(const absl::Status& status) {
  paramd::LogError(status.ToString());
  return 1;
}

std::string HostName() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return absl::StrCat(name, ":", getpid());
}

}  // namespace

int main(int argc, char** argv) {
  paramd::CatchShutdownSignals();
  paramd::KeepLargeBuffersMapped();
  absl::ParseCommandLine(argc, argv);
  if (absl::Status secured = paramd::SecureRpc(paramd::RpcSecurityFromFlags());
      !secured.ok()) {
    return Fail(secured);
  }
  const std::string role = absl::GetFlag(FLAGS_role);
  // A trainer's counters read 0 from the first scrape, not only after its
  // first step, so rate() has a first sample.
  if (role != "evaluator") paramd::WorkerMetrics::Get();
  if (absl::Status serving = paramd::ServeMetricsFromFlags(); !serving.ok()) {
    return Fail(serving);
  }
  openblas_set_num_threads(absl::GetFlag(FLAGS_blas_threads));
  paramd::SetLogTag(role + "/?");
  // A health service only: SERVING once registered, until it stops.
  int port = 0;
  auto server = paramd::StartServer(absl::GetFlag(FLAGS_host),
                                    absl::GetFlag(FLAGS_port), {}, &port);
  if (!server.ok()) return Fail(server.status());
  paramd::SetServing(server->get(), false);
  if (!absl::GetFlag(FLAGS_port_file).empty()) {
    absl::Status written =
        paramd::WritePortFile(absl::GetFlag(FLAGS_port_file), port);
    if (!written.ok()) return Fail(written);
  }
  std::atomic<bool> stop{false};
  paramd::OnShutdownSignal(&stop, [] {});
  paramd::CoordinatorClient coordinator(absl::GetFlag(FLAGS_coordinator),
                                        &stop);
  const std::string host = HostName();
  auto reg = coordinator.Register(host, role);
  if (!reg.ok()) return stop.load() ? 0 : Fail(reg.status());
  paramd::SetServing(server->get(), true);
  paramd::SetLogTag(absl::StrCat(role, "/", reg->worker_id));
  auto model = paramd::CreateModel(reg->job);
  if (!model.ok()) return Fail(model.status());
  paramd::ClusterView view(reg->worker_id, reg->servers);
  paramd::WorkerContext context;
  context.job = &reg->job;
  context.model = model->get();
  context.coordinator = &coordinator;
  context.view = &view;
  context.stop = &stop;
  context.rpc_timeout = absl::Seconds(absl::GetFlag(FLAGS_rpc_timeout_s));
  context.retry_budget = absl::Seconds(absl::GetFlag(FLAGS_retry_budget_s));
  paramd::Trainer trainer(context);
  paramd::Evaluator evaluator(context);
  std::atomic<bool> heartbeats_stop{false};
  paramd::CoordinatorClient heartbeat_client(absl::GetFlag(FLAGS_coordinator),
                                             &heartbeats_stop);
  std::thread heartbeats([&] {
    heartbeat_client.RunHeartbeats(
        &view, absl::Seconds(reg->job.heartbeat_interval_s),
        [&] { return trainer.progress(); }, host, role);
  });
  absl::Status status = role == "evaluator" ? evaluator.Run() : trainer.Run();
  paramd::SetServing(server->get(), false);
  heartbeats_stop.store(true);
  heartbeats.join();
  (*server)->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  if (!status.ok() && !absl::IsCancelled(status)) return Fail(status);
  paramd::LogInfo("exiting");
  return 0;
}
