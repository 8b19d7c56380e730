// A parameter server's Prometheus metrics (common/metrics.h):
//   paramd_ps_updates_applied_total         pushes applied
//   paramd_ps_version, paramd_ps_generation the shard's version and generation
//   paramd_ps_table_rows{table}             rows held (dense: elements)
//   paramd_ps_table_bytes{table}            bytes of values held
//   paramd_ps_refused_updates_total         elements left as they were because
//                                           their update was not finite
//   paramd_ps_checkpoint_write_seconds      checkpoint write time (histogram)
//   paramd_ps_checkpoint_bytes              size of the latest checkpoint
#ifndef PARAMD_SERVER_PS_METRICS_H_
#define PARAMD_SERVER_PS_METRICS_H_

#include "common/metrics.h"
#include "server/ps_service.h"

namespace paramd {

struct PsMetrics {
  prometheus::Counter& updates_applied;
  prometheus::Histogram& checkpoint_seconds;
  prometheus::Gauge& checkpoint_bytes;

  // The process's, registered on first use.
  static PsMetrics& Get();
};

// Adds a collector for what `service` holds (version, generation, tables),
// read on each scrape. `service` must outlive the process's metrics.
void AddPsCollector(const PsService* service);

}  // namespace paramd

#endif  // PARAMD_SERVER_PS_METRICS_H_
