#include "worker/models/data_lines.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/data_manifest.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace paramd {
namespace {

constexpr size_t kShownBytes = 64;
constexpr int64_t kSkipsLogged = 5;

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

absl::Status OpenError(const std::string& path) {
  const std::string why = std::strerror(errno);
  if (errno == EACCES) {
    return absl::PermissionDeniedError(absl::StrCat(path, ": ", why));
  }
  return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", why));
}

// "<path>:<number>: <reason> in '<line>'", the line escaped and cut short.
absl::Status LineError(const std::string& path, int64_t number,
                       absl::string_view reason, absl::string_view line) {
  const bool cut = line.size() > kShownBytes;
  return absl::InvalidArgumentError(absl::StrCat(
      path, ":", number, ": ", reason, " in '",
      absl::CHexEscape(line.substr(0, kShownBytes)), cut ? "...'" : "'"));
}

// Reads lines of `file` into `line`, at most kMaxLineBytes each.
class LineSplitter {
 public:
  explicit LineSplitter(std::FILE* file) : file_(file) {}

  // Returns false at the end of the file. Sets *too_long (and keeps only
  // the start of the line) for a line over kMaxLineBytes.
  bool Next(std::string* line, bool* too_long) {
    line->clear();
    *too_long = false;
    bool any = false;
    int c;
    while ((c = getc_unlocked(file_)) != EOF) {
      any = true;
      if (c == '\n') return true;
      if (static_cast<int64_t>(line->size()) < kMaxLineBytes) {
        line->push_back(static_cast<char>(c));
      } else {
        *too_long = true;
      }
    }
    return any;
  }

 private:
  std::FILE* const file_;
};

}  // namespace

absl::Status ReadDataLines(
    const std::string& path, bool skip_bad_lines,
    absl::FunctionRef<absl::Status(absl::string_view)> parse,
    int64_t* skipped) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) return OpenError(path);
  PARAMD_RETURN_IF_ERROR(CheckAgainstManifest(path));
  LineSplitter lines(file.get());
  std::string line;
  bool too_long = false;
  for (int64_t number = 1; lines.Next(&line, &too_long); ++number) {
    absl::Status status =
        too_long ? absl::InvalidArgumentError(absl::StrCat(
                       "line longer than ", kMaxLineBytes, " bytes"))
                 : parse(line);
    if (status.ok()) continue;
    absl::Status error = LineError(path, number, status.message(), line);
    if (!skip_bad_lines) return error;
    if ((*skipped)++ < kSkipsLogged) {
      LogWarning(absl::StrCat("skipped: ", error.message()));
    }
  }
  if (std::ferror(file.get())) {
    return absl::DataLossError(
        absl::StrCat(path, ": read failed: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace paramd
