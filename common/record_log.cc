#include "common/record_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "common/file_io.h"

namespace paramd {
namespace {

constexpr size_t kHeaderBytes = 8;  // length, CRC-32

absl::Status Unavailable(const absl::Status& status) {
  return absl::UnavailableError(status.message());
}

}  // namespace

absl::StatusOr<RecordLog::Contents> RecordLog::Read(const std::string& path) {
  Contents contents;
  if (!std::filesystem::exists(path)) return contents;
  std::ifstream in(path, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  if (!in.is_open() || in.bad()) {
    return absl::UnavailableError(absl::StrCat(path, ": cannot read"));
  }
  size_t at = 0;
  while (data.size() - at >= kHeaderBytes) {
    const uint32_t length = GetLittleEndian<uint32_t>(data.data() + at);
    const uint32_t crc = GetLittleEndian<uint32_t>(data.data() + at + 4);
    if (length > kMaxRecordBytes || data.size() - at - kHeaderBytes < length) {
      break;
    }
    const absl::string_view payload(data.data() + at + kHeaderBytes, length);
    if (Crc32(payload) != crc) break;
    contents.records.emplace_back(payload);
    at += kHeaderBytes + length;
  }
  contents.dropped_bytes = static_cast<int64_t>(data.size() - at);
  return contents;
}

absl::StatusOr<std::unique_ptr<RecordLog>> RecordLog::Create(
    const std::string& path) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Unavailable(Errno("cannot create", path));
  const std::filesystem::path parent =
      std::filesystem::path(path).parent_path();
  if (absl::Status s = FsyncPath(parent.empty() ? "." : parent.string(),
                                 O_RDONLY | O_DIRECTORY);
      !s.ok()) {
    close(fd);
    return Unavailable(s);
  }
  return std::unique_ptr<RecordLog>(new RecordLog(path, fd));
}

RecordLog::~RecordLog() { close(fd_); }

absl::Status RecordLog::Append(absl::string_view payload) {
  std::string record;
  record.reserve(kHeaderBytes + payload.size());
  PutLittleEndian<uint32_t>(static_cast<uint32_t>(payload.size()), &record);
  PutLittleEndian<uint32_t>(Crc32(payload), &record);
  record.append(payload.data(), payload.size());
  // A log whose file was deleted would take appends and lose them.
  struct stat file;
  if (fstat(fd_, &file) != 0) return Unavailable(Errno("cannot stat", path_));
  if (file.st_nlink == 0) {
    return absl::UnavailableError(
        absl::StrCat(path_, ": the file was removed while open"));
  }
  absl::Status status;
  if (lseek(fd_, size_, SEEK_SET) < 0) status = Errno("cannot seek in", path_);
  if (status.ok()) status = WriteAll(fd_, record, path_);
  if (status.ok() && fdatasync(fd_) != 0) {
    status = Errno("cannot fdatasync", path_);
  }
  if (!status.ok()) {
    // Take back what got written, so that a crash now cannot bring back a
    // record reported as not saved.
    if (ftruncate(fd_, static_cast<off_t>(size_)) != 0 || fdatasync(fd_) != 0) {
      return absl::UnavailableError(absl::StrCat(
          status.message(),
          "; and cannot cut the record off: ", std::strerror(errno)));
    }
    return Unavailable(status);
  }
  size_ += static_cast<int64_t>(record.size());
  return absl::OkStatus();
}

}  // namespace paramd
