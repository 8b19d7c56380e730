// `paramctl health ADDR` exits 0 only when the daemon there answers SERVING,
// and SERVING means ready: the coordinator once it listens, a parameter
// server once it holds a shard, a worker once it is registered. A server
// whose coordinator never answers is up but NOT_SERVING.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster/fault_job.h"
#include "tests/cluster/test_cluster.h"
#include "tests/cluster/test_network.h"
#include "tools/subprocess.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;

// Runs `paramctl health address`; returns its exit status, output in *out.
int Health(const std::string& dir, const std::string& address,
           std::string* out) {
  const std::string log = absl::StrCat(dir, "/health-", address, ".log");
  auto process = Subprocess::Start(
      {std::string(PARAMD_BIN_DIR) + "/paramctl", "health", address}, log);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return -1;
  const int code = (*process)->Wait(absl::Seconds(20)).value_or(-1);
  *out = testing::ReadFileOrEmpty(log);
  return code;
}

TEST(HealthTest, EveryDaemonIsServingOnceReady) {
  auto cluster = TestCluster::Start(testing::FaultJob("health"));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto servers = (*cluster)->ServerAddresses();
  ASSERT_TRUE(servers.ok()) << servers.status();
  std::vector<std::string> addresses = *servers;
  addresses.push_back((*cluster)->cluster().coordinator_address());
  for (const auto& worker : (*cluster)->cluster().workers()) {
    std::string port_file = worker->log_path();
    port_file.replace(port_file.rfind(".log"), 4, ".port");
    auto port = WaitForPortFile(port_file, worker.get(), absl::Seconds(30));
    ASSERT_TRUE(port.ok()) << port.status();
    addresses.push_back(absl::StrCat("127.0.0.1:", *port));
  }
  for (const std::string& address : addresses) {
    std::string out;
    // A worker says SERVING once registered: give it a moment.
    int code = 1;
    for (int i = 0; i < 50 && code != 0; ++i) {
      code = Health((*cluster)->dir(), address, &out);
      if (code != 0) absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_EQ(code, 0) << address << ": " << out;
    EXPECT_TRUE(absl::StrContains(out, "SERVING")) << out;
  }
}

TEST(HealthTest, AServerWithoutAShardIsNotServing) {
  std::string dir = "/tmp/paramd-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  int port = 0;
  // Its coordinator is a port nobody listens on: it never gets a shard.
  auto server =
      testing::StartDaemon(dir, "ps",
                           {std::string(PARAMD_BIN_DIR) + "/paramd-ps",
                            "--coordinator=127.0.0.1:1", "--port=0"},
                           "", &port);
  ASSERT_NE(server, nullptr);
  std::string out;
  EXPECT_EQ(Health(dir, absl::StrCat("127.0.0.1:", port), &out), 1) << out;
  EXPECT_TRUE(absl::StrContains(out, "NOT_SERVING")) << out;
  // Nothing listening at all: also not healthy.
  EXPECT_EQ(Health(dir, "127.0.0.1:1", &out), 1) << out;
  server->Stop();
}

}  // namespace
}  // namespace paramd
