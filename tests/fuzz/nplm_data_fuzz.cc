// Fuzzes the nplm data reader (whitespace-separated token ids) with
// arbitrary bytes in a shard file, then trains on whatever it accepts.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_util.h"

namespace {

// A tiny direct nplm over a vocabulary of 40 ids, padding with id 3.
constexpr char kJob[] = R"(job: {name: nplm-fuzz}
data: {train: "*.ids"}
model: {type: nplm, order: 3, embedding_dim: 4, hidden: 5, vocab_size: 40,
        direct: 1, pad_id: 3}
tables:
  - {name: C, type: sparse, width: 4}
  - {name: H, type: dense, shape: [5, 8]}
  - {name: d, type: dense, shape: [5]}
  - {name: U, type: dense, shape: [40, 5]}
  - {name: b, type: dense, shape: [40]}
  - {name: W, type: dense, shape: [40, 8]}
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static paramd::testing::DataReaderFuzzer fuzzer(kJob, "nplm",
                                                  /*batch_size=*/8,
                                                  /*max_batches=*/16);
  fuzzer.Run(data, size);
  return 0;
}
