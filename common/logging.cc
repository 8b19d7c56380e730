#include "common/logging.h"

#include <cstdio>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace paramd {
namespace {

absl::Mutex log_mu;
std::string* log_tag ABSL_GUARDED_BY(log_mu) = new std::string("paramd");

void Write(char level, absl::string_view message) {
  const std::string when = absl::FormatTime("%Y-%m-%d %H:%M:%E3S", absl::Now(),
                                            absl::LocalTimeZone());
  absl::MutexLock lock(&log_mu);
  const std::string line = absl::StrCat(when, " ", std::string(1, level), " ",
                                        *log_tag, " ", message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void SetLogTag(const std::string& tag) {
  absl::MutexLock lock(&log_mu);
  *log_tag = tag;
}

void LogInfo(absl::string_view message) { Write('I', message); }
void LogWarning(absl::string_view message) { Write('W', message); }
void LogError(absl::string_view message) { Write('E', message); }

}  // namespace paramd
