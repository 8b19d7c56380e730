// An append-only file of checksummed records, for journals: a record is
// durable once Append returns, and a reader gets every record whole up to
// the first one a crash cut short or the disk damaged.
#ifndef PARAMD_COMMON_RECORD_LOG_H_
#define PARAMD_COMMON_RECORD_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace paramd {

// Layout: per record, a little-endian uint32 payload length, the uint32
// CRC-32 of the payload, then the payload. An empty file holds no records.
//
// Thread-compatible.
class RecordLog {
 public:
  // Records are at most this long; a longer length field is damage.
  static constexpr uint32_t kMaxRecordBytes = 64 << 20;

  // What a log file holds.
  struct Contents {
    std::vector<std::string> records;
    // Bytes after the last whole record: a record torn by a crash, or
    // damage (then every record after it is lost too).
    int64_t dropped_bytes = 0;
  };

  // Reads the records of `path`; a missing file has none. Fails with
  // Unavailable, naming the file, if it cannot be read.
  static absl::StatusOr<Contents> Read(const std::string& path);

  // Starts an empty log at `path` (replacing any file there) and fsyncs its
  // folder. Fails with Unavailable, naming the file.
  static absl::StatusOr<std::unique_ptr<RecordLog>> Create(
      const std::string& path);

  ~RecordLog();
  RecordLog(const RecordLog&) = delete;
  RecordLog& operator=(const RecordLog&) = delete;

  // Appends `payload` as one record and fdatasyncs; fails if the file was
  // removed meanwhile. On failure (Unavailable,
  // naming the file) what it wrote is cut off again, so the log holds
  // whole records only.
  // REQUIRES: payload.size() <= kMaxRecordBytes.
  absl::Status Append(absl::string_view payload);

  int64_t size_bytes() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  RecordLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  const std::string path_;
  const int fd_;
  int64_t size_ = 0;  // bytes of whole records
};

}  // namespace paramd

#endif  // PARAMD_COMMON_RECORD_LOG_H_
