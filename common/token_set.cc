#include "common/token_set.h"

#include <openssl/crypto.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/small_file.h"
#include "common/status_macros.h"

namespace paramd {
namespace {

constexpr size_t kMaxTokenFileBytes = 1 << 20;

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  if (name == "worker") return Role::kWorker;
  if (name == "server") return Role::kServer;
  if (name == "admin") return Role::kAdmin;
  // Not echoed: a line with its fields swapped would print the token.
  return absl::InvalidArgumentError(
      "the first field is not a role: expected worker, server or admin");
}

absl::StatusOr<absl::Time> ParseExpiry(absl::string_view field) {
  if (!absl::ConsumePrefix(&field, "expires=")) {
    return absl::InvalidArgumentError(
        "expected \"expires=<RFC 3339 time>\" after the token");
  }
  absl::Time expires;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, field, &expires, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expires: not an RFC 3339 time (", error, ")"));
  }
  return expires;
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kWorker:
      return "worker";
    case Role::kServer:
      return "server";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

absl::StatusOr<TokenSet> TokenSet::Load(const std::string& path) {
  PARAMD_ASSIGN_OR_RETURN(
      const std::string text,
      ReadSmallFile(path, "token list", kMaxTokenFileBytes));
  TokenSet set;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    auto error = [&](const absl::Status& status) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": ", status.message()));
    };
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() < 2 || fields.size() > 3) {
      return error(absl::InvalidArgumentError(
          "expected \"<role> <token> [expires=<RFC 3339 time>]\""));
    }
    absl::StatusOr<Role> role = ParseRole(fields[0]);
    if (!role.ok()) return error(role.status());
    if (fields[1].size() < kMinTokenBytes) {
      return error(absl::InvalidArgumentError(
          absl::StrCat("token shorter than ", kMinTokenBytes,
                       " bytes (make one with: openssl rand -hex 32)")));
    }
    absl::Time expires = absl::InfiniteFuture();
    if (fields.size() == 3) {
      absl::StatusOr<absl::Time> parsed = ParseExpiry(fields[2]);
      if (!parsed.ok()) return error(parsed.status());
      expires = *parsed;
    }
    for (const Entry& entry : set.entries_) {
      if (entry.token == fields[1]) {
        return error(absl::InvalidArgumentError(
            "the same token is listed twice; give each token one role"));
      }
    }
    set.entries_.push_back({std::string(fields[1]), *role, expires});
  }
  return set;
}

absl::StatusOr<Role> TokenSet::Find(absl::string_view token,
                                    absl::Time now) const {
  const Entry* found = nullptr;
  // Every entry is compared, each in time that depends on the lengths only,
  // whatever matches.
  for (const Entry& entry : entries_) {
    const bool match =
        entry.token.size() == token.size() &&
        CRYPTO_memcmp(entry.token.data(), token.data(), token.size()) == 0;
    if (match) found = &entry;
  }
  if (found == nullptr) {
    return absl::UnauthenticatedError("the bearer token is not accepted");
  }
  if (now >= found->expires) {
    return absl::UnauthenticatedError(
        absl::StrCat("the bearer token expired at ",
                     absl::FormatTime(absl::RFC3339_sec, found->expires,
                                      absl::UTCTimeZone())));
  }
  return found->role;
}

}  // namespace paramd
