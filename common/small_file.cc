#include "common/small_file.h"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace paramd {
namespace {

std::string SizeText(size_t bytes) {
  if (bytes % (1 << 20) == 0) return absl::StrCat(bytes >> 20, " MiB");
  return absl::StrCat(bytes >> 10, " KiB");
}

}  // namespace

absl::StatusOr<std::string> ReadSmallFile(const std::string& path,
                                          absl::string_view what,
                                          size_t max_bytes) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": is a directory, not a ", what, " file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int e = errno;
    const std::string message = absl::StrCat(
        path, ": cannot open ", what, ": ", std::generic_category().message(e));
    if (e == EACCES) return absl::PermissionDeniedError(message);
    return absl::NotFoundError(message);
  }
  std::string text(max_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read ", what));
  }
  if (text.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": larger than ",
                                                   SizeText(max_bytes),
                                                   ", not a ", what, " file"));
  }
  return text;
}

}  // namespace paramd
