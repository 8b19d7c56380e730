// Fuzzes the logreg data reader (LIBSVM text, hashed feature indices) with
// arbitrary bytes in a shard file, then trains on whatever it accepts.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_util.h"

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
  static paramd::testing::DataReaderFuzzer fuzzer(kJob, "logreg",
                                                  /*batch_size=*/4,
                                                  /*max_batches=*/32);
  fuzzer.Run(data, size);
  return 0;
}
