#include "server/coordinator_state.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/checkpoint_file.h"
#include "common/logging.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

constexpr char kPrefix[] = "coordinator-";
constexpr char kSuffix[] = ".ckpt";
constexpr char kJournalSuffix[] = ".journal";

absl::Status NotSaved(absl::string_view why) {
  return absl::UnavailableError(absl::StrCat("job progress not saved: ", why));
}

// Replays the journal at `path` onto `state`, up to its end or the first
// record that is not a change that can follow the ones before; logs what
// it did not replay.
absl::Status Replay(const std::string& path, v1::CoordinatorState* state) {
  absl::StatusOr<RecordLog::Contents> journal = RecordLog::Read(path);
  if (!journal.ok()) return journal.status();
  size_t replayed = 0;
  for (const std::string& record : journal->records) {
    v1::CoordinatorStateChange change;
    if (!change.ParseFromString(record) ||
        change.completions_kept() >
            static_cast<uint64_t>(state->completions_size())) {
      break;
    }
    // Completions: the kept ones, then the change's; the rest: the change's.
    auto* completions = state->mutable_completions();
    completions->DeleteSubrange(
        static_cast<int>(change.completions_kept()),
        completions->size() - static_cast<int>(change.completions_kept()));
    for (v1::Completion& done :
         *change.mutable_state()->mutable_completions()) {
      completions->Add(std::move(done));
    }
    change.mutable_state()->mutable_completions()->Swap(completions);
    state->Swap(change.mutable_state());
    ++replayed;
  }
  if (replayed < journal->records.size() || journal->dropped_bytes > 0) {
    LogWarning(absl::StrCat(
        path, ": replayed ", replayed, " change(s); the ",
        journal->records.size() - replayed, " record(s) and ",
        journal->dropped_bytes,
        " byte(s) after them are damaged or were cut short by a crash"));
  }
  return absl::OkStatus();
}

}  // namespace

CoordinatorStateFiles::CoordinatorStateFiles(std::string dir, std::string job,
                                             int keep,
                                             int64_t min_journal_bytes)
    : dir_(std::move(dir)),
      job_(std::move(job)),
      keep_(keep),
      min_journal_bytes_(min_journal_bytes) {}

std::optional<v1::CoordinatorState> CoordinatorStateFiles::LoadNewest(
    const std::function<absl::Status(const v1::CoordinatorState&)>& accept) {
  if (dir_.empty()) return std::nullopt;
  if (int stale = RemoveStaleTempFiles(dir_, kPrefix, kSuffix); stale > 0) {
    LogWarning(absl::StrCat("removed ", stale,
                            " partial state file(s) left by a killed "
                            "coordinator"));
  }
  auto files = ListNumberedFiles(dir_, kPrefix, kSuffix);
  if (!files.empty()) seq_ = static_cast<uint64_t>(files.back().first);
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    absl::StatusOr<std::string> payload = ReadCheckpointFile(it->second);
    v1::CoordinatorState state;
    if (payload.ok() && !state.ParseFromString(*payload)) {
      payload = absl::DataLossError(absl::StrCat(it->second, ": unparsable"));
    }
    if (payload.ok() && state.job() != job_) {
      payload = absl::DataLossError(
          absl::StrCat(it->second, ": belongs to job '", state.job(), "'"));
    }
    absl::Status taken = payload.status();
    const std::string journal = absl::StrCat(
        dir_, "/", NumberedFileName(kPrefix, it->first, kJournalSuffix));
    if (taken.ok()) taken = Replay(journal, &state);
    if (taken.ok()) taken = accept(state);
    if (!taken.ok()) {
      LogWarning(absl::StrCat("skipping coordinator state: ", taken.message()));
      continue;
    }
    LogInfo(absl::StrCat("restored job progress from ", it->second, " and ",
                         journal));
    return state;
  }
  return std::nullopt;
}

bool CoordinatorStateFiles::WantsSnapshot() const {
  return journal_ == nullptr ||
         journal_->size_bytes() > std::max(min_journal_bytes_, snapshot_bytes_);
}

absl::Status CoordinatorStateFiles::Write(const v1::CoordinatorState& state) {
  if (dir_.empty()) return absl::OkStatus();
  std::string payload;
  if (!state.SerializeToString(&payload)) {
    return NotSaved(absl::StrCat("the state (", state.ByteSizeLong(),
                                 " bytes) cannot be serialized"));
  }
  // A journal of this number left by an earlier run would replay onto the
  // new snapshot: it goes first.
  const std::string journal = absl::StrCat(
      dir_, "/", NumberedFileName(kPrefix, seq_ + 1, kJournalSuffix));
  std::error_code ignored;
  std::filesystem::remove(journal, ignored);
  const std::string path =
      absl::StrCat(dir_, "/", NumberedFileName(kPrefix, seq_ + 1, kSuffix));
  if (absl::Status s = WriteCheckpointFile(path, payload); !s.ok()) {
    return NotSaved(s.message());
  }
  ++seq_;
  snapshot_bytes_ = static_cast<int64_t>(payload.size());
  absl::StatusOr<std::unique_ptr<RecordLog>> created =
      RecordLog::Create(journal);
  // Without a journal the next save is a snapshot again; this one stands.
  journal_ = created.ok() ? std::move(created).value() : nullptr;
  if (!created.ok()) {
    LogWarning(absl::StrCat("no journal (", created.status().message(),
                            "): every change is saved as a snapshot"));
  }
  PruneNumberedFiles(dir_, kPrefix, kSuffix, keep_);
  PruneNumberedFiles(dir_, kPrefix, kJournalSuffix, keep_);
  return absl::OkStatus();
}

absl::Status CoordinatorStateFiles::Append(
    const v1::CoordinatorStateChange& change) {
  if (dir_.empty()) return absl::OkStatus();
  std::string payload;
  if (!change.SerializeToString(&payload) ||
      payload.size() > RecordLog::kMaxRecordBytes) {
    journal_ = nullptr;  // a snapshot holds any state; the next save is one
    return NotSaved(absl::StrCat("a change of ", change.ByteSizeLong(),
                                 " bytes cannot be journaled"));
  }
  if (absl::Status s = journal_->Append(payload); !s.ok()) {
    journal_ = nullptr;  // the next save starts afresh with a snapshot
    return NotSaved(s.message());
  }
  return absl::OkStatus();
}

}  // namespace paramd
