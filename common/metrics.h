// Prometheus metrics (prometheus-cpp): one registry per process, served at
// http://<metrics_host>:<metrics_port>/metrics when a daemon is given
// --metrics_port. Names follow Prometheus conventions: a paramd_ prefix,
// base units (seconds, bytes), _total on counters.
#ifndef PARAMD_COMMON_METRICS_H_
#define PARAMD_COMMON_METRICS_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/labels.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace paramd {

// The process's registry: families registered here are served.
prometheus::Registry& MetricsRegistry();

// Metrics read from state that exists anyway (versions, the job's ledger)
// are computed on each scrape by `collect`.
using MetricsCollector = std::function<std::vector<prometheus::MetricFamily>()>;
void AddMetricsCollector(MetricsCollector collect);

// Removes every collector, waiting for a scrape in progress: call before
// what the collectors read is destroyed.
void RemoveMetricsCollectors();

// One value of a family a collector returns.
struct MetricSample {
  prometheus::Labels labels;
  double value = 0;
};
prometheus::MetricFamily MakeFamily(const std::string& name,
                                    const std::string& help,
                                    prometheus::MetricType type,
                                    const std::vector<MetricSample>& samples);

// Buckets for durations from 0.5 ms to about 1 min.
prometheus::Histogram::BucketBoundaries SecondsBuckets();

// Serves the registry and collectors at http://host:port/metrics (port 0:
// the OS picks; see metrics_endpoint.h) until the process exits; returns
// the port bound. Call once.
absl::StatusOr<int> ServeMetrics(const std::string& host, int port);

// Per the flags --metrics_port (-1, the default: no endpoint; 0: the OS
// picks), --metrics_host and --metrics_port_file (the port bound is written
// there).
absl::Status ServeMetricsFromFlags();

}  // namespace paramd

#endif  // PARAMD_COMMON_METRICS_H_
