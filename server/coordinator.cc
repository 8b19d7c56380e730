#include "server/coordinator.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace paramd {
namespace {

// Longer than this between two calls (Tick runs every 200 ms) and the
// coordinator itself was not listening: see NowLocked().
constexpr absl::Duration kUnresponsive = absl::Seconds(1);

// Lease ids the saved state reserves ahead of the next one: a grant writes
// the state only once per this many.
constexpr uint64_t kLeaseIdsReserved = 1024;

}  // namespace

Coordinator::Coordinator(JobConfig job, std::string config_yaml,
                         std::vector<std::string> shards)
    : job_(std::move(job)),
      config_yaml_(std::move(config_yaml)),
      shards_(std::move(shards)),
      started_(absl::Now()),
      servers_(job_.num_servers),
      book_(static_cast<int32_t>(shards_.size()), job_.epochs,
            absl::Seconds(job_.lease_timeout_s),
            job_.fail_on_bad_shard ? LeaseBook::BadShards::kFailJob
                                   : LeaseBook::BadShards::kSkip),
      recovery_(job_, job_.num_servers),
      state_files_(job_.checkpoint.dir, job_.name, job_.checkpoint.keep) {}

void Coordinator::Restore() {
  absl::MutexLock lock(&mu_);
  std::optional<paramd::v1::CoordinatorState> state = state_files_.LoadNewest(
      [this](const paramd::v1::CoordinatorState& state)
          ABSL_NO_THREAD_SAFETY_ANALYSIS {  // mu_ is held: called below
            return book_.Rebuild(
                {state.completions().begin(), state.completions().end()});
          });
  if (!state.has_value()) return;
  persisted_completions_ = static_cast<size_t>(state->completions_size());
  reserved_lease_ids_ = state->next_lease_id();
  book_.Resume(state->next_lease_id(), state->expired_leases());
  recovery_.Restore(*state);
  workers_.Resume(state->next_worker_id());
  reclaim_until_ = absl::Now() + absl::Seconds(job_.lease_timeout_s);
  LogInfo(absl::StrCat("job progress: epoch ", book_.epoch() + 1, "/",
                       job_.epochs, ", ", state->completions_size(),
                       " shards done, generation ", state->generation()));
}

absl::Status Coordinator::PersistLocked(const paramd::v1::Completion* pending) {
  if (!state_files_.enabled()) return absl::OkStatus();
  const std::vector<paramd::v1::Completion>& log = book_.log();
  // Lease ids are saved a block ahead, so a grant needs no write of its own.
  const uint64_t reserved = book_.next_lease_id() + kLeaseIdsReserved;
  paramd::v1::CoordinatorState state;
  state.set_job(job_.name);
  state.set_next_worker_id(workers_.next_id());
  state.set_expired_leases(book_.expired());
  state.set_next_lease_id(reserved);
  recovery_.Save(&state);
  // A whole state now and then; in between, the completions not saved yet.
  const bool whole = state_files_.WantsSnapshot();
  for (size_t i = whole ? 0 : persisted_completions_; i < log.size(); ++i) {
    *state.add_completions() = log[i];
  }
  if (pending != nullptr) *state.add_completions() = *pending;
  absl::Status written;
  if (whole) {
    written = state_files_.Write(state);
  } else {
    paramd::v1::CoordinatorStateChange change;
    change.set_completions_kept(persisted_completions_);
    change.mutable_state()->Swap(&state);
    written = state_files_.Append(change);
  }
  if (written.ok()) {
    persisted_completions_ = log.size() + (pending != nullptr ? 1 : 0);
    reserved_lease_ids_ = reserved;
  }
  if (!written.ok() && state_error_.empty()) {
    state_failing_since_ = absl::Now();
  } else if (written.ok() && !state_error_.empty()) {
    LogInfo(
        absl::StrCat("job progress saved again after failing for ",
                     absl::FormatDuration(absl::Now() - state_failing_since_)));
  }
  state_error_ = std::string(written.message());
  awake_ = absl::Now();  // a slow write is not a pause (see NowLocked)
  return written;
}

absl::Time Coordinator::NowLocked() {
  const absl::Time now = absl::Now();
  const absl::Duration gap = now - awake_;
  if (gap > kUnresponsive) {
    workers_.Postpone(gap);
    book_.Postpone(gap);
    LogWarning(absl::StrCat(
        "the coordinator was unresponsive for ", absl::FormatDuration(gap),
        " (stopped or starved) and could hear no one meanwhile: worker "
        "liveness and lease deadlines are moved back by as much"));
  }
  awake_ = now;
  return now;
}

void Coordinator::SaveLocked() {
  if (absl::Status s = PersistLocked(nullptr); !s.ok()) {
    LogError(s.ToString());
  }
}

absl::StatusOr<int32_t> Coordinator::RegisterServer(const std::string& address,
                                                    int32_t requested) {
  if (address.empty() || address.size() > 1024) {
    return absl::InvalidArgumentError(
        "address: must be the host:port workers reach the server at");
  }
  absl::MutexLock lock(&mu_);
  const int32_t n = static_cast<int32_t>(servers_.size());
  if (requested >= n || requested < -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard ", requested, " is outside [0, ", n, ")"));
  }
  int32_t shard = requested;
  // A server re-registering keeps its shard; a new one takes the lowest free.
  for (int32_t s = 0; s < n && shard == -1; ++s) {
    if (servers_[s] == address) shard = s;
  }
  if (shard == -1) {
    for (int32_t s = 0; s < n && shard == -1; ++s) {
      if (servers_[s].empty()) shard = s;
    }
    if (shard == -1) {
      return absl::ResourceExhaustedError(
          absl::StrCat("all ", n, " shards already have a server"));
    }
  }
  if (servers_[shard] != address) {
    LogInfo(absl::StrCat("server ", address, " holds shard ", shard));
  }
  servers_[shard] = address;
  recovery_.ServerStarted(shard, !book_.log().empty());
  // A rollback now due must survive a coordinator crash before it starts.
  SaveLocked();
  return shard;
}

absl::Status Coordinator::ServerHeartbeat(
    const paramd::v1::ServerHeartbeatRequest& report,
    paramd::v1::ServerHeartbeatResponse* response) {
  absl::MutexLock lock(&mu_);
  const int32_t shard = report.shard();
  if (shard < 0 || shard >= static_cast<int32_t>(servers_.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shard ", shard, " is outside [0, ", servers_.size(), ")"));
  }
  // Versions below 2^62 leave room to order checkpoints ahead of them.
  constexpr int64_t kMaxVersion = int64_t{1} << 62;
  bool versions_ok = report.version() >= 0 && report.version() < kMaxVersion &&
                     report.checkpoint_version() >= 0 &&
                     report.checkpoint_version() < kMaxVersion;
  for (int64_t v : report.checkpoints()) {
    versions_ok = versions_ok && v >= 0 && v < kMaxVersion;
  }
  if (!versions_ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "version, checkpoint_version and checkpoints must be in [0, ",
        kMaxVersion, ")"));
  }
  // A server replaced by a newer process of the same shard is fenced off.
  if (!servers_[shard].empty() && !report.address().empty() &&
      report.address() != servers_[shard]) {
    return absl::FailedPreconditionError(
        absl::StrCat("shard ", shard, " is now served by ", servers_[shard],
                     ", not ", report.address()));
  }
  // A coordinator that restarted learns the servers from their heartbeats.
  if (servers_[shard].empty() && !report.address().empty()) {
    servers_[shard] = report.address();
    LogInfo(absl::StrCat("server ", report.address(), " holds shard ", shard,
                         " (heard from its heartbeat)"));
  }
  const absl::Time now = NowLocked();
  recovery_.Report(report, now);
  recovery_.FillResponse(shard, response);
  for (uint64_t id : workers_.LiveTrainers()) response->add_live_workers(id);
  response->set_workers_known(now >= reclaim_until_);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Coordinator::RegisterWorker(
    const std::string& host, const std::string& role, uint64_t old_id,
    uint64_t request_id, std::optional<LeaseInfo>* held,
    std::vector<std::string>* servers) {
  PARAMD_RETURN_IF_ERROR(WorkerRegistry::CheckRegistration(role, old_id));
  absl::MutexLock lock(&mu_);
  if (std::optional<uint64_t> id = workers_.FindRegistration(request_id)) {
    *servers = servers_;
    held->reset();
    return *id;  // a retry whose first reply was lost
  }
  for (size_t s = 0; s < servers_.size(); ++s) {
    if (servers_[s].empty()) {
      return absl::UnavailableError(
          absl::StrCat("waiting for parameter server ", s, " to register"));
    }
  }
  const absl::Time now = NowLocked();
  PARAMD_ASSIGN_OR_RETURN(const uint64_t id,
                          workers_.Add(host, role, old_id, request_id, now));
  *servers = servers_;
  if (held->has_value()) {
    if ((*held)->generation == recovery_.generation() &&
        book_.Reclaim(id, **held, now)) {
      LogInfo(absl::StrCat("worker ", id, " keeps shard ", (*held)->shard,
                           " of epoch ", (*held)->epoch + 1));
    } else {
      held->reset();
    }
  }
  LogInfo(absl::StrCat(role, " ", id,
                       old_id != 0 ? " came back" : " registered", " from ",
                       host));
  SaveLocked();
  return id;
}

absl::Status Coordinator::Heartbeat(uint64_t worker, uint64_t examples,
                                    double loss_sum,
                                    const std::vector<uint64_t>& held,
                                    paramd::v1::HeartbeatResponse* response) {
  if (!std::isfinite(loss_sum)) {
    return absl::InvalidArgumentError("loss_sum: must be finite");
  }
  absl::MutexLock lock(&mu_);
  const absl::Time now = NowLocked();
  PARAMD_ASSIGN_OR_RETURN(WorkerEntry * entry_ptr, workers_.Find(worker));
  WorkerEntry& entry = *entry_ptr;
  if (!entry.alive) {
    LogInfo(absl::StrCat("worker ", worker, " is back"));
  }
  entry.alive = true;
  entry.last_seen = now;
  entry.examples = examples;
  entry.loss_sum = loss_sum;
  book_.Renew(worker, held, now);
  response->set_job_done(book_.done());
  response->set_generation(recovery_.generation());
  for (const std::string& s : servers_) response->add_servers(s);
  for (const auto& [id, lease] : book_.leases()) {
    if (lease.worker_id == worker) response->add_leases(id);
  }
  return absl::OkStatus();
}

absl::StatusOr<LeaseBook::Grant> Coordinator::AcquireShard(
    uint64_t worker, uint64_t request_id, LeaseInfo* lease, std::string* path,
    std::vector<std::string>* servers) {
  absl::MutexLock lock(&mu_);
  PARAMD_ASSIGN_OR_RETURN(WorkerEntry * entry_ptr, workers_.Find(worker));
  WorkerEntry& entry = *entry_ptr;
  if (entry.role != "trainer") {
    return absl::FailedPreconditionError("only trainers lease shards");
  }
  if (request_id != 0 && request_id == entry.acquire_request) {
    *lease = entry.acquire_lease;
    *path = shards_[lease->shard];
    *servers = servers_;
    return entry.acquire_grant;  // a retry whose first reply was lost
  }
  const absl::Time now = NowLocked();
  if (!book_.done() && (recovery_.Settling() || now < reclaim_until_)) {
    return LeaseBook::Grant::kWait;
  }
  const LeaseBook::Grant grant = book_.Acquire(worker, now, lease);
  if (grant == LeaseBook::Grant::kLeased) {
    lease->generation = recovery_.generation();
    *path = shards_[lease->shard];
    *servers = servers_;
    // Only the lease id must outlive a crash (a restarted coordinator must
    // not hand it out again), and ids are saved a block ahead.
    if (book_.next_lease_id() > reserved_lease_ids_) SaveLocked();
  }
  entry.acquire_request = request_id;
  entry.acquire_grant = grant;
  entry.acquire_lease = *lease;
  return grant;
}

absl::Status Coordinator::CompleteShard(uint64_t worker, uint64_t lease_id,
                                        uint64_t examples, double loss_sum,
                                        int64_t clock) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = NowLocked();
  PARAMD_RETURN_IF_ERROR(workers_.Find(worker).status());
  if (!std::isfinite(loss_sum)) {
    return absl::InvalidArgumentError("loss_sum: must be finite");
  }
  return FinishLeaseLocked(
      worker, lease_id, LeaseBook::Completed(examples, loss_sum, clock), now);
}

absl::Status Coordinator::FailShard(uint64_t worker, uint64_t lease_id,
                                    const std::string& error, bool unreadable) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = NowLocked();
  PARAMD_RETURN_IF_ERROR(workers_.Find(worker).status());
  // Kept short: it is stored in every state file and shown in status.
  const std::string reason = error.substr(0, 512);
  auto it = book_.leases().find(lease_id);
  const std::string path =
      it == book_.leases().end() ? "" : shards_[it->second.shard];
  if (unreadable && it != book_.leases().end() &&
      workers_.LiveTrainers().size() >= 2) {
    // Maybe only this host cannot read it: a second worker must fail too.
    std::set<uint64_t>& failed =
        unreadable_[{it->second.epoch, it->second.shard}];
    failed.insert(worker);
    if (failed.size() < 2) {
      LogWarning(absl::StrCat("worker ", worker, " cannot read ", path, ": ",
                              reason, "; another worker will try it"));
      return book_.Return(worker, lease_id);
    }
  }
  PARAMD_RETURN_IF_ERROR(
      FinishLeaseLocked(worker, lease_id, LeaseBook::Failed(reason), now));
  if (!book_.failure().empty()) {
    LogError(absl::StrCat("the job failed: ", book_.failure(),
                          " (data.bad_shards: fail)"));
  } else if (!path.empty()) {
    LogWarning(absl::StrCat("shard ", path, " failed: ", reason,
                            "; it is left out of the later epochs"));
  }
  return absl::OkStatus();
}

absl::Status Coordinator::FinishLeaseLocked(uint64_t worker, uint64_t lease_id,
                                            paramd::v1::Completion done,
                                            absl::Time now) {
  PARAMD_ASSIGN_OR_RETURN(WorkerEntry * entry_ptr, workers_.Find(worker));
  WorkerEntry& entry = *entry_ptr;
  if (lease_id != 0 && lease_id == entry.completed_lease) {
    return absl::OkStatus();  // a retry whose first reply was lost
  }
  const int32_t epoch = book_.epoch();
  // Recorded only once saved, so a completion is never lost to a crash.
  PARAMD_ASSIGN_OR_RETURN(
      const paramd::v1::Completion prepared,
      book_.Prepare(worker, lease_id, std::move(done), now));
  PARAMD_RETURN_IF_ERROR(PersistLocked(&prepared));
  book_.Commit(lease_id, prepared);
  entry.completed_lease = lease_id;
  if (book_.epoch() != epoch) {
    const EpochLedger& done = book_.ledger()[epoch];
    LogInfo(absl::StrCat(
        "epoch ", epoch + 1, "/", job_.epochs, " done: ", done.examples,
        " examples, train loss ",
        done.loss_sum / std::max<uint64_t>(1, done.examples),
        done.failed > 0 ? absl::StrCat(", ", done.failed, " shard(s) failed")
                        : ""));
  }
  return absl::OkStatus();
}

absl::Status Coordinator::ReleaseShard(uint64_t worker, uint64_t lease_id) {
  absl::MutexLock lock(&mu_);
  PARAMD_RETURN_IF_ERROR(workers_.Find(worker).status());
  return book_.Return(worker, lease_id);
}

absl::StatusOr<paramd::v1::CheckpointOrder> Coordinator::Checkpoint() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<paramd::v1::CheckpointOrder> order =
      recovery_.Order(NowLocked(), book_.log().size());
  if (order.ok()) SaveLocked();
  return order;
}

void Coordinator::RollBackLocked(const Rollback& rollback) {
  // The longest prefix of the log the restored state covers: a prefix of a
  // valid log is valid, so the rebuild cannot fail.
  const auto& log = book_.log();
  size_t keep = 0;
  while (keep < log.size() && rollback.Keeps(log[keep], keep)) ++keep;
  const std::vector<paramd::v1::Completion> kept(log.begin(),
                                                 log.begin() + keep);
  const size_t dropped = log.size() - kept.size();
  persisted_completions_ = std::min(persisted_completions_, kept.size());
  absl::Status rebuilt = book_.Rebuild(kept);
  if (!rebuilt.ok()) LogError(rebuilt.ToString());
  LogWarning(absl::StrCat("rollback: ", dropped,
                          " completed shard(s) undone; epoch ",
                          book_.epoch() + 1, ", ", kept.size(),
                          " shards done; every lease revoked"));
  SaveLocked();
}

absl::Status Coordinator::ReportEval(
    uint64_t worker, const std::map<std::string, double>& metrics,
    uint64_t examples_seen, bool final) {
  for (const auto& [name, value] : metrics) {
    if (!std::isfinite(value) || name.empty() || name.size() > 64) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metrics: each needs a name of 1 to 64 bytes and a finite value; "
          "got '",
          absl::CHexEscape(name.substr(0, 64)), "' = ", value));
    }
  }
  if (metrics.size() > 64) {
    return absl::InvalidArgumentError("metrics: at most 64");
  }
  absl::MutexLock lock(&mu_);
  PARAMD_RETURN_IF_ERROR(workers_.Find(worker).status());
  eval_ = metrics;
  eval_["examples_seen"] = static_cast<double>(examples_seen);
  eval_final_ = eval_final_ || final;
  return absl::OkStatus();
}

void Coordinator::Tick() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = NowLocked();
  const absl::Duration timeout = absl::Seconds(job_.lease_timeout_s);
  for (const auto& [id, silent] : workers_.MarkSilentDead(now, timeout)) {
    book_.Release(id);
    LogWarning(absl::StrCat("worker ", id, " missed heartbeats for ",
                            absl::FormatDuration(silent),
                            ": marked dead, leases released"));
  }
  book_.Expire(now);
  const std::string stalled = StalledLocked();
  if (stalled.empty() != stalled_.empty()) {
    LogWarning(stalled.empty() ? "a trainer is live: the job goes on"
                               : stalled);
  }
  stalled_ = stalled;
  if (std::optional<Rollback> rollback = recovery_.MaybeRollBack()) {
    RollBackLocked(*rollback);
  }
  const bool ordered = recovery_.MaybeOrder(now, book_.log().size());
  if (recovery_.MaybeFinish(now).has_value() || ordered) SaveLocked();
}

paramd::v1::GetStatusResponse Coordinator::Status() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = NowLocked();
  paramd::v1::GetStatusResponse status;
  status.set_job(job_.name);
  status.set_epoch(book_.epoch());
  status.set_epochs(book_.epochs());
  status.set_num_shards(book_.num_shards());
  status.set_done(book_.done());
  status.set_uptime_s(absl::ToDoubleSeconds(now - started_));
  status.set_expired_leases(book_.expired());
  for (const std::string& s : servers_) status.add_servers(s);
  const auto [examples, loss_sum] = workers_.FillStatus(now, &status);
  // Heartbeats lag; completed shards are exact. Report the larger.
  uint64_t completed = 0;
  for (const EpochLedger& e : book_.ledger()) completed += e.examples;
  status.set_examples(std::max(examples, completed));
  status.set_loss_sum(loss_sum);
  status.set_loss_examples(examples);
  book_.FillStatus(shards_, now, &status);
  for (const auto& [name, value] : eval_)
    (*status.mutable_eval())[name] = value;
  status.set_eval_final(eval_final_);
  status.set_generation(recovery_.generation());
  for (const auto& record : recovery_.records()) {
    paramd::v1::CheckpointStatus* out = status.add_checkpoints();
    out->set_id(record.id());
    *out->mutable_versions() = record.versions();
  }
  for (int64_t v : recovery_.versions()) status.add_server_versions(v);
  for (int64_t v : recovery_.rollbacks()) status.add_rollbacks(v);
  status.set_settling(recovery_.Settling());
  *status.mutable_checkpoint_failure() = recovery_.checkpoint_failure(now);
  status.set_state_error(state_error_);
  status.set_failure(book_.failure());
  status.set_stalled(StalledLocked());
  return status;
}

std::string Coordinator::StalledLocked() const {
  if (book_.remaining() == 0 || !book_.failure().empty() ||
      !workers_.LiveTrainers().empty()) {
    return "";
  }
  return absl::StrCat("no live trainer: ", book_.remaining(),
                      " shard(s) of epoch ", book_.epoch() + 1,
                      " left; the job waits for a trainer to register");
}

std::string Coordinator::Failure() const {
  absl::MutexLock lock(&mu_);
  return book_.failure();
}

}  // namespace paramd
