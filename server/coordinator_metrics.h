// The coordinator's Prometheus metrics (common/metrics.h), read from the
// job's status on each scrape, plus the leases it granted:
//   paramd_coordinator_live_workers{role}          workers alive
//   paramd_coordinator_leases_granted_total        shard leases granted
//   paramd_coordinator_leases_expired_total        leases that lapsed
//   paramd_coordinator_leases_held                 leases held now
//   paramd_coordinator_epoch                       current epoch (0-based)
//   paramd_coordinator_shards_done{epoch}          shards done per epoch
//   paramd_coordinator_failed_shards_total         shards that could not be
//   read paramd_coordinator_examples_total              examples trained
//   paramd_coordinator_rollbacks_total             rollbacks to a checkpoint
//   paramd_coordinator_latest_checkpoint           id of the newest checkpoint
//   paramd_coordinator_job_done                    1 once every epoch is done
#ifndef PARAMD_SERVER_COORDINATOR_METRICS_H_
#define PARAMD_SERVER_COORDINATOR_METRICS_H_

#include "common/metrics.h"
#include "server/coordinator.h"

namespace paramd {

// Counts a lease granted.
void CountLeaseGranted();

// Adds a collector reading `coordinator`'s status on each scrape.
// `coordinator` must outlive the process's metrics.
void AddCoordinatorCollector(Coordinator* coordinator);

}  // namespace paramd

#endif  // PARAMD_SERVER_COORDINATOR_METRICS_H_
