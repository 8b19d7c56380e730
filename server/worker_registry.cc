#include "server/worker_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace paramd {

std::optional<uint64_t> WorkerRegistry::FindRegistration(
    uint64_t request_id) const {
  if (request_id == 0) return std::nullopt;
  for (const auto& [id, w] : workers_) {
    if (w.register_request == request_id) return id;
  }
  return std::nullopt;
}

absl::Status WorkerRegistry::CheckRegistration(const std::string& role,
                                               uint64_t old_id) {
  if (role != "trainer" && role != "evaluator") {
    return absl::InvalidArgumentError(
        absl::StrCat("role must be trainer or evaluator, got '", role, "'"));
  }
  if (old_id >= kMaxWorkerId) {
    return absl::InvalidArgumentError(absl::StrCat(
        "worker_id: ", old_id, " is not an id this coordinator issues (below ",
        kMaxWorkerId, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> WorkerRegistry::Add(const std::string& host,
                                             const std::string& role,
                                             uint64_t old_id,
                                             uint64_t request_id,
                                             absl::Time now) {
  if (absl::Status s = CheckRegistration(role, old_id); !s.ok()) return s;
  if (old_id != 0 && workers_.count(old_id) > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker id ", old_id, " is already registered"));
  }
  const uint64_t id = old_id != 0 ? old_id : next_id_;
  if (id >= kMaxWorkerId) {
    return absl::ResourceExhaustedError("worker ids are used up");
  }
  next_id_ = std::max(next_id_, id + 1);
  WorkerEntry& entry = workers_[id];
  entry.host = host;
  entry.role = role;
  entry.last_seen = now;
  entry.register_request = request_id;
  return id;
}

absl::StatusOr<WorkerEntry*> WorkerRegistry::Find(uint64_t id) {
  auto it = workers_.find(id);
  if (it == workers_.end()) {
    return absl::NotFoundError(
        absl::StrCat("worker ", id, " is not registered (register again)"));
  }
  return &it->second;
}

void WorkerRegistry::Postpone(absl::Duration by) {
  for (auto& [id, w] : workers_) w.last_seen += by;
}

std::vector<std::pair<uint64_t, absl::Duration>> WorkerRegistry::MarkSilentDead(
    absl::Time now, absl::Duration timeout) {
  std::vector<std::pair<uint64_t, absl::Duration>> dead;
  for (auto& [id, w] : workers_) {
    if (w.alive && now - w.last_seen > timeout) {
      w.alive = false;
      dead.emplace_back(id, now - w.last_seen);
    }
  }
  return dead;
}

std::vector<uint64_t> WorkerRegistry::LiveTrainers() const {
  std::vector<uint64_t> live;
  for (const auto& [id, w] : workers_) {
    if (w.alive && w.role == "trainer") live.push_back(id);
  }
  return live;
}

std::pair<uint64_t, double> WorkerRegistry::FillStatus(
    absl::Time now, paramd::v1::GetStatusResponse* status) const {
  uint64_t examples = 0;
  double loss_sum = 0;
  for (const auto& [id, w] : workers_) {
    paramd::v1::WorkerStatus* out = status->add_workers();
    out->set_worker_id(id);
    out->set_host(w.host);
    out->set_role(w.role);
    out->set_alive(w.alive);
    out->set_last_seen_s(absl::ToDoubleSeconds(now - w.last_seen));
    out->set_examples(w.examples);
    examples += w.examples;
    loss_sum += w.loss_sum;
  }
  return {examples, loss_sum};
}

void WorkerRegistry::Resume(uint64_t next_id) {
  next_id_ = std::clamp<uint64_t>(next_id, 1, kMaxWorkerId);
}

}  // namespace paramd
