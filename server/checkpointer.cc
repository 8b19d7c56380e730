#include "server/checkpointer.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/checkpoint_file.h"
#include "common/logging.h"
#include "server/ps_metrics.h"

namespace paramd {
namespace {

constexpr char kSuffix[] = ".ckpt";

}  // namespace

Checkpointer::Checkpointer(std::string dir, int32_t shard, int keep)
    : dir_(std::move(dir)),
      prefix_(absl::StrCat("shard-", shard, "-v")),
      keep_(keep) {
  if (int stale = RemoveStaleTempFiles(dir_, prefix_, kSuffix); stale > 0) {
    LogWarning(absl::StrCat("removed ", stale,
                            " partial checkpoint file(s) left by a killed "
                            "server of this shard"));
  }
  for (const auto& [version, path] :
       ListNumberedFiles(dir_, prefix_, kSuffix)) {
    absl::StatusOr<paramd::v1::ShardCheckpoint> read = ReadFile(path, version);
    if (!read.ok()) {
      LogWarning(
          absl::StrCat("skipping checkpoint: ", read.status().message()));
      continue;
    }
    absl::MutexLock lock(&mu_);
    versions_.insert(version);
  }
  writer_ = std::thread([this] { WriterLoop(); });
}

Checkpointer::~Checkpointer() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  writer_.join();
}

std::string Checkpointer::Path(int64_t version) const {
  return absl::StrCat(dir_, "/", NumberedFileName(prefix_, version, kSuffix));
}

void Checkpointer::WriteAsync(paramd::v1::ShardCheckpoint checkpoint,
                              std::function<void(absl::Status)> done) {
  absl::MutexLock lock(&mu_);
  queue_.push_back({std::move(checkpoint), std::move(done)});
}

void Checkpointer::WaitForWrites() {
  absl::MutexLock lock(&mu_);
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queue_.empty() && !busy_;
  };
  mu_.Await(absl::Condition(&drained));
}

absl::Status Checkpointer::Write(
    const paramd::v1::ShardCheckpoint& checkpoint) {
  WaitForWrites();
  return WriteFile(checkpoint);
}

void Checkpointer::DropAbove(int64_t version) {
  WaitForWrites();
  absl::MutexLock write_lock(&write_mu_);
  for (const auto& [v, path] : ListNumberedFiles(dir_, prefix_, kSuffix)) {
    if (v <= version) continue;
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
  absl::MutexLock lock(&mu_);
  versions_.erase(versions_.upper_bound(version), versions_.end());
}

void Checkpointer::WriterLoop() {
  while (true) {
    Pending next;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;
      next = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    absl::Status written = WriteFile(next.checkpoint);
    if (!written.ok()) {
      LogError(absl::StrCat("checkpoint not written: ", written.message()));
    }
    next.done(written);
    absl::MutexLock lock(&mu_);
    busy_ = false;
  }
}

absl::Status Checkpointer::WriteFile(
    const paramd::v1::ShardCheckpoint& checkpoint) {
  absl::MutexLock write_lock(&write_mu_);
  const int64_t version = checkpoint.version();
  const absl::Time start = absl::Now();
  std::string payload;
  if (!checkpoint.SerializeToString(&payload)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "checkpoint v", version, " not written: the shard (",
        checkpoint.ByteSizeLong(),
        " bytes) is over protobuf's 2 GiB limit; use more servers"));
  }
  if (absl::Status s = WriteCheckpointFile(Path(version), payload); !s.ok()) {
    return s;
  }
  PruneNumberedFiles(dir_, prefix_, kSuffix, keep_);
  {
    absl::MutexLock lock(&mu_);
    versions_.insert(version);
    while (static_cast<int>(versions_.size()) > keep_) {
      versions_.erase(versions_.begin());
    }
  }
  PsMetrics::Get().checkpoint_seconds.Observe(
      absl::ToDoubleSeconds(absl::Now() - start));
  PsMetrics::Get().checkpoint_bytes.Set(static_cast<double>(payload.size()));
  LogInfo(absl::StrCat("checkpoint v", version, " written (", payload.size(),
                       " bytes, ", absl::FormatDuration(absl::Now() - start),
                       ")"));
  return absl::OkStatus();
}

absl::StatusOr<paramd::v1::ShardCheckpoint> Checkpointer::ReadFile(
    const std::string& path, int64_t version) {
  absl::StatusOr<std::string> payload = ReadCheckpointFile(path);
  if (!payload.ok()) return payload.status();
  paramd::v1::ShardCheckpoint checkpoint;
  if (!checkpoint.ParseFromString(*payload)) {
    return absl::DataLossError(absl::StrCat(path, ": unparsable"));
  }
  if (checkpoint.version() != version) {
    return absl::DataLossError(absl::StrCat(
        path, ": holds version ", checkpoint.version(), ", not ", version));
  }
  return checkpoint;
}

absl::StatusOr<paramd::v1::ShardCheckpoint> Checkpointer::Read(
    int64_t version) {
  absl::StatusOr<paramd::v1::ShardCheckpoint> read =
      ReadFile(Path(version), version);
  if (!read.ok()) {
    absl::MutexLock lock(&mu_);
    versions_.erase(version);
  }
  return read;
}

std::vector<int64_t> Checkpointer::Versions() const {
  absl::MutexLock lock(&mu_);
  return {versions_.begin(), versions_.end()};
}

}  // namespace paramd
