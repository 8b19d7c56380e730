// Human-readable log lines on stderr, one event a line, tagged with the
// process's role and id, e.g. "2026-11-28 08:40:01.123 I ps/0 started".
#ifndef PARAMD_COMMON_LOGGING_H_
#define PARAMD_COMMON_LOGGING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace paramd {

// Sets the "role/id" tag of every later line. Thread-safe.
void SetLogTag(const std::string& tag);

// Writes one line. Thread-safe.
void LogInfo(absl::string_view message);
void LogWarning(absl::string_view message);
void LogError(absl::string_view message);

}  // namespace paramd

#endif  // PARAMD_COMMON_LOGGING_H_
