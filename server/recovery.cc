#include "server/recovery.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"

namespace paramd {
namespace {

// An order not done by then is dropped (training may have stopped short of
// its version).
constexpr absl::Duration kOrderGiveUp = absl::Seconds(120);
// Most rounds ahead a bsp order is placed (doubling on each miss).
constexpr int64_t kMaxMargin = int64_t{1} << 20;
// Records kept, beyond what the servers keep on disk.
constexpr size_t kRecordsKept = 16;
// After an order a server could not write, the next comes this soon,
// doubling with each failure in a row up to kMaxRetryDelay.
constexpr absl::Duration kRetryDelay = absl::Seconds(1);
constexpr absl::Duration kMaxRetryDelay = absl::Seconds(10);

}  // namespace

std::set<int64_t> Recovery::Server::Usable() const {
  std::set<int64_t> usable;
  std::set_difference(checkpoints.begin(), checkpoints.end(), bad.begin(),
                      bad.end(), std::inserter(usable, usable.begin()));
  return usable;
}

bool Rollback::Keeps(const paramd::v1::Completion& done, size_t index) const {
  if (log_size.has_value()) return index < *log_size;
  return done.clock() <= versions[0];
}

Recovery::Recovery(const JobConfig& job, int32_t num_shards)
    : job_(job), servers_(num_shards), restore_versions_(num_shards, 0) {}

void Recovery::ServerStarted(int32_t shard, bool progress) {
  Server& server = servers_[shard];
  server = Server();
  // A restarted coordinator hears the other servers' versions only from
  // their next heartbeats; a checkpoint past version 0 says they moved too.
  bool others_moved = max_version() > 0;
  for (const paramd::v1::CheckpointRecord& record : records_) {
    for (int64_t v : record.versions()) others_moved = others_moved || v > 0;
  }
  if (progress || others_moved || generation_ > 0) {
    rollback_due_ = true;
    LogWarning(absl::StrCat("server of shard ", shard,
                            " restarted: the cluster will roll back to the "
                            "newest checkpoint every shard holds"));
  }
}

void Recovery::Report(const paramd::v1::ServerHeartbeatRequest& report,
                      absl::Time now) {
  Server& server = servers_[report.shard()];
  server.reported = true;
  server.generation = report.generation();
  server.version = report.version();
  server.checkpoints = {report.checkpoints().begin(),
                        report.checkpoints().end()};
  server.checkpoint_id = report.checkpoint_id();
  server.checkpoint_version = report.checkpoint_version();
  server.checkpoint_missed = report.checkpoint_missed();
  server.checkpoint_error = report.checkpoint_error();
  // A server ahead of us means our own record of the generation was lost.
  generation_ = std::max(generation_, report.generation());
  if (!report.restore_error().empty() && report.generation() < generation_ &&
      server.failed_generation != generation_) {
    server.bad.insert(restore_versions_[report.shard()]);
    server.failed_generation = generation_;
    LogWarning(absl::StrCat("shard ", report.shard(), " could not restore v",
                            restore_versions_[report.shard()], ": ",
                            report.restore_error(),
                            "; rolling back to an older checkpoint"));
    rollback_due_ = true;
  }
  // The versions' growth rate, over windows of a second or more.
  const int64_t top = max_version();
  if (rate_time_ == absl::InfinitePast()) {
    rate_time_ = now;
    rate_version_ = top;
  } else if (now - rate_time_ >= absl::Seconds(1)) {
    versions_per_s_ = std::max<double>(0, top - rate_version_) /
                      absl::ToDoubleSeconds(now - rate_time_);
    rate_time_ = now;
    rate_version_ = top;
  }
}

void Recovery::FillResponse(
    int32_t shard, paramd::v1::ServerHeartbeatResponse* response) const {
  response->set_hold(rollback_due_);
  if (rollback_due_) return;
  response->set_generation(generation_);
  response->set_restore_version(restore_versions_[shard]);
  if (order_.has_value()) *response->mutable_checkpoint() = *order_;
}

Rollback Recovery::PlanBspRollback() {
  Rollback rollback;
  rollback.versions.assign(servers_.size(), 0);
  std::set<int64_t> common = servers_[0].Usable();
  for (const Server& server : servers_) {
    const std::set<int64_t> usable = server.Usable();
    std::set<int64_t> both;
    std::set_intersection(common.begin(), common.end(), usable.begin(),
                          usable.end(), std::inserter(both, both.begin()));
    common = std::move(both);
  }
  if (!common.empty()) {
    rollback.versions.assign(servers_.size(), *common.rbegin());
  }
  // Records of the abandoned history are no longer checkpoints of it.
  records_.erase(std::remove_if(records_.begin(), records_.end(),
                                [&](const paramd::v1::CheckpointRecord& r) {
                                  return r.versions(0) > rollback.versions[0];
                                }),
                 records_.end());
  return rollback;
}

Rollback Recovery::PlanRecordedRollback() {
  Rollback rollback;
  rollback.versions.assign(servers_.size(), 0);
  rollback.log_size = 0;
  size_t kept = 0;
  for (size_t i = records_.size(); i-- > 0;) {
    bool held = true;
    for (size_t s = 0; s < servers_.size(); ++s) {
      held = held && servers_[s].Usable().count(records_[i].versions(s)) > 0;
    }
    if (held) {
      rollback.versions.assign(records_[i].versions().begin(),
                               records_[i].versions().end());
      rollback.log_size = records_[i].log_size();
      kept = i + 1;
      break;
    }
  }
  records_.resize(kept);
  return rollback;
}

std::optional<Rollback> Recovery::MaybeRollBack() {
  if (!rollback_due_) return std::nullopt;
  for (const Server& server : servers_) {
    if (!server.reported) return std::nullopt;
  }
  Rollback rollback = job_.consistency == Consistency::kBsp
                          ? PlanBspRollback()
                          : PlanRecordedRollback();
  rollback.generation = ++generation_;
  restore_versions_ = rollback.versions;
  rollback_due_ = false;
  rollbacks_.push_back(rollback.versions[0]);
  order_.reset();
  LogWarning(absl::StrCat("rolling back to version(s) ",
                          absl::StrJoin(rollback.versions, ","),
                          " as generation ", generation_));
  return rollback;
}

bool Recovery::Settling() const {
  if (rollback_due_) return true;
  for (const Server& server : servers_) {
    if (server.generation != generation_) return true;
  }
  return false;
}

int64_t Recovery::max_version() const {
  int64_t top = 0;
  for (const Server& server : servers_) top = std::max(top, server.version);
  return top;
}

std::vector<int64_t> Recovery::versions() const {
  std::vector<int64_t> out;
  for (const Server& server : servers_) out.push_back(server.version);
  return out;
}

absl::StatusOr<paramd::v1::CheckpointOrder> Recovery::Order(absl::Time now,
                                                            uint64_t log_size) {
  if (job_.checkpoint.dir.empty()) {
    return absl::FailedPreconditionError(
        "no checkpoint.dir in the job's YAML: checkpoints are off");
  }
  if (Settling()) {
    return absl::UnavailableError("the cluster is rolling back; try again");
  }
  for (const Server& server : servers_) {
    if (!server.reported) {
      return absl::UnavailableError("not every parameter server has reported");
    }
  }
  paramd::v1::CheckpointOrder order;
  order.set_id(next_id_++);
  order.set_version(-1);
  if (job_.consistency == Consistency::kBsp) {
    // Far enough ahead that every server hears of it first (a heartbeat is
    // half the interval, and the reply may be a beat late).
    const double ahead = std::min<double>(
        versions_per_s_ * 2 * job_.heartbeat_interval_s, kMaxMargin);
    const int64_t margin =
        versions_per_s_ > 0
            ? std::max<int64_t>(margin_, static_cast<int64_t>(std::ceil(ahead)))
            : 0;
    order.set_version(max_version() + margin);
  }
  order_ = order;
  order_log_size_ = log_size;
  order_time_ = now;
  last_order_time_ = now;
  last_order_version_ = max_version();
  LogInfo(absl::StrCat("checkpoint ", order.id(), " ordered",
                       order.version() >= 0
                           ? absl::StrCat(" at version ", order.version())
                           : std::string()));
  return order;
}

bool Recovery::MaybeOrder(absl::Time now, uint64_t log_size) {
  const CheckpointConfig& config = job_.checkpoint;
  if (config.dir.empty() || order_.has_value() || Settling()) return false;
  if (failure_.failures_in_a_row() > 0) {
    return now >= retry_at_ && Order(now, log_size).ok();
  }
  if (last_order_time_ == absl::InfinitePast()) last_order_time_ = now;
  const bool by_time = config.every_s > 0 &&
                       now - last_order_time_ >= absl::Seconds(config.every_s);
  const bool by_steps =
      config.every_steps > 0 &&
      max_version() >= last_order_version_ + config.every_steps;
  return (by_time || by_steps) && Order(now, log_size).ok();
}

void Recovery::OrderFailed(absl::Time now, int32_t shard) {
  const int32_t in_a_row = failure_.failures_in_a_row() + 1;
  if (in_a_row == 1) failing_since_ = now;
  failure_.set_id(order_->id());
  failure_.set_shard(shard);
  failure_.set_error(servers_[shard].checkpoint_error);
  failure_.set_failures_in_a_row(in_a_row);
  const absl::Duration delay = std::min(
      kRetryDelay * (int64_t{1} << std::min(in_a_row - 1, 10)), kMaxRetryDelay);
  retry_at_ = now + delay;
  LogWarning(absl::StrCat("checkpoint ", order_->id(), " failed on shard ",
                          shard, ": ", failure_.error(),
                          "; ordering another in ", absl::FormatDuration(delay),
                          " (", in_a_row, " failed in a row)"));
  order_.reset();
}

paramd::v1::CheckpointFailure Recovery::checkpoint_failure(
    absl::Time now) const {
  paramd::v1::CheckpointFailure failure = failure_;
  if (failure.id() > 0) {
    failure.set_since_s(absl::ToDoubleSeconds(now - failing_since_));
  }
  return failure;
}

std::optional<paramd::v1::CheckpointRecord> Recovery::MaybeFinish(
    absl::Time now) {
  if (!order_.has_value()) return std::nullopt;
  const uint64_t id = order_->id();
  paramd::v1::CheckpointRecord record;
  record.set_id(id);
  record.set_log_size(order_log_size_);
  bool done = true;
  bool missed = false;
  int32_t failed_shard = -1;
  for (size_t s = 0; s < servers_.size(); ++s) {
    const Server& server = servers_[s];
    const bool acted = server.checkpoint_id >= id;
    missed = missed || (acted && server.checkpoint_missed);
    if (acted && !server.checkpoint_error.empty() && failed_shard < 0) {
      failed_shard = static_cast<int32_t>(s);
    }
    // asp and ssp: each server says which version it wrote.
    const int64_t version =
        order_->version() >= 0 ? order_->version() : server.checkpoint_version;
    done = done && acted && !server.checkpoint_missed &&
           server.checkpoints.count(version) > 0;
    record.add_versions(version);
  }
  if (failed_shard >= 0) {
    OrderFailed(now, failed_shard);
    return std::nullopt;
  }
  if (missed) {
    LogWarning(absl::StrCat("checkpoint ", id, " at version ",
                            order_->version(),
                            " was missed by a server already past it; "
                            "ordering it further ahead"));
    margin_ = std::min(margin_ * 2, kMaxMargin);
    order_.reset();
    (void)Order(now, order_log_size_);
    return std::nullopt;
  }
  if (!done) {
    if (now - order_time_ > kOrderGiveUp) {
      LogWarning(absl::StrCat("checkpoint ", id, " not done in ",
                              absl::FormatDuration(kOrderGiveUp), "; dropped"));
      order_.reset();
    }
    return std::nullopt;
  }
  order_.reset();
  margin_ = std::max<int64_t>(1, margin_ / 2);
  records_.push_back(record);
  if (records_.size() > kRecordsKept) records_.erase(records_.begin());
  LogInfo(absl::StrCat("checkpoint ", id, " complete at version(s) ",
                       absl::StrJoin(record.versions(), ",")));
  if (failure_.failures_in_a_row() > 0) {
    LogInfo(
        absl::StrCat("checkpointing recovered: ", failure_.failures_in_a_row(),
                     " order(s) failed in a row over ",
                     absl::FormatDuration(now - failing_since_),
                     ", the last with: ", failure_.error()));
    failure_.set_failures_in_a_row(0);
    failing_since_ = now;
  }
  return record;
}

void Recovery::Save(paramd::v1::CoordinatorState* state) const {
  state->set_generation(generation_);
  state->set_next_checkpoint_id(next_id_);
  for (const auto& record : records_) *state->add_checkpoints() = record;
  for (int64_t v : restore_versions_) state->add_restore_versions(v);
  for (int64_t v : rollbacks_) state->add_rollbacks(v);
  state->set_rollback_due(rollback_due_);
}

void Recovery::Restore(const paramd::v1::CoordinatorState& state) {
  generation_ = state.generation();
  next_id_ = std::max<uint64_t>(1, state.next_checkpoint_id());
  records_.assign(state.checkpoints().begin(), state.checkpoints().end());
  if (state.restore_versions_size() == static_cast<int>(servers_.size())) {
    restore_versions_.assign(state.restore_versions().begin(),
                             state.restore_versions().end());
  }
  rollbacks_.assign(state.rollbacks().begin(), state.rollbacks().end());
  rollback_due_ = state.rollback_due();
}

}  // namespace paramd
