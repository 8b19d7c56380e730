// The bearer tokens a daemon accepts, each with a role and an optional
// expiry, loaded from a file. Tokens are compared in constant time (in the
// bytes; lengths may show); no error message or log line names one.
#ifndef PARAMD_COMMON_TOKEN_SET_H_
#define PARAMD_COMMON_TOKEN_SET_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace paramd {

// What a token lets its holder do.
//   kWorker: pull, push, shard leases, worker heartbeats, eval reports.
//   kServer: register and heartbeat as a parameter server.
//   kAdmin:  checkpoint orders, job status, export (pull and list keys).
enum class Role { kWorker, kServer, kAdmin };

// "worker", "server" or "admin".
absl::string_view RoleName(Role role);

// Thread-compatible; immutable after Load.
class TokenSet {
 public:
  // Shortest token accepted, in bytes.
  static constexpr int kMinTokenBytes = 16;

  // Reads `path`: one token per line, "<role> <token> [expires=<RFC 3339
  // time>]", with blank lines and "#" comments ignored. Fails with
  // InvalidArgument naming the file and line ("<path>:<line>: ...") for an
  // unknown role, a token shorter than kMinTokenBytes, a bad expiry or a
  // repeated token, and with NotFound if the file cannot be read.
  static absl::StatusOr<TokenSet> Load(const std::string& path);

  // The role of `token` if it is in the set and not expired at `now`;
  // Unauthenticated otherwise (the message never repeats the token).
  absl::StatusOr<Role> Find(absl::string_view token, absl::Time now) const;

  int size() const { return static_cast<int>(entries_.size()); }

 private:
  struct Entry {
    std::string token;
    Role role;
    absl::Time expires;
  };

  std::vector<Entry> entries_;
};

}  // namespace paramd

#endif  // PARAMD_COMMON_TOKEN_SET_H_
