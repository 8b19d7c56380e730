#include "tools/launch.h"

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/rpc_util.h"
#include "common/status_macros.h"
#include "tools/metrics_log.h"
#include "tools/plot.h"
#include "tools/status_format.h"
#include "worker/coordinator_client.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

bool Finished(const LocalCluster& cluster, const v1::GetStatusResponse& s) {
  return s.done() && (s.eval_final() || cluster.job().eval_path.empty());
}

// True when the processes that would finish the job have all exited: the
// trainers while training, the evaluator while its final report is due.
bool Stalled(const LocalCluster& cluster, const v1::GetStatusResponse& s) {
  if (!s.done()) {
    for (Subprocess* trainer : cluster.trainers()) {
      if (!trainer->Poll()) return false;
    }
    return true;
  }
  for (const auto& worker : cluster.workers()) {
    if (!worker->Poll()) return false;
  }
  return true;
}

// "trainer0.log: exit 1" for every process that ended badly.
std::vector<std::string> FailedProcesses(LocalCluster& cluster) {
  std::vector<std::string> failed;
  auto check = [&failed](Subprocess* process) {
    const int code = process->Poll().value_or(0);
    if (code != 0) {
      failed.push_back(absl::StrCat(process->log_path(), ": exit ", code));
    }
  };
  for (const auto& w : cluster.workers()) check(w.get());
  for (const auto& s : cluster.servers()) check(s.get());
  check(cluster.coordinator());
  return failed;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out.flush())
    return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

absl::Status Launch(const LaunchOptions& options) {
  std::atomic<bool> stop{false};
  OnShutdownSignal(&stop, [] {});
  PARAMD_ASSIGN_OR_RETURN(std::unique_ptr<LocalCluster> cluster,
                          LocalCluster::Start(options.cluster));
  std::cout << "job '" << cluster->job().name << "': coordinator at "
            << cluster->coordinator_address() << ", "
            << cluster->servers().size() << " servers, logs in "
            << cluster->run_dir() << std::endl;
  CoordinatorClient client(cluster->coordinator_address(), &stop);
  MetricsLog metrics;
  const std::string csv = cluster->run_dir() + "/metrics.csv";
  PARAMD_RETURN_IF_ERROR(metrics.Open(csv));
  const absl::Time start = absl::Now();
  absl::Time next_line = start;
  v1::GetStatusResponse status;
  absl::Status result = absl::OkStatus();
  while (true) {
    // Like systemd or compose: a crashed coordinator or server comes back.
    absl::StatusOr<std::vector<std::string>> restarted =
        cluster->RestartCrashed();
    if (!restarted.ok()) {
      result = restarted.status();
      break;
    }
    for (const std::string& name : *restarted) {
      std::cout << name << " crashed and was restarted" << std::endl;
    }
    absl::StatusOr<v1::GetStatusResponse> latest = client.GetStatus();
    if (latest.ok()) status = *latest;
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
    const bool finished = Finished(*cluster, status);
    if (finished || absl::Now() >= next_line) {
      std::cout << ProgressLine(status, elapsed) << std::endl;
      metrics.Append(status, elapsed);
      next_line += options.progress_every;
    }
    if (finished) break;
    if (!status.failure().empty()) {
      result = absl::AbortedError(
          absl::StrCat("the job failed: ", status.failure(),
                       "; see the logs in ", cluster->run_dir()));
      break;
    }
    if (stop.load()) {
      result = absl::CancelledError("interrupted; stopping the cluster");
      break;
    }
    if (!latest.ok() || Stalled(*cluster, status)) {
      result = absl::AbortedError(absl::StrCat(
          latest.ok() ? "the workers exited before the job finished"
                      : latest.status().ToString(),
          "; see the logs in ", cluster->run_dir()));
      break;
    }
    if (absl::Now() - start > options.timeout) {
      result = absl::DeadlineExceededError("job did not finish in time");
      break;
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  cluster->Stop();
  if (!options.summary_path.empty()) {
    PARAMD_RETURN_IF_ERROR(
        WriteFile(options.summary_path,
                  SummaryJson(status, elapsed, FailedProcesses(*cluster))));
  }
  const std::string png = cluster->run_dir() + "/curves.png";
  absl::Status plotted = PlotCurves(csv, png, cluster->job().name);
  std::cout << (plotted.ok() ? "curves: " + png
                             : "no curves: " + std::string(plotted.message()))
            << "\nmetrics: " << csv << std::endl;
  return result;
}

}  // namespace paramd
