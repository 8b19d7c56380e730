#include "server/coordinator_state.h"

#include "absl/strings/str_cat.h"
#include "common/checkpoint_file.h"
#include "common/logging.h"

namespace paramd {
namespace {

constexpr char kPrefix[] = "coordinator-";
constexpr char kSuffix[] = ".ckpt";

}  // namespace

CoordinatorStateFiles::CoordinatorStateFiles(std::string dir, std::string job,
                                             int keep)
    : dir_(std::move(dir)), job_(std::move(job)), keep_(keep) {}

std::optional<paramd::v1::CoordinatorState> CoordinatorStateFiles::LoadNewest(
    const std::function<absl::Status(const paramd::v1::CoordinatorState&)>&
        accept) {
  if (dir_.empty()) return std::nullopt;
  if (int stale = RemoveStaleTempFiles(dir_, kPrefix, kSuffix); stale > 0) {
    LogWarning(absl::StrCat("removed ", stale,
                            " partial state file(s) left by a killed "
                            "coordinator"));
  }
  auto files = ListNumberedFiles(dir_, kPrefix, kSuffix);
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    absl::StatusOr<std::string> payload = ReadCheckpointFile(it->second);
    paramd::v1::CoordinatorState state;
    if (payload.ok() && !state.ParseFromString(*payload)) {
      payload = absl::DataLossError(absl::StrCat(it->second, ": unparsable"));
    }
    if (payload.ok() && state.job() != job_) {
      payload = absl::DataLossError(
          absl::StrCat(it->second, ": belongs to job '", state.job(), "'"));
    }
    absl::Status taken = payload.status();
    if (taken.ok()) taken = accept(state);
    if (!taken.ok()) {
      LogWarning(absl::StrCat("skipping coordinator state: ", taken.message()));
      continue;
    }
    seq_ = static_cast<uint64_t>(it->first);
    LogInfo(absl::StrCat("restored job progress from ", it->second));
    return state;
  }
  return std::nullopt;
}

absl::Status CoordinatorStateFiles::Write(
    const paramd::v1::CoordinatorState& state) {
  if (dir_.empty()) return absl::OkStatus();
  std::string payload;
  if (!state.SerializeToString(&payload)) {
    return absl::UnavailableError(
        absl::StrCat("job progress not saved: the state (",
                     state.ByteSizeLong(), " bytes) cannot be serialized"));
  }
  const std::string path =
      absl::StrCat(dir_, "/", NumberedFileName(kPrefix, seq_ + 1, kSuffix));
  if (absl::Status s = WriteCheckpointFile(path, payload); !s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("job progress not saved: ", s.message()));
  }
  ++seq_;
  PruneNumberedFiles(dir_, kPrefix, kSuffix, keep_);
  return absl::OkStatus();
}

}  // namespace paramd
