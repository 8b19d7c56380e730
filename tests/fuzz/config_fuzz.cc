// Fuzzes ParseJobConfig with arbitrary text: it must return a status, never
// crash or throw, and a config it accepts must be usable as is.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/statusor.h"
#include "common/config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(paramd::testing::AsText(data, size));
  absl::StatusOr<paramd::JobConfig> job =
      paramd::ParseJobConfig(yaml, "fuzz.yaml", "/fuzz");
  if (!job.ok()) return 0;
  ABSL_RAW_CHECK(!job->tables.empty(), "accepted a job without tables");
  ABSL_RAW_CHECK(job->num_servers > 0, "accepted num_servers <= 0");
  for (const paramd::TableConfig& table : job->tables) {
    ABSL_RAW_CHECK(job->FindTable(table.name) == &table,
                   "accepted a duplicate table name");
    if (table.sparse) {
      ABSL_RAW_CHECK(table.width > 0, "accepted a sparse width <= 0");
    } else {
      // Every consumer sizes a dense table by its element count.
      ABSL_RAW_CHECK(table.size() > 0, "accepted a dense table of size <= 0");
    }
  }
  return 0;
}
