#include "common/metrics.h"

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics_endpoint.h"
#include "common/rpc_util.h"
#include "common/status_macros.h"
#include "prometheus/collectable.h"
#include "prometheus/text_serializer.h"

ABSL_FLAG(int, metrics_port, -1,
          "Serve Prometheus metrics at /metrics on this port (0: the OS "
          "picks; -1: none).");
ABSL_FLAG(std::string, metrics_host, "127.0.0.1",
          "Address the metrics endpoint listens on.");
ABSL_FLAG(std::string, metrics_port_file, "",
          "If set, write the metrics port to this file once listening.");

namespace paramd {
namespace {

// The collectors' families, computed on each scrape.
class Collectors : public prometheus::Collectable {
 public:
  void Add(MetricsCollector collect) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    collectors_.push_back(std::move(collect));
  }
  void Clear() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    collectors_.clear();
  }
  std::vector<prometheus::MetricFamily> Collect() const override
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    std::vector<prometheus::MetricFamily> families;
    for (const MetricsCollector& collect : collectors_) {
      for (prometheus::MetricFamily& family : collect()) {
        families.push_back(std::move(family));
      }
    }
    return families;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<MetricsCollector> collectors_ ABSL_GUARDED_BY(mu_);
};

std::shared_ptr<prometheus::Registry>& Registry() {
  static auto* registry =
      new std::shared_ptr<prometheus::Registry>(new prometheus::Registry);
  return *registry;
}

std::shared_ptr<Collectors>& AllCollectors() {
  static auto* collectors = new std::shared_ptr<Collectors>(new Collectors);
  return *collectors;
}

}  // namespace

prometheus::Registry& MetricsRegistry() { return *Registry(); }

void AddMetricsCollector(MetricsCollector collect) {
  AllCollectors()->Add(std::move(collect));
}

void RemoveMetricsCollectors() { AllCollectors()->Clear(); }

prometheus::MetricFamily MakeFamily(const std::string& name,
                                    const std::string& help,
                                    prometheus::MetricType type,
                                    const std::vector<MetricSample>& samples) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  for (const MetricSample& sample : samples) {
    prometheus::ClientMetric metric;
    for (const auto& [label, value] : sample.labels) {
      metric.label.push_back({label, value});
    }
    if (type == prometheus::MetricType::Counter) {
      metric.counter.value = sample.value;
    } else {
      metric.gauge.value = sample.value;
    }
    family.metric.push_back(std::move(metric));
  }
  return family;
}

prometheus::Histogram::BucketBoundaries SecondsBuckets() {
  prometheus::Histogram::BucketBoundaries buckets;
  for (double bound = 0.0005; bound < 100; bound *= 2.5) {
    buckets.push_back(bound);
  }
  return buckets;
}

absl::StatusOr<int> ServeMetrics(const std::string& host, int port) {
  return ServeMetricsEndpoint(host, port, [] {
    std::vector<prometheus::MetricFamily> families = Registry()->Collect();
    for (prometheus::MetricFamily& family : AllCollectors()->Collect()) {
      families.push_back(std::move(family));
    }
    return prometheus::TextSerializer().Serialize(families);
  });
}

absl::Status ServeMetricsFromFlags() {
  const int port = absl::GetFlag(FLAGS_metrics_port);
  if (port < 0) return absl::OkStatus();
  PARAMD_ASSIGN_OR_RETURN(
      const int bound, ServeMetrics(absl::GetFlag(FLAGS_metrics_host), port));
  const std::string port_file = absl::GetFlag(FLAGS_metrics_port_file);
  if (!port_file.empty())
    PARAMD_RETURN_IF_ERROR(WritePortFile(port_file, bound));
  return absl::OkStatus();
}

}  // namespace paramd
