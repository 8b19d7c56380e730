#include "common/checkpoint_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace paramd {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'P', 'A', 'R', 'A', 'M', 'D', 'C', 'K'};
constexpr uint32_t kFormat = 1;
constexpr size_t kHeaderBytes = sizeof(kMagic) + 4 + 4 + 8;

uint32_t Crc32(absl::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; feed large payloads in pieces.
  constexpr size_t kPiece = size_t{1} << 30;
  for (size_t at = 0; at < data.size(); at += kPiece) {
    const size_t n = std::min(kPiece, data.size() - at);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + at),
                static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(crc);
}

template <typename T>
void PutLittleEndian(T value, std::string* out) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

template <typename T>
T GetLittleEndian(const char* in) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<T>(static_cast<unsigned char>(in[i])) << (8 * i);
  }
  return value;
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot write", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status FsyncPath(const std::string& path, int flags) {
  const int fd = open(path.c_str(), flags);
  if (fd < 0) return Errno("cannot open", path);
  const int rc = fsync(fd);
  close(fd);
  return rc == 0 ? absl::OkStatus() : Errno("cannot fsync", path);
}

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
