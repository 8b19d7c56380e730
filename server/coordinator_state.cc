// The coordinator's durable job progress: read back at start, rewritten on
// every change (see paramd.v1.CoordinatorState).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/checkpoint_file.h"
#include "common/logging.h"
#include "server/coordinator.h"

namespace paramd {
namespace {

// Job progress files: <checkpoint.dir>/coordinator-<seq>.ckpt.
constexpr char kStatePrefix[] = "coordinator-";
constexpr char kStateSuffix[] = ".ckpt";

}  // namespace

void Coordinator::Restore() {
  absl::MutexLock lock(&mu_);
  if (job_.checkpoint.dir.empty()) return;
  auto files =
      ListNumberedFiles(job_.checkpoint.dir, kStatePrefix, kStateSuffix);
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    absl::StatusOr<std::string> payload = ReadCheckpointFile(it->second);
    paramd::v1::CoordinatorState state;
    if (payload.ok() && !state.ParseFromString(*payload)) {
      payload = absl::DataLossError(absl::StrCat(it->second, ": unparsable"));
    }
    if (payload.ok() && state.job() != job_.name) {
      payload = absl::DataLossError(
          absl::StrCat(it->second, ": belongs to job '", state.job(), "'"));
    }
    absl::Status rebuilt = payload.status();
    if (rebuilt.ok()) {
      rebuilt = book_.Rebuild(
          {state.completions().begin(), state.completions().end()});
    }
    if (!rebuilt.ok()) {
      LogWarning(
          absl::StrCat("skipping coordinator state: ", rebuilt.message()));
      continue;
    }
    book_.Resume(state.next_lease_id(), state.expired_leases());
    recovery_.Restore(state);
    next_worker_id_ = std::max<uint64_t>(1, state.next_worker_id());
    state_seq_ = static_cast<uint64_t>(it->first);
    reclaim_until_ = absl::Now() + absl::Seconds(job_.lease_timeout_s);
    LogInfo(absl::StrCat("restored job progress from ", it->second, ": epoch ",
                         book_.epoch() + 1, "/", job_.epochs, ", ",
                         state.completions_size(), " shards done, generation ",
                         state.generation()));
    return;
  }
}

void Coordinator::PersistLocked() {
  if (job_.checkpoint.dir.empty()) return;
  paramd::v1::CoordinatorState state;
  state.set_job(job_.name);
  state.set_next_worker_id(next_worker_id_);
  for (const auto& done : book_.log()) *state.add_completions() = done;
  state.set_expired_leases(book_.expired());
  state.set_next_lease_id(book_.next_lease_id());
  recovery_.Save(&state);
  const std::string path =
      absl::StrCat(job_.checkpoint.dir, "/",
                   NumberedFileName(kStatePrefix, ++state_seq_, kStateSuffix));
  absl::Status written = WriteCheckpointFile(path, state.SerializeAsString());
  if (!written.ok()) {
    LogError(absl::StrCat("job progress not saved: ", written.message()));
    return;
  }
  PruneNumberedFiles(job_.checkpoint.dir, kStatePrefix, kStateSuffix,
                     job_.checkpoint.keep);
}

}  // namespace paramd
