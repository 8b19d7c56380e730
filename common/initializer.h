// Deterministic initial values: element i of table t under seed s always gets
// the same value, whichever shard creates it and whenever.
#ifndef PARAMD_COMMON_INITIALIZER_H_
#define PARAMD_COMMON_INITIALIZER_H_

#include <cstdint>
#include <string>

#include "absl/types/span.h"
#include "common/config.h"

namespace paramd {

// Fills `row` with the initial values of sparse row `key` of `table`.
void InitSparseRow(const InitializerConfig& init, const std::string& table,
                   uint64_t key, absl::Span<float> row);

// Fills `out` with elements [begin, begin + out.size()) of dense `table`.
void InitDenseRange(const InitializerConfig& init, const std::string& table,
                    int64_t begin, absl::Span<float> out);

}  // namespace paramd

#endif  // PARAMD_COMMON_INITIALIZER_H_
