// A network partition: parameter server 1 runs on a test host of its own
// (a network namespace), the rest on another. Its link is cut for longer
// than the workers' RPC deadline, then restored; the cluster recovers
// without restarting anything and the job finishes with an exact ledger.
// Needs root (CI runs as root) and iproute2.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/cluster/fault_job.h"
#include "tests/cluster/test_network.h"
#include "tools/subprocess.h"
#include "worker/coordinator_client.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

TEST(PartitionTest, ClusterRecoversWhenACutLinkComesBack) {
  ASSERT_EQ(geteuid(), 0u) << "this test needs root for ip netns";
  const auto options = testing::FaultJob("partition");
  std::string dir = "/tmp/paramd-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  options.write_data(dir);
  const std::string config = dir + "/cluster.yaml";
  std::ofstream(config) << absl::StrReplaceAll(options.config_yaml,
                                               {{"$DIR", dir}});
  testing::TestNetwork network(dir + "/ip.log");
  const std::string main_ip = network.AddHost("main");
  const std::string far_ip = network.AddHost("far");
  ASSERT_FALSE(main_ip.empty() || far_ip.empty())
      << "cannot set up network namespaces; see " << dir << "/ip.log";
  const std::string main_ns = network.Namespace("main");

  const std::string bin = PARAMD_BIN_DIR;
  int port = 0;
  auto coordinator =
      testing::StartDaemon(dir, "coordinator",
                           {bin + "/paramd-coordinator", "--config=" + config,
                            "--host=" + main_ip, "--insecure", "--port=0"},
                           main_ns, &port);
  ASSERT_NE(coordinator, nullptr);
  const std::string address = absl::StrCat(main_ip, ":", port);
  std::vector<std::unique_ptr<Subprocess>> daemons;
  daemons.push_back(testing::StartDaemon(
      dir, "ps0",
      {bin + "/paramd-ps", "--host=" + main_ip, "--insecure", "--port=0",
       "--shard=0", "--coordinator=" + address},
      main_ns, &port));
  daemons.push_back(testing::StartDaemon(
      dir, "ps1",
      {bin + "/paramd-ps", "--host=" + far_ip, "--insecure", "--port=0",
       "--shard=1", "--coordinator=" + address},
      network.Namespace("far"), &port));
  for (const std::string role : {"trainer", "trainer", "evaluator"}) {
    daemons.push_back(testing::StartDaemon(
        dir, absl::StrCat(role, daemons.size()),
        {bin + "/paramd-worker", "--coordinator=" + address, "--role=" + role,
         "--rpc_timeout_s=2"},
        main_ns));
    ASSERT_NE(daemons.back(), nullptr);
  }
  Subprocess* ps1 = daemons[1].get();

  std::atomic<bool> stop{false};
  CoordinatorClient client(address, &stop);
  auto wait_for =
      [&](const std::function<bool(const v1::GetStatusResponse&)>& done,
          absl::Duration timeout) {
        return testing::WaitForStatus(client, done, timeout, dir);
      };
  auto training = wait_for(
      [](const v1::GetStatusResponse& s) {
        return s.server_versions_size() == 2 && s.server_versions(1) > 200;
      },
      absl::Seconds(90));
  ASSERT_TRUE(training.ok()) << training.status();

  ASSERT_TRUE(network.SetLink("far", false));
  absl::SleepFor(absl::Seconds(2));
  auto stalled = client.GetStatus();
  ASSERT_TRUE(stalled.ok());
  absl::SleepFor(absl::Seconds(3));  // 5 s in all, past the 2 s deadline
  auto still = client.GetStatus();
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->server_versions(0), stalled->server_versions(0))
      << "bsp cannot advance without shard 1";
  ASSERT_TRUE(network.SetLink("far", true));
  const absl::Time restored = absl::Now();
  const int64_t cut_at = still->server_versions(0);
  auto recovered = wait_for(
      [&](const v1::GetStatusResponse& s) {
        return s.server_versions(0) > cut_at + 10 || s.done();
      },
      absl::Seconds(60));
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  std::cout << "partition: 5 s cut; training resumed "
            << absl::FormatDuration(absl::Now() - restored)
            << " after the link came back" << std::endl;

  auto status = wait_for(
      [](const v1::GetStatusResponse& s) { return s.done() && s.eval_final(); },
      absl::Seconds(180));
  ASSERT_TRUE(status.ok()) << status.status();
  testing::ExpectExactLedger(*status);
  EXPECT_EQ(status->generation(), 0u) << "no rollback";
  EXPECT_FALSE(ps1->Poll().has_value()) << "the server was never restarted";
  for (auto& daemon : daemons) daemon->Stop();
  coordinator->Stop();

  auto fault_free = testing::FaultFreeRun(testing::FaultJob("partition"));
  ASSERT_TRUE(fault_free.ok()) << fault_free.status();
  testing::ExpectQualityNear(*status, *fault_free);
}

}  // namespace
}  // namespace paramd
