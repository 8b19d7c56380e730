#include "server/coordinator_metrics.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace paramd {
namespace {

prometheus::Counter& LeasesGranted() {
  static prometheus::Counter* counter =
      &prometheus::BuildCounter()
           .Name("paramd_coordinator_leases_granted_total")
           .Help("Shard leases granted to trainers.")
           .Register(MetricsRegistry())
           .Add({});
  return *counter;
}

}  // namespace

void CountLeaseGranted() { LeasesGranted().Increment(); }

void AddCoordinatorCollector(Coordinator* coordinator) {
  LeasesGranted();  // registered before the first scrape
  AddMetricsCollector([coordinator] {
    using prometheus::MetricType;
    const paramd::v1::GetStatusResponse status = coordinator->Status();
    std::map<std::string, int> live = {{"trainer", 0}, {"evaluator", 0}};
    for (const auto& worker : status.workers()) {
      if (worker.alive()) ++live[worker.role()];
    }
    std::vector<MetricSample> workers, shards;
    for (const auto& [role, count] : live) {
      workers.push_back({{{"role", role}}, static_cast<double>(count)});
    }
    for (const auto& epoch : status.epochs_status()) {
      shards.push_back({{{"epoch", absl::StrCat(epoch.epoch())}},
                        static_cast<double>(epoch.shards_done())});
    }
    uint64_t latest = 0;
    for (const auto& checkpoint : status.checkpoints()) {
      latest = std::max<uint64_t>(latest, checkpoint.id());
    }
    auto one = [](double value) {
      return std::vector<MetricSample>{{{}, value}};
    };
    return std::vector<prometheus::MetricFamily>{
        MakeFamily("paramd_coordinator_live_workers", "Workers alive, by role.",
                   MetricType::Gauge, workers),
        MakeFamily("paramd_coordinator_leases_expired_total",
                   "Shard leases that lapsed (their worker died or hung).",
                   MetricType::Counter, one(status.expired_leases())),
        MakeFamily("paramd_coordinator_leases_held", "Shard leases held now.",
                   MetricType::Gauge, one(status.leases_size())),
        MakeFamily("paramd_coordinator_epoch", "Current epoch (0-based).",
                   MetricType::Gauge, one(status.epoch())),
        MakeFamily("paramd_coordinator_shards_done",
                   "Shards completed, by epoch.", MetricType::Gauge, shards),
        // Gauges: a rollback takes completions back.
        MakeFamily("paramd_coordinator_failed_shards",
                   "Shards that could not be read, over all epochs.",
                   MetricType::Gauge, one(status.failed_shards_size())),
        MakeFamily("paramd_coordinator_examples",
                   "Training examples the job has trained (as status "
                   "reports them).",
                   MetricType::Gauge,
                   one(static_cast<double>(status.examples()))),
        MakeFamily("paramd_coordinator_rollbacks_total",
                   "Rollbacks of the cluster to a checkpoint.",
                   MetricType::Counter, one(status.rollbacks_size())),
        MakeFamily("paramd_coordinator_latest_checkpoint",
                   "Id of the newest consistent checkpoint (0: none).",
                   MetricType::Gauge, one(static_cast<double>(latest))),
        MakeFamily("paramd_coordinator_job_done",
                   "1 once every epoch is done, else 0.", MetricType::Gauge,
                   one(status.done() ? 1 : 0)),
    };
  });
}

}  // namespace paramd
