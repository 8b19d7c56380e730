// The manifest of a partitioned data set (paramd-manifest.json beside its
// shards, see proto/paramd/v1/manifest.proto): written by `paramctl partition`,
// checked by workers before they train a shard.
#ifndef PARAMD_COMMON_DATA_MANIFEST_H_
#define PARAMD_COMMON_DATA_MANIFEST_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "paramd/v1/manifest.pb.h"

namespace paramd {

inline constexpr char kManifestFile[] = "paramd-manifest.json";

// Writes `manifest` as dir/paramd-manifest.json, through a temporary file
// renamed into place.
absl::Status WriteManifest(const std::string& dir,
                           const paramd::v1::DataManifest& manifest);

// Reads dir/paramd-manifest.json; nullopt if there is none. InvalidArgument
// naming the file if it is not a manifest.
absl::StatusOr<std::optional<paramd::v1::DataManifest>> ReadManifest(
    const std::string& dir);

// The size in bytes and CRC-32 of the file at `path`.
struct FileChecksum {
  uint64_t bytes = 0;
  uint32_t crc32 = 0;
};
absl::StatusOr<FileChecksum> ChecksumFile(const std::string& path);

// If the folder of `path` holds a manifest that lists the file, checks the
// file's size and checksum against it: DataLoss naming the file and what
// differs if they do not match. OK if there is no manifest or it does not
// list the file; InvalidArgument if the manifest is damaged.
absl::Status CheckAgainstManifest(const std::string& path);

}  // namespace paramd

#endif  // PARAMD_COMMON_DATA_MANIFEST_H_
