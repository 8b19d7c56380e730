// A message as JSON the way paramd writes it everywhere (status, summaries,
// manifests): protobuf's mapping, proto field names, every field present.
#ifndef PARAMD_COMMON_PROTO_JSON_H_
#define PARAMD_COMMON_PROTO_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace paramd {

// `message` as JSON, on one line unless `indent`. Fails with Internal if
// protobuf cannot encode it.
absl::StatusOr<std::string> ProtoJson(const google::protobuf::Message& message,
                                      bool indent = false);

}  // namespace paramd

#endif  // PARAMD_COMMON_PROTO_JSON_H_
