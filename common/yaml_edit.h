// Changing one value of a YAML document, for the flags that override a
// field of the job's YAML (paramd-coordinator --checkpoint_dir).
#ifndef PARAMD_COMMON_YAML_EDIT_H_
#define PARAMD_COMMON_YAML_EDIT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace paramd {

// Returns `text` with the scalar at `path` (map keys from the top level,
// e.g. {"checkpoint", "dir"}) set to `value`, creating the maps on the way.
// Comments and layout are not kept. Fails with InvalidArgument, naming
// `source`, if `text` is not a YAML map or a key on the path holds a
// scalar or list. Never throws.
absl::StatusOr<std::string> SetYamlScalar(const std::string& text,
                                          const std::string& source,
                                          const std::vector<std::string>& path,
                                          const std::string& value);

}  // namespace paramd

#endif  // PARAMD_COMMON_YAML_EDIT_H_
