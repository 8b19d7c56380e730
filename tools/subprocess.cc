#include "tools/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace paramd {
namespace {

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty() || access(argv[0].c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(
        "cannot run '", argv.empty() ? "" : argv[0], "': ", strerror(errno)));
  }
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (log < 0) {
    return absl::InternalError(
        absl::StrCat("cannot open log ", log_path, ": ", strerror(errno)));
  }
  std::vector<char*> args;
  for (const std::string& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    // Child: SIGTERM when this process dies (a daemon left running would
    // keep writing the run's checkpoints under the next launch's cluster).
    // Sent when the forking thread ends: only long-lived threads start
    // processes.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    // Default signal handling, output to the log.
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    close(log);
    execv(args[0], args.data());
    _exit(127);
  }
  close(log);
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  const std::string name = argv[0].substr(argv[0].rfind('/') + 1);
  return std::unique_ptr<Subprocess>(new Subprocess(pid, name, log_path));
}

Subprocess::~Subprocess() { Stop(); }

std::optional<int> Subprocess::Poll() {
  if (exit_status_) return exit_status_;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_status_ = DecodeStatus(status);
  }
  return exit_status_;
}

std::optional<int> Subprocess::Wait(absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!Poll() && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  return Poll();
}

void Subprocess::Signal(int signal) {
  if (!Poll()) kill(pid_, signal);
}

int Subprocess::Stop(absl::Duration grace) {
  Signal(SIGCONT);  // a stopped process cannot handle SIGTERM
  Signal(SIGTERM);
  if (Wait(grace)) return *exit_status_;
  Signal(SIGKILL);
  int status = 0;
  if (!exit_status_ && waitpid(pid_, &status, 0) == pid_) {
    exit_status_ = DecodeStatus(status);
  }
  return exit_status_.value_or(-1);
}

absl::StatusOr<int> WaitForPortFile(const std::string& path,
                                    Subprocess* process,
                                    absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (absl::Now() < give_up) {
    std::ifstream in(path);
    int port = 0;
    if (in >> port && port > 0) return port;
    if (std::optional<int> code = process->Poll()) {
      return absl::InternalError(
          absl::StrCat(process->name(), " exited with status ", *code,
                       " before listening; see ", process->log_path()));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      process->name(), " did not write ", path, " within ",
      absl::FormatDuration(timeout), "; see ", process->log_path()));
}

}  // namespace paramd
