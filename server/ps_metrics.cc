#include "server/ps_metrics.h"

#include <vector>

namespace paramd {

PsMetrics& PsMetrics::Get() {
  static auto* metrics = new PsMetrics{
      prometheus::BuildCounter()
          .Name("paramd_ps_updates_applied_total")
          .Help("Pushes this parameter server applied.")
          .Register(MetricsRegistry())
          .Add({}),
      prometheus::BuildHistogram()
          .Name("paramd_ps_checkpoint_write_seconds")
          .Help("Time to serialize and write a checkpoint of the shard.")
          .Register(MetricsRegistry())
          .Add({}, SecondsBuckets()),
      prometheus::BuildGauge()
          .Name("paramd_ps_checkpoint_bytes")
          .Help("Size of the latest checkpoint file written.")
          .Register(MetricsRegistry())
          .Add({}),
  };
  return *metrics;
}

void AddPsCollector(const PsService* service) {
  PsMetrics::Get();  // registered before the first scrape
  AddMetricsCollector([service] {
    using prometheus::MetricType;
    const ShardStore* store = service->store();
    const UpdateGate* gate = service->gate();
    if (store == nullptr || gate == nullptr) {
      return std::vector<prometheus::MetricFamily>{};
    }
    std::vector<MetricSample> rows, bytes;
    for (const auto& [table, size] : store->Sizes()) {
      rows.push_back({{{"table", table}}, static_cast<double>(size)});
    }
    for (const auto& [table, size] : store->Bytes()) {
      bytes.push_back({{{"table", table}}, static_cast<double>(size)});
    }
    return std::vector<prometheus::MetricFamily>{
        MakeFamily("paramd_ps_version", "The shard's version.",
                   MetricType::Gauge,
                   {{{}, static_cast<double>(gate->version())}}),
        MakeFamily("paramd_ps_generation",
                   "The shard's generation (rises with each rollback).",
                   MetricType::Gauge,
                   {{{}, static_cast<double>(gate->generation())}}),
        MakeFamily("paramd_ps_table_rows",
                   "Rows held per table (dense tables: elements).",
                   MetricType::Gauge, rows),
        MakeFamily("paramd_ps_table_bytes",
                   "Bytes of values held per table (optimizer state not "
                   "counted).",
                   MetricType::Gauge, bytes),
        MakeFamily("paramd_ps_refused_updates_total",
                   "Elements left unchanged because their update was not "
                   "finite.",
                   MetricType::Counter,
                   {{{}, static_cast<double>(store->Refused())}}),
    };
  });
}

}  // namespace paramd
