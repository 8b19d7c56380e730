// Fuzzes the logreg data reader (LIBSVM text, hashed feature indices) with
// arbitrary bytes in a shard file, then trains on whatever it accepts.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "tests/fuzz/fuzz_util.h"
#include "worker/models/model.h"

namespace {

constexpr char kJob[] = R"(job: {name: logreg-fuzz}
data: {train: "*.svm"}
model: {type: logreg}
tables:
  - {name: w, type: sparse, width: 1}
  - {name: bias, type: dense, shape: [1]}
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const paramd::JobConfig job = paramd::testing::MustParseJob(kJob);
  static const std::unique_ptr<paramd::Model> model =
      paramd::CreateModel(job).value();
  static paramd::testing::FuzzFile file("logreg");
  file.Write(paramd::testing::AsText(data, size));
  absl::StatusOr<std::unique_ptr<paramd::Dataset>> dataset =
      model->ReadData(file.path());
  if (!dataset.ok()) return 0;
  paramd::testing::TrainOnData(job, *model, **dataset, /*seed=*/size,
                               /*batch_size=*/4, /*max_batches=*/32);
  return 0;
}
