// Durable, self-checking files for checkpoints: written to a temporary name,
// checksummed, fsynced and renamed into place, so a reader sees either the
// whole old file or the whole new one, and detects a truncated or corrupted
// one.
#ifndef PARAMD_COMMON_CHECKPOINT_FILE_H_
#define PARAMD_COMMON_CHECKPOINT_FILE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace paramd {

// File layout: the 8 bytes "PARAMDCK", a little-endian uint32 format
// version (1), the uint32 CRC-32 of the payload, the uint64 payload length,
// then the payload.
//
// Writes `payload` to `path`: a temporary file beside it, fsynced, renamed
// over `path`, then the folder fsynced. Creates the folder if missing.
absl::Status WriteCheckpointFile(const std::string& path,
                                 absl::string_view payload);

// Reads and verifies a file written by WriteCheckpointFile and returns its
// payload. Fails with NotFound if it is missing and DataLoss, naming the
// file and the problem, if it is truncated, corrupted or not a checkpoint.
absl::StatusOr<std::string> ReadCheckpointFile(const std::string& path);

// Files in `dir` named `<prefix><number><suffix>`, as (number, path) sorted
// by number ascending. A missing folder has none.
std::vector<std::pair<int64_t, std::string>> ListNumberedFiles(
    const std::string& dir, const std::string& prefix,
    const std::string& suffix);

// The name ListNumberedFiles parses: `<prefix><number, 12 digits><suffix>`.
std::string NumberedFileName(const std::string& prefix, int64_t number,
                             const std::string& suffix);

// Deletes the temporary files WriteCheckpointFile leaves when killed while
// writing one of these files (`<numbered name>.tmp<pid>`), whatever their
// pid; returns how many. Call at start-up, before writing any.
int RemoveStaleTempFiles(const std::string& dir, const std::string& prefix,
                         const std::string& suffix);

// Deletes all but the `keep` highest-numbered such files.
void PruneNumberedFiles(const std::string& dir, const std::string& prefix,
                        const std::string& suffix, int keep);

}  // namespace paramd

#endif  // PARAMD_COMMON_CHECKPOINT_FILE_H_
