#include "tools/status_format.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/proto_json.h"
#include "google/protobuf/struct.pb.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

// `message` as JSON (protobuf's mapping: strings escaped), on one line
// unless `indent`; null if it cannot be encoded.
std::string MessageJson(const google::protobuf::Message& message,
                        bool indent = false) {
  return ProtoJson(message, indent).value_or("null");
}

// `text` as a JSON string, quoted and escaped.
std::string JsonString(const std::string& text) {
  google::protobuf::Value value;
  value.set_string_value(text);
  return MessageJson(value);
}

// "last #3 at version(s) 600,600; 2 orders failed in a row over 3.1s: ...".
std::string CheckpointSummary(const v1::GetStatusResponse& status) {
  std::string out = "none written yet";
  if (status.checkpoints_size() > 0) {
    const v1::CheckpointStatus& last =
        status.checkpoints(status.checkpoints_size() - 1);
    out = absl::StrCat("last #", last.id(), " at version(s) ",
                       absl::StrJoin(last.versions(), ","));
  }
  const v1::CheckpointFailure& failure = status.checkpoint_failure();
  if (failure.id() == 0) return out;
  if (failure.failures_in_a_row() > 0) {
    absl::StrAppendFormat(&out, "; FAILING: %d order(s) in a row over %.1fs",
                          failure.failures_in_a_row(), failure.since_s());
  } else {
    absl::StrAppendFormat(&out, "; recovered %.1fs ago from",
                          failure.since_s());
  }
  absl::StrAppend(&out, ", latest #", failure.id(), " on shard ",
                  failure.shard(), ": ", failure.error());
  return out;
}

}  // namespace

double FractionDone(const v1::GetStatusResponse& status) {
  if (status.epochs() <= 0 || status.num_shards() <= 0) return 0;
  if (status.done()) return 1;
  int32_t done_in_epoch = 0;
  for (const v1::EpochStatus& e : status.epochs_status()) {
    if (e.epoch() == status.epoch()) done_in_epoch = e.shards_done();
  }
  return (status.epoch() +
          static_cast<double>(done_in_epoch) / status.num_shards()) /
         status.epochs();
}

std::string FormatClock(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  return absl::StrFormat("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
}

std::string StatusTable(const v1::GetStatusResponse& status) {
  std::string out = absl::StrFormat(
      "job %s: epoch %d/%d, %s, up %s, %d examples, %d expired leases\n",
      status.job(), std::min(status.epoch() + 1, status.epochs()),
      status.epochs(),
      status.done()               ? "done"
      : !status.failure().empty() ? "FAILED"
                                  : "running",
      FormatClock(status.uptime_s()), status.examples(),
      status.expired_leases());
  absl::StrAppend(&out, "\nSHARD  SERVER\n");
  for (int s = 0; s < status.servers_size(); ++s) {
    absl::StrAppendFormat(&out, "%-6d %s\n", s,
                          status.servers(s).empty() ? "-" : status.servers(s));
  }
  absl::StrAppend(&out,
                  "\nWORKER ROLE       ALIVE  LAST_SEEN  EXAMPLES  HOST\n");
  for (const v1::WorkerStatus& w : status.workers()) {
    absl::StrAppendFormat(&out, "%-6d %-10s %-6s %8.1fs %9d  %s\n",
                          w.worker_id(), w.role(), w.alive() ? "yes" : "no",
                          w.last_seen_s(), w.examples(), w.host());
  }
  absl::StrAppend(&out, "\nLEASE  SHARD  EPOCH  WORKER  EXPIRES_IN\n");
  for (const v1::LeaseStatus& l : status.leases()) {
    absl::StrAppendFormat(&out, "%-6d %-6d %-6d %-7d %.1fs\n",
                          l.lease().lease_id(), l.lease().shard(),
                          l.lease().epoch() + 1, l.worker_id(),
                          l.remaining_s());
  }
  absl::StrAppend(&out,
                  "\nEPOCH  SHARDS_DONE  COMPLETIONS  EXAMPLES  TRAIN_LOSS\n");
  for (const v1::EpochStatus& e : status.epochs_status()) {
    absl::StrAppendFormat(&out, "%-6d %5d/%-6d %11d %9d  %.4f\n", e.epoch() + 1,
                          e.shards_done(), status.num_shards(), e.completions(),
                          e.examples(), e.train_loss());
  }
  if (status.failed_shards_size() > 0) {
    absl::StrAppend(&out, "\nFAILED SHARDS (could not be read)\n");
    for (const v1::ShardFailure& f : status.failed_shards()) {
      absl::StrAppendFormat(
          &out, "epoch %d shard %d%s: %s\n", f.epoch() + 1, f.shard(),
          f.skipped() ? " (skipped from then on)" : "", f.error());
    }
  }
  if (!status.failure().empty()) {
    absl::StrAppend(&out, "\nJOB FAILED: ", status.failure(), "\n");
  }
  if (!status.stalled().empty()) {
    absl::StrAppend(&out, "\nSTALLED: ", status.stalled(), "\n");
  }
  absl::StrAppend(&out, "\nCHECKPOINTS: ", CheckpointSummary(status), "\n");
  if (!status.state_error().empty()) {
    absl::StrAppend(&out, "JOB PROGRESS NOT SAVED (completions wait): ",
                    status.state_error(), "\n");
  }
  if (!status.eval().empty()) {
    absl::StrAppend(&out, "\nEVAL", status.eval_final() ? " (final)" : "",
                    "\n");
    std::vector<std::pair<std::string, double>> eval(status.eval().begin(),
                                                     status.eval().end());
    std::sort(eval.begin(), eval.end());
    for (const auto& [name, value] : eval) {
      absl::StrAppendFormat(&out, "%-20s %.6g\n", name, value);
    }
  }
  return out;
}

std::string StatusJson(const v1::GetStatusResponse& status) {
  return MessageJson(status, /*indent=*/true);
}

std::string SummaryJson(const v1::GetStatusResponse& status,
                        const RunFacts& run) {
  auto path_or_null = [](const std::string& path) {
    return path.empty() ? std::string("null") : JsonString(path);
  };
  std::vector<std::string> metrics;
  std::vector<std::pair<std::string, double>> eval(status.eval().begin(),
                                                   status.eval().end());
  std::sort(eval.begin(), eval.end());
  for (const auto& [name, value] : eval) {
    metrics.push_back(absl::StrFormat("\"%s\": %.9g", name, value));
  }
  std::vector<std::string> epochs;
  for (const v1::EpochStatus& e : status.epochs_status()) {
    epochs.push_back(absl::StrFormat(
        "{\"epoch\": %d, \"shards_completed\": %d, \"completions\": %d, "
        "\"shards_failed\": %d, \"examples\": %d, \"train_loss\": %.9g}",
        e.epoch() + 1, e.shards_done(), e.completions(), e.failed(),
        e.examples(), e.train_loss()));
  }
  std::vector<std::string> failed_shards;
  for (const v1::ShardFailure& f : status.failed_shards()) {
    failed_shards.push_back(MessageJson(f));
  }
  const std::string last_checkpoint =
      status.checkpoints_size() > 0
          ? MessageJson(status.checkpoints(status.checkpoints_size() - 1))
          : "null";
  const std::string checkpoint_failure =
      status.checkpoint_failure().id() > 0
          ? MessageJson(status.checkpoint_failure())
          : "null";
  return absl::StrFormat(
      "{\n  \"job\": %s,\n  \"done\": %s,\n  \"job_failure\": %s,\n"
      "  \"eval_final\": %s,\n"
      "  \"metrics\": {%s},\n  \"wall_time_s\": %.3f,\n  \"examples\": %d,\n"
      "  \"examples_per_s\": %.3f,\n  \"num_shards\": %d,\n"
      "  \"model\": %s,\n  \"checkpoint_dir\": %s,\n"
      "  \"epochs\": [\n    %s\n  ],\n"
      "  \"checkpoints\": {\"last\": %s, \"latest_failure\": %s},\n"
      "  \"failures\": {\"expired_leases\": %d, \"failed_shards\": [%s], "
      "\"failed_processes\": [%s]}\n}\n",
      JsonString(status.job()), status.done() ? "true" : "false",
      status.failure().empty() ? "null" : JsonString(status.failure()),
      status.eval_final() ? "true" : "false", absl::StrJoin(metrics, ", "),
      run.elapsed_s, status.examples(), run.examples_per_s, status.num_shards(),
      path_or_null(run.model_dir), path_or_null(run.checkpoint_dir),
      absl::StrJoin(epochs, ",\n    "), last_checkpoint, checkpoint_failure,
      status.expired_leases(), absl::StrJoin(failed_shards, ", "),
      absl::StrJoin(run.failed, ", ",
                    [](std::string* out, const std::string& f) {
                      absl::StrAppend(out, JsonString(f));
                    }));
}

}  // namespace paramd
