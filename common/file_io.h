// Small pieces of durable file writing shared by checkpoint files and
// record logs: checksums, little-endian integers, whole writes, fsync.
#ifndef PARAMD_COMMON_FILE_IO_H_
#define PARAMD_COMMON_FILE_IO_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace paramd {

// CRC-32 (zlib's) of `data` or, given the CRC-32 of the bytes before it as
// `previous`, of those bytes and `data`.
uint32_t Crc32(absl::string_view data, uint32_t previous = 0);

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

// Internal error "<what> <path>: <strerror(errno)>".
absl::Status Errno(absl::string_view what, const std::string& path);

// Writes all of `data` to `fd` (retrying short writes and EINTR).
absl::Status WriteAll(int fd, absl::string_view data, const std::string& path);

// Opens `path` with `flags` (O_RDONLY | O_DIRECTORY for a folder), fsyncs
// it and closes it.
absl::Status FsyncPath(const std::string& path, int flags);

}  // namespace paramd

#endif  // PARAMD_COMMON_FILE_IO_H_
