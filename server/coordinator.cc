#include "server/coordinator.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace paramd {

Coordinator::Coordinator(JobConfig job, std::string config_yaml,
                         std::vector<std::string> shards)
    : job_(std::move(job)),
      config_yaml_(std::move(config_yaml)),
      shards_(std::move(shards)),
      started_(absl::Now()),
      servers_(job_.num_servers),
      book_(static_cast<int32_t>(shards_.size()), job_.epochs,
            absl::Seconds(job_.lease_timeout_s)) {}

absl::StatusOr<int32_t> Coordinator::RegisterServer(const std::string& address,
                                                    int32_t requested) {
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
  return shard;
}

std::set<uint64_t> Coordinator::LiveTrainers() {
  absl::MutexLock lock(&mu_);
  std::set<uint64_t> live;
  for (const auto& [id, w] : workers_) {
    if (w.alive && w.role == "trainer") live.insert(id);
  }
  return live;
}

absl::StatusOr<uint64_t> Coordinator::RegisterWorker(
    const std::string& host, const std::string& role,
    std::vector<std::string>* servers) {
  if (role != "trainer" && role != "evaluator") {
    return absl::InvalidArgumentError(
        absl::StrCat("role must be trainer or evaluator, got '", role, "'"));
  }
  absl::MutexLock lock(&mu_);
  for (size_t s = 0; s < servers_.size(); ++s) {
    if (servers_[s].empty()) {
      return absl::UnavailableError(
          absl::StrCat("waiting for parameter server ", s, " to register"));
    }
  }
  const uint64_t id = next_worker_id_++;
  WorkerEntry& entry = workers_[id];
  entry.host = host;
  entry.role = role;
  entry.last_seen = absl::Now();
  *servers = servers_;
  LogInfo(absl::StrCat(role, " ", id, " registered from ", host));
  return id;
}

absl::Status Coordinator::CheckWorkerLocked(uint64_t worker) const {
  if (workers_.count(worker) == 0) {
    return absl::NotFoundError(
        absl::StrCat("worker ", worker, " is not registered (register again)"));
  }
  return absl::OkStatus();
}

absl::Status Coordinator::Heartbeat(uint64_t worker, uint64_t examples,
                                    double loss_sum, bool* done) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckWorkerLocked(worker); !s.ok()) return s;
  WorkerEntry& entry = workers_[worker];
  if (!entry.alive) {
    LogInfo(absl::StrCat("worker ", worker, " is back"));
  }
  entry.alive = true;
  entry.last_seen = absl::Now();
  entry.examples = examples;
  entry.loss_sum = loss_sum;
  book_.Renew(worker, absl::Now());
  *done = book_.done();
  return absl::OkStatus();
}

absl::StatusOr<LeaseBook::Grant> Coordinator::AcquireShard(uint64_t worker,
                                                           LeaseInfo* lease,
                                                           std::string* path) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckWorkerLocked(worker); !s.ok()) return s;
  if (workers_[worker].role != "trainer") {
    return absl::FailedPreconditionError("only trainers lease shards");
  }
  const LeaseBook::Grant grant = book_.Acquire(worker, absl::Now(), lease);
  if (grant == LeaseBook::Grant::kLeased) *path = shards_[lease->shard];
  return grant;
}

absl::Status Coordinator::CompleteShard(uint64_t worker, uint64_t lease_id,
                                        uint64_t examples, double loss_sum) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckWorkerLocked(worker); !s.ok()) return s;
  if (!std::isfinite(loss_sum)) {
    return absl::InvalidArgumentError("loss_sum must be finite");
  }
  const int32_t epoch = book_.epoch();
  absl::Status status =
      book_.Complete(worker, lease_id, examples, loss_sum, absl::Now());
  if (status.ok() && book_.epoch() != epoch) {
    const EpochLedger& done = book_.ledger()[epoch];
    LogInfo(absl::StrCat("epoch ", epoch + 1, "/", job_.epochs,
                         " done: ", done.examples, " examples, train loss ",
                         done.loss_sum / std::max<uint64_t>(1, done.examples)));
  }
  return status;
}

absl::Status Coordinator::ReportEval(
    uint64_t worker, const std::map<std::string, double>& metrics,
    uint64_t examples_seen, bool final) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckWorkerLocked(worker); !s.ok()) return s;
  eval_ = metrics;
  eval_["examples_seen"] = static_cast<double>(examples_seen);
  eval_final_ = eval_final_ || final;
  return absl::OkStatus();
}

void Coordinator::Tick() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  const absl::Duration timeout = absl::Seconds(job_.lease_timeout_s);
  for (auto& [id, w] : workers_) {
    if (w.alive && now - w.last_seen > timeout) {
      w.alive = false;
      book_.Release(id);
      LogWarning(absl::StrCat("worker ", id, " missed heartbeats for ",
                              absl::FormatDuration(now - w.last_seen),
                              ": marked dead, leases released"));
    }
  }
  if (int n = book_.Expire(now); n > 0) {
    LogWarning(absl::StrCat(n, " lease(s) expired and were requeued"));
  }
}

void Coordinator::FillEpochsLocked(
    paramd::v1::GetStatusResponse* status) const {
  const auto& ledger = book_.ledger();
  for (size_t e = 0; e < ledger.size(); ++e) {
    paramd::v1::EpochStatus* out = status->add_epochs_status();
    out->set_epoch(static_cast<int32_t>(e));
    out->set_shards_done(ledger[e].shards_done);
    int32_t completions = 0;
    for (int32_t c : ledger[e].completions) completions += c;
    out->set_completions(completions);
    out->set_examples(ledger[e].examples);
    out->set_train_loss(ledger[e].examples == 0
                            ? 0.0
                            : ledger[e].loss_sum / ledger[e].examples);
  }
}

paramd::v1::GetStatusResponse Coordinator::Status() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  paramd::v1::GetStatusResponse status;
  status.set_job(job_.name);
  status.set_epoch(book_.epoch());
  status.set_epochs(book_.epochs());
  status.set_num_shards(book_.num_shards());
  status.set_done(book_.done());
  status.set_uptime_s(absl::ToDoubleSeconds(now - started_));
  status.set_expired_leases(book_.expired());
  for (const std::string& s : servers_) status.add_servers(s);
  uint64_t examples = 0;
  double loss_sum = 0;
  for (const auto& [id, w] : workers_) {
    loss_sum += w.loss_sum;
    paramd::v1::WorkerStatus* out = status.add_workers();
    out->set_worker_id(id);
    out->set_host(w.host);
    out->set_role(w.role);
    out->set_alive(w.alive);
    out->set_last_seen_s(absl::ToDoubleSeconds(now - w.last_seen));
    out->set_examples(w.examples);
    examples += w.examples;
  }
  // Heartbeats lag; completed shards are exact. Report the larger.
  uint64_t completed = 0;
  for (const EpochLedger& e : book_.ledger()) completed += e.examples;
  status.set_examples(std::max(examples, completed));
  status.set_loss_sum(loss_sum);
  status.set_loss_examples(examples);
  for (const auto& [id, lease] : book_.leases()) {
    paramd::v1::LeaseStatus* out = status.add_leases();
    out->mutable_lease()->set_lease_id(id);
    out->mutable_lease()->set_shard(lease.shard);
    out->mutable_lease()->set_epoch(lease.epoch);
    out->mutable_lease()->set_path(shards_[lease.shard]);
    out->set_worker_id(lease.worker_id);
    out->set_remaining_s(absl::ToDoubleSeconds(lease.deadline - now));
  }
  FillEpochsLocked(&status);
  for (const auto& [name, value] : eval_)
    (*status.mutable_eval())[name] = value;
  status.set_eval_final(eval_final_);
  return status;
}

}  // namespace paramd
