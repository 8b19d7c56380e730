#include "common/rpc_security.h"

#include <arpa/inet.h>
#include <grpc/grpc_security_constants.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "common/small_file.h"
#include "common/status_macros.h"

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate this daemon presents (as a server, and as a client "
          "under mutual TLS).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificate(s): clients verify servers against it; with "
          "--mutual_tls, servers verify clients too.");
ABSL_FLAG(bool, mutual_tls, false,
          "Servers require a client certificate signed by --tls_ca.");
ABSL_FLAG(std::string, token_file, "",
          "File holding this process's bearer token, sent on every call.");
ABSL_FLAG(std::string, tokens_file, "",
          "File of the tokens this daemon accepts: \"<role> <token> "
          "[expires=<RFC 3339>]\" per line; SIGHUP rereads it.");
ABSL_FLAG(bool, insecure, false,
          "Allow listening on a non-loopback address without TLS.");

namespace paramd {
namespace {

constexpr size_t kMaxPemBytes = 1 << 20;

struct SecurityState {
  absl::Mutex mu;
  RpcSecurity config ABSL_GUARDED_BY(mu);
  std::string cert_pem ABSL_GUARDED_BY(mu);
  std::string key_pem ABSL_GUARDED_BY(mu);
  std::string ca_pem ABSL_GUARDED_BY(mu);
  std::string token ABSL_GUARDED_BY(mu);
  std::optional<TokenSet> accepted ABSL_GUARDED_BY(mu);
};

SecurityState& State() {
  static auto* state = new SecurityState;
  return *state;
}

// Fails naming `path` unless `pem` holds what `what` says.
absl::Status CheckPem(const std::string& pem, const std::string& path,
                      bool key) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  bool ok = false;
  if (key) {
    EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    ok = pkey != nullptr;
    EVP_PKEY_free(pkey);
  } else {
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    ok = cert != nullptr;
    X509_free(cert);
  }
  BIO_free(bio);
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": not a PEM ", key ? "private key" : "certificate"));
}

absl::StatusOr<std::string> ReadPem(const std::string& path, bool key) {
  PARAMD_ASSIGN_OR_RETURN(
      std::string pem,
      ReadSmallFile(path, key ? "private key" : "certificate", kMaxPemBytes));
  PARAMD_RETURN_IF_ERROR(CheckPem(pem, path, key));
  return pem;
}

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  PARAMD_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, "token", 4096));
  const std::string token(absl::StripAsciiWhitespace(text));
  if (token.size() < TokenSet::kMinTokenBytes ||
      absl::StrContains(token, '\n')) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected one token of at least ",
                     TokenSet::kMinTokenBytes, " bytes on one line"));
  }
  return token;
}

bool IsLoopback(std::string host) {
  if (host == "localhost") return true;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 &&
         IN6_IS_ADDR_LOOPBACK(&v6);
}

// The host of "host:port" or "[v6]:port".
std::string HostOf(const std::string& address) {
  if (address.empty()) return address;
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || address.find(':') != colon) {
    // No port, or a bare IPv6 address.
    return address.front() == '[' ? address.substr(0, address.find(']') + 1)
                                  : address;
  }
  return address.substr(0, colon);
}

// Sends the process's current token (it may change on SIGHUP).
class BearerToken : public grpc::MetadataCredentialsPlugin {
 public:
  grpc::Status GetMetadata(
      grpc::string_ref, grpc::string_ref, const grpc::AuthContext&,
      std::multimap<grpc::string, grpc::string>* metadata) override {
    SecurityState& state = State();
    absl::ReaderMutexLock lock(&state.mu);
    metadata->emplace("authorization", absl::StrCat("Bearer ", state.token));
    return grpc::Status::OK;
  }
  bool IsBlocking() const override { return false; }
};

}  // namespace

RpcSecurity RpcSecurityFromFlags() {
  RpcSecurity security;
  security.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  security.tls_key = absl::GetFlag(FLAGS_tls_key);
  security.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  security.mutual_tls = absl::GetFlag(FLAGS_mutual_tls);
  security.token_file = absl::GetFlag(FLAGS_token_file);
  security.tokens_file = absl::GetFlag(FLAGS_tokens_file);
  security.insecure = absl::GetFlag(FLAGS_insecure);
  return security;
}

std::vector<std::string> RpcSecurityFlags(const RpcSecurity& security) {
  std::vector<std::string> flags;
  auto add = [&](const char* name, const std::string& value) {
    if (!value.empty()) flags.push_back(absl::StrCat("--", name, "=", value));
  };
  add("tls_cert", security.tls_cert);
  add("tls_key", security.tls_key);
  add("tls_ca", security.tls_ca);
  add("token_file", security.token_file);
  add("tokens_file", security.tokens_file);
  if (security.mutual_tls) flags.push_back("--mutual_tls");
  if (security.insecure) flags.push_back("--insecure");
  return flags;
}

absl::Status ConfigureRpc(const RpcSecurity& security) {
  if (security.tls_cert.empty() != security.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "tls_cert and tls_key: give both or neither");
  }
  if (security.mutual_tls &&
      (security.tls_ca.empty() || security.tls_cert.empty())) {
    return absl::InvalidArgumentError(
        "mutual_tls: needs tls_cert, tls_key and tls_ca");
  }
  std::string cert, key, ca;
  if (!security.tls_cert.empty()) {
    PARAMD_ASSIGN_OR_RETURN(cert, ReadPem(security.tls_cert, false));
    PARAMD_ASSIGN_OR_RETURN(key, ReadPem(security.tls_key, true));
  }
  if (!security.tls_ca.empty()) {
    PARAMD_ASSIGN_OR_RETURN(ca, ReadPem(security.tls_ca, false));
  }
  SecurityState& state = State();
  {
    absl::MutexLock lock(&state.mu);
    state.config = security;
    state.cert_pem = std::move(cert);
    state.key_pem = std::move(key);
    state.ca_pem = std::move(ca);
  }
  return ReloadTokens();
}

absl::Status ReloadTokens() {
  SecurityState& state = State();
  RpcSecurity config;
  {
    absl::MutexLock lock(&state.mu);
    config = state.config;
  }
  std::string token;
  if (!config.token_file.empty()) {
    PARAMD_ASSIGN_OR_RETURN(token, ReadToken(config.token_file));
  }
  std::optional<TokenSet> accepted;
  if (!config.tokens_file.empty()) {
    PARAMD_ASSIGN_OR_RETURN(accepted, TokenSet::Load(config.tokens_file));
  }
  absl::MutexLock lock(&state.mu);
  state.token = std::move(token);
  state.accepted = std::move(accepted);
  return absl::OkStatus();
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(
    const std::string& address) {
  SecurityState& state = State();
  absl::MutexLock lock(&state.mu);
  std::shared_ptr<grpc::ChannelCredentials> channel =
      grpc::InsecureChannelCredentials();
  if (state.config.tls()) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = state.ca_pem;
    options.pem_private_key = state.key_pem;
    options.pem_cert_chain = state.cert_pem;
    channel = grpc::SslCredentials(options);
  }
  if (state.config.token_file.empty()) return channel;
  // A token goes over plaintext only where plaintext is allowed at all: to
  // loopback, or with --insecure. Elsewhere gRPC fails the call rather
  // than send it unencrypted.
  const bool plaintext_ok =
      state.config.insecure || IsLoopback(HostOf(address));
  return grpc::CompositeChannelCredentials(
      channel,
      grpc::experimental::MetadataCredentialsFromPlugin(
          std::make_unique<BearerToken>(),
          plaintext_ok ? GRPC_SECURITY_NONE : GRPC_PRIVACY_AND_INTEGRITY));
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const std::string& host) {
  SecurityState& state = State();
  absl::MutexLock lock(&state.mu);
  if (!state.cert_pem.empty()) {
    grpc::SslServerCredentialsOptions options(
        state.config.mutual_tls
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    options.pem_root_certs = state.ca_pem;
    options.pem_key_cert_pairs.push_back({state.key_pem, state.cert_pem});
    return grpc::SslServerCredentials(options);
  }
  if (!IsLoopback(host)) {
    if (!state.config.insecure) {
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing to listen on ", host,
          " without TLS: give --tls_cert and --tls_key, or --insecure to "
          "serve plaintext to the network"));
    }
    LogWarning(absl::StrCat("listening on ", host,
                            " WITHOUT TLS (--insecure): anyone who can reach "
                            "this port can read and forge its traffic"));
  }
  return grpc::InsecureServerCredentials();
}

absl::Status Authorize(const grpc::ServerContextBase& context,
                       std::initializer_list<Role> roles) {
  SecurityState& state = State();
  absl::ReaderMutexLock lock(&state.mu);
  if (!state.accepted.has_value()) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "no bearer token: give the client --token_file");
  }
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) {
    return absl::UnauthenticatedError(
        "the authorization header is not \"Bearer <token>\"");
  }
  PARAMD_ASSIGN_OR_RETURN(const Role role,
                          state.accepted->Find(value, absl::Now()));
  for (Role allowed : roles) {
    if (role == allowed) return absl::OkStatus();
  }
  std::string wanted;
  for (Role allowed : roles) {
    absl::StrAppend(&wanted, wanted.empty() ? "" : " or ", RoleName(allowed));
  }
  return absl::PermissionDeniedError(
      absl::StrCat("a ", RoleName(role),
                   " token cannot make this call (it "
                   "needs a ",
                   wanted, " token)"));
}

}  // namespace paramd
