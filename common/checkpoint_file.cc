#include "common/checkpoint_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_io.h"

namespace paramd {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'P', 'A', 'R', 'A', 'M', 'D', 'C', 'K'};
constexpr uint32_t kFormat = 1;
constexpr size_t kHeaderBytes = sizeof(kMagic) + 4 + 4 + 8;

}  // namespace

absl::Status WriteCheckpointFile(const std::string& path,
                                 absl::string_view payload) {
  const fs::path target(path);
  const fs::path dir =
      target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  }
  std::string header(kMagic, sizeof(kMagic));
  PutLittleEndian<uint32_t>(kFormat, &header);
  PutLittleEndian<uint32_t>(Crc32(payload), &header);
  PutLittleEndian<uint64_t>(payload.size(), &header);

  const std::string tmp = absl::StrCat(path, ".tmp", getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Errno("cannot create", tmp);
  absl::Status status = WriteAll(fd, header, tmp);
  if (status.ok()) status = WriteAll(fd, payload, tmp);
  if (status.ok() && fsync(fd) != 0) status = Errno("cannot fsync", tmp);
  if (close(fd) != 0 && status.ok()) status = Errno("cannot close", tmp);
  if (status.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    status = Errno("cannot rename into", path);
  }
  if (!status.ok()) {
    unlink(tmp.c_str());
    return status;
  }
  return FsyncPath(dir.string(), O_RDONLY | O_DIRECTORY);
}

absl::StatusOr<std::string> ReadCheckpointFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string data = std::move(buffer).str();
  auto bad = [&path](absl::string_view problem) {
    return absl::DataLossError(absl::StrCat(path, ": ", problem));
  };
  if (data.size() < kHeaderBytes) {
    return bad(absl::StrCat("truncated: ", data.size(),
                            " bytes, shorter than the header"));
  }
  if (std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0) {
    return bad("not a paramd checkpoint (bad magic)");
  }
  const char* p = data.data() + sizeof(kMagic);
  const uint32_t format = GetLittleEndian<uint32_t>(p);
  const uint32_t crc = GetLittleEndian<uint32_t>(p + 4);
  const uint64_t length = GetLittleEndian<uint64_t>(p + 8);
  if (format != kFormat) {
    return bad(absl::StrCat("format ", format, " is not supported (want ",
                            kFormat, ")"));
  }
  const uint64_t have = data.size() - kHeaderBytes;
  if (have != length) {
    return bad(absl::StrCat(have < length ? "truncated" : "trailing bytes",
                            ": payload has ", have, " bytes, header says ",
                            length));
  }
  data.erase(0, kHeaderBytes);
  if (Crc32(data) != crc) return bad("checksum mismatch (corrupted)");
  return data;
}

std::string NumberedFileName(const std::string& prefix, int64_t number,
                             const std::string& suffix) {
  return absl::StrFormat("%s%012d%s", prefix, number, suffix);
}

std::vector<std::pair<int64_t, std::string>> ListNumberedFiles(
    const std::string& dir, const std::string& prefix,
    const std::string& suffix) {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= prefix.size() + suffix.size() ||
        name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    int64_t number = 0;
    const std::string digits =
        name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (!absl::SimpleAtoi(digits, &number) || number < 0) continue;
    out.emplace_back(number, entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

int RemoveStaleTempFiles(const std::string& dir, const std::string& prefix,
                         const std::string& suffix) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const size_t tmp = name.rfind(".tmp");
    if (tmp == std::string::npos || name.compare(0, prefix.size(), prefix)) {
      continue;
    }
    int64_t number = 0, pid = 0;
    const std::string base = name.substr(0, tmp);
    const bool ours =
        base.size() > prefix.size() + suffix.size() &&
        base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        absl::SimpleAtoi(
            base.substr(prefix.size(),
                        base.size() - prefix.size() - suffix.size()),
            &number) &&
        absl::SimpleAtoi(name.substr(tmp + 4), &pid);
    if (ours && fs::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

void PruneNumberedFiles(const std::string& dir, const std::string& prefix,
                        const std::string& suffix, int keep) {
  auto files = ListNumberedFiles(dir, prefix, suffix);
  for (size_t i = 0; i + std::max(keep, 0) < files.size(); ++i) {
    std::error_code ec;
    fs::remove(files[i].second, ec);
  }
}

}  // namespace paramd
