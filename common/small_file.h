// Reads a whole small file (a config, a certificate, a token) with errors
// that name the file and say what was expected there.
#ifndef PARAMD_COMMON_SMALL_FILE_H_
#define PARAMD_COMMON_SMALL_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace paramd {

// The text of `path`, which should hold a `what` ("config", "certificate"):
// NotFound ("<path>: cannot open <what>: <reason>") if it cannot be opened,
// PermissionDenied if it may not be, InvalidArgument for a folder ("is a
// directory, not a <what> file") or a file over `max_bytes`.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          absl::string_view what,
                                          size_t max_bytes);

}  // namespace paramd

#endif  // PARAMD_COMMON_SMALL_FILE_H_
