// Turns the slices of a Pull or Push request into ShardStore slices. Only
// checks the wire encoding; ShardStore::Validate checks the contents.
#ifndef PARAMD_SERVER_REQUEST_DECODER_H_
#define PARAMD_SERVER_REQUEST_DECODER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/repeated_field.h"
#include "paramd/v1/ps.pb.h"
#include "server/shard_store.h"

namespace paramd {

// Slices decoded from a request. Values view the request's bytes where
// they are aligned for floats (as heap buffers are), so the request must
// outlive the slices; otherwise they are copied out into `values`.
struct DecodedSlices {
  std::vector<Slice> slices;
  std::vector<std::unique_ptr<float[]>> values;
};

// Clocks are below this, so clock + 1 never overflows.
inline constexpr int64_t kMaxClock = int64_t{1} << 62;

// Decodes `in` into `out`, with each slice's values when `with_values`
// (viewing `in`'s bytes where it can: keep `in` alive while `out` is used).
// Fails with InvalidArgument if there are more than ShardStore::kMaxSlices
// slices, keys or values are not a whole number of uint64s or floats,
// offset or length do not fit int64, or a pull (!with_values) carries
// values.
absl::Status DecodeSlices(
    const google::protobuf::RepeatedPtrField<paramd::v1::TableSlice>& in,
    bool with_values, DecodedSlices* out);

// OK if `clock` may be sent: [0, kMaxClock) for a push, and below
// kMaxClock for a pull (negative: a read that joins nothing). Fails with
// InvalidArgument naming the field otherwise.
absl::Status CheckClock(int64_t clock, bool push);

}  // namespace paramd

#endif  // PARAMD_SERVER_REQUEST_DECODER_H_
