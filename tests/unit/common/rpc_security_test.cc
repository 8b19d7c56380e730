#include "common/rpc_security.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

class RpcSecurityTest : public ::testing::Test {
 protected:
  // One folder per process: ctest runs each test as its own process, in
  // parallel, and a shared folder was rewritten under a running test.
  static void SetUpTestSuite() {
    std::string pattern = ::testing::TempDir() + "/rpc-security-XXXXXX";
    const bool made = mkdtemp(pattern.data()) != nullptr;
    dir_ = new std::string(pattern);
    ASSERT_TRUE(made) << pattern;
    ASSERT_EQ(std::system(absl::StrCat("scripts/make-certs.sh ", *dir_,
                                       " >/dev/null && scripts/make-tokens.sh ",
                                       *dir_, " >/dev/null")
                              .c_str()),
              0);
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  void TearDown() override { ASSERT_TRUE(ConfigureRpc({}).ok()); }

  static std::string File(const std::string& name) {
    return absl::StrCat(*dir_, "/", name);
  }
  static std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(File(name)) << text;
    return File(name);
  }

  static RpcSecurity Tls() {
    RpcSecurity security;
    security.tls_cert = File("node.crt");
    security.tls_key = File("node.key");
    security.tls_ca = File("ca.crt");
    security.mutual_tls = true;
    security.token_file = File("worker.token");
    security.tokens_file = File("tokens");
    return security;
  }

  static std::string* dir_;
};

std::string* RpcSecurityTest::dir_ = nullptr;

TEST_F(RpcSecurityTest, AcceptsTheScriptsFiles) {
  ASSERT_TRUE(ConfigureRpc(Tls()).ok());
  EXPECT_TRUE(ServerCredentials("0.0.0.0").ok());
  EXPECT_TRUE(ReloadTokens().ok());
}

TEST_F(RpcSecurityTest, BadFilesAreRefusedByName) {
  struct Case {
    std::string what;
    RpcSecurity security;
    std::string error;
  };
  std::vector<Case> cases;
  auto add = [&](std::string what, auto change, std::string error) {
    RpcSecurity security = Tls();
    change(security);
    cases.push_back({std::move(what), security, std::move(error)});
  };
  add(
      "missing certificate",
      [](RpcSecurity& s) { s.tls_cert = File("nope.crt"); },
      File("nope.crt") + ": cannot open certificate: No such file");
  add(
      "key given as the certificate",
      [](RpcSecurity& s) { s.tls_cert = File("node.key"); },
      File("node.key") + ": not a PEM certificate");
  add(
      "certificate given as the key",
      [](RpcSecurity& s) { s.tls_key = File("node.crt"); },
      File("node.crt") + ": not a PEM private key");
  add(
      "a folder as the CA", [](RpcSecurity& s) { s.tls_ca = *dir_; },
      *dir_ + ": is a directory, not a certificate file");
  add(
      "certificate without key", [](RpcSecurity& s) { s.tls_key.clear(); },
      "tls_cert and tls_key: give both or neither");
  add(
      "mutual TLS without CA", [](RpcSecurity& s) { s.tls_ca.clear(); },
      "mutual_tls: needs tls_cert, tls_key and tls_ca");
  add(
      "short token",
      [](RpcSecurity& s) { s.token_file = Write("short.token", "abc\n"); },
      File("short.token") + ": expected one token of at least 16 bytes");
  add(
      "two tokens in the token file",
      [](RpcSecurity& s) {
        s.token_file =
            Write("two.token", "0123456789abcdef0\nfedcba98765432100\n");
      },
      File("two.token") + ": expected one token");
  add(
      "bad token list",
      [](RpcSecurity& s) {
        s.tokens_file = Write("bad-tokens", "root 0123456789abcdef0123\n");
      },
      File("bad-tokens") + ":1: the first field is not a role");
  for (const Case& c : cases) {
    const absl::Status status = ConfigureRpc(c.security);
    EXPECT_FALSE(status.ok()) << c.what;
    EXPECT_TRUE(absl::StartsWith(status.message(), c.error))
        << c.what << ": " << status;
    EXPECT_FALSE(absl::StrContains(status.message(), "0123456789abcdef0"))
        << c.what << ": " << status;
  }
}

TEST_F(RpcSecurityTest, PlaintextBeyondLoopbackNeedsInsecure) {
  ASSERT_TRUE(ConfigureRpc({}).ok());
  EXPECT_TRUE(ServerCredentials("127.0.0.1").ok());
  EXPECT_TRUE(ServerCredentials("localhost").ok());
  EXPECT_TRUE(ServerCredentials("::1").ok());
  EXPECT_TRUE(ServerCredentials("127.0.0.2").ok());
  for (const char* host : {"0.0.0.0", "127.example.com", "10.0.0.1", "::"}) {
    EXPECT_TRUE(absl::IsFailedPrecondition(ServerCredentials(host).status()))
        << host;
  }
  const auto refused = ServerCredentials("0.0.0.0");
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status()));
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "--insecure"));
  RpcSecurity insecure;
  insecure.insecure = true;
  ASSERT_TRUE(ConfigureRpc(insecure).ok());
  EXPECT_TRUE(ServerCredentials("0.0.0.0").ok());
}

}  // namespace
}  // namespace paramd
