// Reading a data file line by line for a model's parser, whatever the file
// holds: line length is bounded, errors name the file and line and quote the
// line escaped and cut short, and the job's policy decides whether a bad
// line fails the read or is skipped.
#ifndef PARAMD_WORKER_MODELS_DATA_LINES_H_
#define PARAMD_WORKER_MODELS_DATA_LINES_H_

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace paramd {

// Longest line a data file may have.
inline constexpr int64_t kMaxLineBytes = 1 << 20;

// Calls `parse(line)` for every line of `path` (without its newline).
// `parse` must leave its output as it was when it refuses a line. A line
// `parse` refuses, or one longer than kMaxLineBytes, fails the read with
// InvalidArgument "<path>:<line>: <reason> in '<line escaped, cut to 64
// bytes>'", or, if `skip_bad_lines`, is logged that way (the first few of
// a file) and counted in *skipped. Fails with NotFound or PermissionDenied
// when the file cannot be opened and DataLoss when reading it fails or it
// does not match the manifest of its folder (see CheckAgainstManifest).
absl::Status ReadDataLines(
    const std::string& path, bool skip_bad_lines,
    absl::FunctionRef<absl::Status(absl::string_view)> parse, int64_t* skipped);

}  // namespace paramd

#endif  // PARAMD_WORKER_MODELS_DATA_LINES_H_
