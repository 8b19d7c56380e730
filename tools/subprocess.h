// A child process: started with fork/exec, output appended to a log file,
// stopped with SIGTERM and then SIGKILL.
#ifndef PARAMD_TOOLS_SUBPROCESS_H_
#define PARAMD_TOOLS_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace paramd {

// Thread-compatible.
class Subprocess {
 public:
  // Runs argv[0] (a path) with `argv`, stdout and stderr appended to
  // `log_path`; the process gets SIGTERM if the calling thread ends first
  // (PR_SET_PDEATHSIG), so call it from a thread that outlives it. Fails if
  // the program cannot be started.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv, const std::string& log_path);

  // Stops the process if it still runs (see Stop).
  ~Subprocess();

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Returns the exit status (the code, or 128 + signal) once the process has
  // ended, or nullopt while it runs.
  std::optional<int> Poll();

  // Waits up to `timeout` for the process to end; returns Poll().
  std::optional<int> Wait(absl::Duration timeout);

  // Sends `signal` if the process still runs.
  void Signal(int signal);

  // SIGTERM, then SIGKILL if it has not ended within `grace`. Returns the
  // exit status.
  int Stop(absl::Duration grace = absl::Seconds(10));

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  const std::string& log_path() const { return log_path_; }

 private:
  Subprocess(pid_t pid, std::string name, std::string log_path)
      : pid_(pid), name_(std::move(name)), log_path_(std::move(log_path)) {}

  const pid_t pid_;
  const std::string name_;
  const std::string log_path_;
  std::optional<int> exit_status_;
};

// Polls `path` until it holds a port number, `process` ends, or `timeout`
// passes. Returns the port, or an error naming the process and its log.
absl::StatusOr<int> WaitForPortFile(const std::string& path,
                                    Subprocess* process,
                                    absl::Duration timeout);

}  // namespace paramd

#endif  // PARAMD_TOOLS_SUBPROCESS_H_
