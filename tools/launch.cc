#include "tools/launch.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/checkpoint_file.h"
#include "common/rpc_util.h"
#include "common/small_file.h"
#include "common/status_macros.h"
#include "common/yaml_edit.h"
#include "common/yaml_reader.h"
#include "tools/export.h"
#include "tools/metrics_log.h"
#include "tools/plot.h"
#include "tools/progress_meter.h"
#include "tools/status_format.h"
#include "worker/coordinator_client.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

// The record of a run that --resume reads, in its run folder.
constexpr char kRecordFile[] = "launch.yaml";
constexpr absl::Duration kPoll = absl::Milliseconds(250);
constexpr absl::Duration kCsvEvery = absl::Seconds(2);
constexpr absl::Duration kRedrawEvery = absl::Seconds(1);
constexpr absl::Duration kLineEvery = absl::Seconds(30);
constexpr int kBarWidth = 20;

bool Finished(const LocalCluster& cluster, const v1::GetStatusResponse& s) {
  return s.done() && (s.eval_final() || cluster.job().eval_path.empty());
}

// True when the processes that would finish the job have all exited: the
// trainers while training, the evaluator while its final report is due.
bool Stalled(const LocalCluster& cluster, const v1::GetStatusResponse& s) {
  if (!s.done()) {
    // With --workers=0 the trainers run elsewhere (Python ones, say): the
    // coordinator watches them, and status says when none is left.
    if (cluster.trainers().empty()) return false;
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

// Writes run_dir/launch.yaml: the job's YAML, the trainers to start and
// where the checkpoints go.
absl::Status WriteRecord(const LaunchOptions& options,
                         const std::string& checkpoint_dir) {
  std::error_code error;
  const std::string config =
      std::filesystem::absolute(options.cluster.config_path, error).string();
  const std::string path =
      absl::StrCat(options.cluster.run_dir, "/", kRecordFile);
  PARAMD_ASSIGN_OR_RETURN(std::string text,
                          SetYamlScalar("{}", path, {"config"}, config));
  PARAMD_ASSIGN_OR_RETURN(
      text, SetYamlScalar(text, path, {"workers"},
                          absl::StrCat(options.cluster.num_workers)));
  PARAMD_ASSIGN_OR_RETURN(
      text, SetYamlScalar(text, path, {"checkpoint_dir"}, checkpoint_dir));
  return WriteFile(
      path, absl::StrCat("# paramctl launch --resume reads this.\n", text));
}

// Shows progress on stdout: on a terminal, one line redrawn in place; else
// a line now and then.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(absl::Duration every)
      : terminal_(isatty(STDOUT_FILENO) == 1),
        every_(every != absl::ZeroDuration() ? every
               : terminal_                   ? kRedrawEvery
                                             : kLineEvery) {}

  // Shows `progress` if it is time to, or if it is the `final` report.
  void Show(const ProgressMeter& progress, bool final) {
    const absl::Time now = absl::Now();
    if (!final && now < next_) return;
    next_ = now + every_;
    if (!terminal_) {
      std::cout << progress.Line(0) << std::endl;
      return;
    }
    std::string line = progress.Line(kBarWidth);
    struct winsize size = {};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 1 &&
        line.size() >= size.ws_col) {
      line.resize(size.ws_col - 1);  // a wrapped line cannot be redrawn
    }
    std::cout << "\r" << line << "\033[K" << (final ? "\n" : "") << std::flush;
    drawn_ = !final;
  }

  // Prints a message on a line of its own.
  void Say(const std::string& message) {
    if (drawn_) std::cout << "\r\033[K";
    drawn_ = false;
    std::cout << message << std::endl;
  }

 private:
  const bool terminal_;
  const absl::Duration every_;
  absl::Time next_ = absl::InfinitePast();
  bool drawn_ = false;  // a progress line is on screen, unfinished
};

// Exports the model of the running `cluster` to `dir`.
absl::Status Export(const LocalCluster& cluster, const std::string& dir,
                    const std::atomic<bool>* stop) {
  ExportOptions options;
  options.stop = stop;
  PARAMD_ASSIGN_OR_RETURN(
      std::vector<std::string> servers,
      FetchServers(cluster.coordinator_address(), cluster.job(), options));
  return ExportModel(cluster.job(), servers, dir, options);
}

}  // namespace

absl::StatusOr<LaunchOptions> ResumeOptions(const std::string& run_dir) {
  const std::string path = absl::StrCat(run_dir, "/", kRecordFile);
  absl::StatusOr<std::string> text = ReadSmallFile(path, "run record", 4096);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        run_dir,
        " is not a run folder of paramctl launch: ", text.status().message()));
  }
  LaunchOptions options;
  options.resume = true;
  options.cluster.run_dir = run_dir;
  PARAMD_RETURN_IF_ERROR(YamlReader::ReadDocument(
      *text, path, "a map with config, workers and checkpoint_dir",
      [&](const YamlReader& r) {
        PARAMD_RETURN_IF_ERROR(
            r.OnlyKeys({"config", "workers", "checkpoint_dir"}));
        PARAMD_RETURN_IF_ERROR(r.Require("config"));
        PARAMD_RETURN_IF_ERROR(r.Require("checkpoint_dir"));
        PARAMD_RETURN_IF_ERROR(r.Get("config", &options.cluster.config_path));
        PARAMD_RETURN_IF_ERROR(
            r.Get("checkpoint_dir", &options.checkpoint_dir));
        return r.Get("workers", &options.cluster.num_workers);
      }));
  return options;
}

absl::Status Launch(const LaunchOptions& given) {
  LaunchOptions options = given;
  LocalClusterOptions& cluster_options = options.cluster;
  PARAMD_ASSIGN_OR_RETURN(const JobConfig job,
                          LoadJobConfig(cluster_options.config_path));
  std::error_code error;
  cluster_options.run_dir =
      std::filesystem::absolute(cluster_options.run_dir, error)
          .lexically_normal()
          .string();
  const std::string& run_dir = cluster_options.run_dir;
  std::filesystem::create_directories(run_dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", run_dir, ": ", error.message()));
  }
  if (!options.resume &&
      std::filesystem::exists(absl::StrCat(run_dir, "/", kRecordFile))) {
    return absl::InvalidArgumentError(
        absl::StrCat(run_dir,
                     " holds a run already: go on with it with "
                     "--resume=",
                     run_dir, ", or pick another --run_dir"));
  }
  std::string checkpoint_dir = job.checkpoint.dir;
  if (checkpoint_dir.empty()) {
    checkpoint_dir = run_dir + "/checkpoints";
    cluster_options.coordinator_flags.push_back("--checkpoint_dir=" +
                                                checkpoint_dir);
  }
  if (options.resume) {
    if (checkpoint_dir != options.checkpoint_dir) {
      return absl::InvalidArgumentError(
          absl::StrCat("the run's checkpoints are in ", options.checkpoint_dir,
                       ", but its YAML (", cluster_options.config_path,
                       ") now puts them in ", checkpoint_dir,
                       "; resuming would start over"));
    }
    if (ListNumberedFiles(checkpoint_dir, "coordinator-", ".ckpt").empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "nothing to resume: ", checkpoint_dir,
          " holds no job progress (the run stopped before its first "
          "checkpoint); start it again with paramctl launch ",
          cluster_options.config_path));
    }
  }
  if (options.summary_path.empty()) {
    options.summary_path = run_dir + "/summary.json";
  }

  std::atomic<bool> stop{false};
  OnShutdownSignal(&stop, [] {});
  PARAMD_ASSIGN_OR_RETURN(std::unique_ptr<LocalCluster> cluster,
                          LocalCluster::Start(cluster_options));
  // Only a run whose cluster started can be resumed.
  if (!options.resume) {
    PARAMD_RETURN_IF_ERROR(WriteRecord(options, checkpoint_dir));
  }
  ProgressPrinter printer(options.progress_every);
  printer.Say(absl::StrCat(options.resume ? "resuming job '" : "job '",
                           job.name, "': coordinator at ",
                           cluster->coordinator_address(), ", ",
                           cluster->servers().size(), " servers, logs in ",
                           run_dir, "\ncheckpoints in ", checkpoint_dir));
  if (cluster->trainers().empty()) {
    printer.Say(
        absl::StrCat("no trainers started here: start yours with "
                     "--coordinator=",
                     cluster->coordinator_address()));
  }
  CoordinatorClient client(cluster->coordinator_address(), &stop);
  MetricsLog metrics;
  const std::string csv = run_dir + "/metrics.csv";
  PARAMD_RETURN_IF_ERROR(metrics.Open(csv, options.resume));
  ProgressMeter progress;
  const absl::Time start = absl::Now();
  absl::Time next_row = start;
  std::optional<uint64_t> first_examples;
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
      printer.Say(name + " crashed and was restarted");
    }
    absl::StatusOr<v1::GetStatusResponse> latest = client.GetStatus();
    if (latest.ok()) {
      status = *latest;
      progress.Add(status, absl::Now());
      if (!first_examples) first_examples = status.examples();
    }
    const bool finished = Finished(*cluster, status);
    if (latest.ok()) printer.Show(progress, finished);
    if (finished || absl::Now() >= next_row) {
      metrics.Append(status, absl::ToDoubleSeconds(absl::Now() - start));
      next_row += kCsvEvery;
    }
    if (finished) break;
    if (!status.failure().empty()) {
      result = absl::AbortedError(absl::StrCat(
          "the job failed: ", status.failure(), "; see the logs in ", run_dir));
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
          "; see the logs in ", run_dir));
      break;
    }
    if (absl::Now() - start > options.timeout) {
      result = absl::DeadlineExceededError("job did not finish in time");
      break;
    }
    absl::SleepFor(kPoll);
  }
  RunFacts run;
  run.elapsed_s = absl::ToDoubleSeconds(absl::Now() - start);
  // A restarted coordinator may count from its last save: never negative.
  const uint64_t trained =
      status.examples() -
      std::min<uint64_t>(status.examples(), first_examples.value_or(0));
  run.examples_per_s = trained / std::max(run.elapsed_s, 1e-3);
  run.checkpoint_dir = checkpoint_dir;
  if (result.ok()) {
    const std::string model_dir = run_dir + "/model";
    absl::Status exported = Export(*cluster, model_dir, &stop);
    if (exported.ok()) {
      run.model_dir = model_dir;
      printer.Say("model: " + model_dir);
    } else {
      result = absl::Status(
          exported.code(),
          absl::StrCat("the model could not be exported: ", exported.message(),
                       " (the checkpoints in ", checkpoint_dir, " hold it)"));
    }
  } else if (!status.done() && status.failure().empty()) {
    printer.Say(
        absl::StrCat("stopped; to go on: paramctl launch --resume ", run_dir));
  }
  cluster->Stop();
  run.failed = FailedProcesses(*cluster);
  PARAMD_RETURN_IF_ERROR(
      WriteFile(options.summary_path, SummaryJson(status, run)));
  const std::string png = run_dir + "/curves.png";
  absl::Status plotted = PlotCurves(csv, png, job.name);
  printer.Say(absl::StrCat(
      plotted.ok() ? "curves: " + png
                   : "no curves: " + std::string(plotted.message()),
      "\nmetrics: ", csv, "\nsummary: ", options.summary_path));
  return result;
}

}  // namespace paramd
