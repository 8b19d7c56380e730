#include "common/data_manifest.h"

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/file_io.h"
#include "common/proto_json.h"
#include "common/small_file.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

// A manifest lists one entry per shard: a few MiB for 10^5 shards.
constexpr size_t kMaxManifestBytes = size_t{64} << 20;

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

}  // namespace

absl::Status WriteManifest(const std::string& dir,
                           const v1::DataManifest& manifest) {
  PARAMD_ASSIGN_OR_RETURN(const std::string json,
                          ProtoJson(manifest, /*indent=*/true));
  const std::string path = absl::StrCat(dir, "/", kManifestFile);
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << json;
    if (!out.flush()) return Errno("cannot write", temporary);
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot rename ", temporary, ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<v1::DataManifest>> ReadManifest(
    const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kManifestFile);
  absl::StatusOr<std::string> text =
      ReadSmallFile(path, "manifest", kMaxManifestBytes);
  if (absl::IsNotFound(text.status()) && !std::filesystem::exists(path)) {
    return std::nullopt;
  }
  PARAMD_RETURN_IF_ERROR(text.status());
  v1::DataManifest manifest;
  const auto parsed =
      google::protobuf::util::JsonStringToMessage(*text, &manifest);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not a data manifest: ", parsed.message().ToString()));
  }
  return manifest;
}

absl::StatusOr<FileChecksum> ChecksumFile(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) return Errno("cannot open", path);
  FileChecksum sum;
  std::string buffer(size_t{1} << 20, '\0');
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
    sum.crc32 = Crc32(absl::string_view(buffer.data(), n), sum.crc32);
    sum.bytes += n;
  }
  if (std::ferror(file.get())) {
    return absl::DataLossError(absl::StrCat(path, ": read failed"));
  }
  return sum;
}

absl::Status CheckAgainstManifest(const std::string& path) {
  const std::filesystem::path file(path);
  PARAMD_ASSIGN_OR_RETURN(std::optional<v1::DataManifest> manifest,
                          ReadManifest(file.parent_path().string()));
  if (!manifest.has_value()) return absl::OkStatus();
  const std::string name = file.filename().string();
  for (const v1::ShardManifestEntry& entry : manifest->shards()) {
    if (entry.file() != name) continue;
    PARAMD_ASSIGN_OR_RETURN(const FileChecksum sum, ChecksumFile(path));
    if (sum.bytes != entry.bytes() || sum.crc32 != entry.crc32()) {
      return absl::DataLossError(absl::StrCat(
          path, ": does not match ", kManifestFile, " (", sum.bytes,
          " bytes, CRC-32 ", sum.crc32, "; the manifest says ", entry.bytes(),
          " bytes, CRC-32 ", entry.crc32(),
          "): it changed after it was partitioned"));
    }
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace paramd
