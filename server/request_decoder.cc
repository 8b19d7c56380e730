#include "server/request_decoder.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/tensor.h"

namespace paramd {

absl::Status DecodeSlices(
    const google::protobuf::RepeatedPtrField<paramd::v1::TableSlice>& in,
    bool with_values, DecodedSlices* out) {
  // Checked before anything is sized by it.
  if (in.size() > ShardStore::kMaxSlices) {
    return absl::InvalidArgumentError(absl::StrCat("slices: ", in.size(),
                                                   " in one request; at most ",
                                                   ShardStore::kMaxSlices));
  }
  out->slices.resize(in.size());
  out->values.resize(in.size());
  for (int i = 0; i < in.size(); ++i) {
    const paramd::v1::TableSlice& proto = in[i];
    Slice& slice = out->slices[i];
    slice.table = proto.table();
    int64_t count = 0;
    PARAMD_RETURN_IF_ERROR(CountKeys(proto.keys(), "keys", &count));
    slice.keys = DecodeKeys(proto.keys());
    slice.offset = static_cast<int64_t>(proto.offset());
    slice.length = static_cast<int64_t>(proto.length());
    if (slice.offset < 0 || slice.length < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("slices[", i, "]: offset and length must fit int64"));
    }
    if (!with_values) {
      if (!proto.values().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("slices[", i, "]: a pull carries no values"));
      }
      continue;
    }
    PARAMD_RETURN_IF_ERROR(CountFloats(proto.values(), "values", &count));
    slice.values = ViewFloats(proto.values(), &out->values[i]);
  }
  return absl::OkStatus();
}

absl::Status CheckClock(int64_t clock, bool push) {
  if (clock >= kMaxClock || (push && clock < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("clock: ", clock, " is outside [", push ? 0 : -1, ", ",
                     kMaxClock, ")"));
  }
  return absl::OkStatus();
}

}  // namespace paramd
