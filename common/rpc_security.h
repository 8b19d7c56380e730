// How this process's channels and servers are secured: TLS (optionally
// mutual) and bearer tokens with roles. Configured once at start-up from
// flags (or the job YAML's `security:` section, see config.h); every
// MakeChannel and StartServer (rpc_util.h) then uses it.
#ifndef PARAMD_COMMON_RPC_SECURITY_H_
#define PARAMD_COMMON_RPC_SECURITY_H_

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/token_set.h"
#include "grpcpp/grpcpp.h"

namespace paramd {

struct RpcSecurity {
  // PEM files. With a certificate and key, servers serve TLS and clients
  // present them under mutual TLS; with a CA, clients use TLS and verify
  // servers against it (without one, against the system's roots).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  // Servers require a client certificate signed by tls_ca.
  bool mutual_tls = false;
  // This process's bearer token, sent on every call it makes.
  std::string token_file;
  // The tokens this daemon accepts (TokenSet::Load); empty: every call is
  // accepted.
  std::string tokens_file;
  // Allows listening on a non-loopback address without TLS.
  bool insecure = false;

  bool tls() const { return !tls_cert.empty() || !tls_ca.empty(); }
};

// The flags every paramd binary has: --tls_cert, --tls_key, --tls_ca,
// --mutual_tls, --token_file, --tokens_file, --insecure.
RpcSecurity RpcSecurityFromFlags();

// The flags that give another process `security`.
std::vector<std::string> RpcSecurityFlags(const RpcSecurity& security);

// Reads and checks the files of `security` and makes it this process's.
// Call in main() before any channel or server is made. Fails with an error
// naming the file (and, for tokens, the line) that is missing or invalid.
// Afterwards SIGHUP rereads the token files (see ReloadTokens).
absl::Status ConfigureRpc(const RpcSecurity& security);

// Rereads the token files; on an error keeps the tokens it had and returns
// the error.
absl::Status ReloadTokens();

// Credentials for a channel to `address` (host:port), per ConfigureRpc. The
// token is sent over plaintext only to a loopback address or with
// insecure; elsewhere calls without TLS fail instead.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
    const std::string& address);

// Credentials for a server listening on `host`, per ConfigureRpc. Refuses
// (FailedPrecondition) plaintext on a non-loopback address unless insecure
// is set, and then warns in the log.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const std::string& host);

// OK if no accepted tokens are configured, or the call carries an accepted,
// unexpired token ("authorization: Bearer <token>") of one of `roles`;
// otherwise Unauthenticated (no token, an unknown or expired one) or
// PermissionDenied (another role). Messages never include the token.
absl::Status Authorize(const grpc::ServerContextBase& context,
                       std::initializer_list<Role> roles);

}  // namespace paramd

#endif  // PARAMD_COMMON_RPC_SECURITY_H_
