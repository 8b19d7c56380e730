#include "common/proto_json.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace paramd {

absl::StatusOr<std::string> ProtoJson(const google::protobuf::Message& message,
                                      bool indent) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = indent;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options)
           .ok()) {
    return absl::InternalError(
        absl::StrCat("cannot encode a ", message.GetTypeName(), " as JSON"));
  }
  return json;
}

}  // namespace paramd
