#include "common/initializer.h"

#include <cmath>

#include "common/shard_map.h"

namespace paramd {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The basis the seeds of every trained model so far were mixed with (FNV's
// with a digit short); kept, so the same seed gives the same weights.
constexpr uint64_t kTableHashBasis = 1469598103934665603ULL;

// Uniform in (0, 1) from a 64-bit hash.
double Unit(uint64_t bits) {
  return (static_cast<double>(bits >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

// Value of element `index` of the stream named by `stream`.
float Draw(const InitializerConfig& init, uint64_t stream, uint64_t index) {
  const uint64_t h = SplitMix64(stream ^ SplitMix64(index));
  switch (init.kind[0]) {
    case 'c':  // constant
      return static_cast<float>(init.value);
    case 'u':  // uniform
      return static_cast<float>(init.scale * (2.0 * Unit(h) - 1.0));
    case 'n': {  // normal, Box-Muller
      const double u1 = Unit(h);
      const double u2 = Unit(SplitMix64(h));
      return static_cast<float>(init.scale * std::sqrt(-2.0 * std::log(u1)) *
                                std::cos(6.283185307179586 * u2));
    }
    default:  // zeros
      return 0.0f;
  }
}

uint64_t Stream(const InitializerConfig& init, const std::string& table) {
  return SplitMix64(init.seed) ^ Fnv1a64(table, kTableHashBasis);
}

}  // namespace

void InitSparseRow(const InitializerConfig& init, const std::string& table,
                   uint64_t key, absl::Span<float> row) {
  const uint64_t stream = SplitMix64(Stream(init, table) ^ SplitMix64(~key));
  for (size_t i = 0; i < row.size(); ++i) row[i] = Draw(init, stream, i);
}

void InitDenseRange(const InitializerConfig& init, const std::string& table,
                    int64_t begin, absl::Span<float> out) {
  const uint64_t stream = Stream(init, table);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = Draw(init, stream, static_cast<uint64_t>(begin) + i);
  }
}

}  // namespace paramd
