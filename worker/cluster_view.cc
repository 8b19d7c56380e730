#include "worker/cluster_view.h"

namespace paramd {

ClusterView::ClusterView(uint64_t worker_id, std::vector<std::string> servers)
    : worker_id_(worker_id), servers_(std::move(servers)) {}

void ClusterView::Update(absl::Time sent,
                         const paramd::v1::HeartbeatResponse& response) {
  absl::MutexLock lock(&mu_);
  generation_ = std::max(generation_, response.generation());
  if (response.servers_size() > 0) {
    servers_.assign(response.servers().begin(), response.servers().end());
  }
  leases_ = {response.leases().begin(), response.leases().end()};
  heard_ = std::max(heard_, sent);
}

bool ClusterView::Revoked(const paramd::v1::Lease& lease,
                          absl::Time granted) const {
  absl::MutexLock lock(&mu_);
  if (generation_ > lease.generation()) return true;
  return heard_ > granted && leases_.count(lease.lease_id()) == 0;
}

std::vector<std::string> ClusterView::servers() const {
  absl::MutexLock lock(&mu_);
  return servers_;
}

void ClusterView::set_held(std::optional<paramd::v1::Lease> lease) {
  absl::MutexLock lock(&mu_);
  held_ = std::move(lease);
}

std::optional<paramd::v1::Lease> ClusterView::held() const {
  absl::MutexLock lock(&mu_);
  return held_;
}

}  // namespace paramd
