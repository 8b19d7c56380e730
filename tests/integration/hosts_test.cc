// Every daemon on a host of its own (a network namespace with an address of
// its own), started as the README tells a user to: the coordinator on
// 0.0.0.0:7000, each parameter server on 0.0.0.0:7001 advertising its
// host's address, workers pointed at the coordinator's host. Mid-job one
// trainer host is cut off for good: its lease lapses, another host trains
// the shard, and the job ends with an exact ledger. (Fixed ports are safe
// here: each host has a port space of its own.) Needs root and iproute2.
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/cluster/fault_job.h"
#include "tests/cluster/test_network.h"
#include "worker/coordinator_client.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

TEST(HostsTest, DaemonsOnSeparateHostsTrainAndACutHostsWorkMovesElsewhere) {
  ASSERT_EQ(geteuid(), 0u) << "this test needs root for ip netns";
  const auto options = testing::FaultJob("hosts");
  std::string dir = "/tmp/paramd-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  options.write_data(dir);  // one shared path, as an NFS mount would be
  const std::string config = dir + "/cluster.yaml";
  std::ofstream(config) << absl::StrReplaceAll(options.config_yaml,
                                               {{"$DIR", dir}});
  testing::TestNetwork network(dir + "/ip.log");
  const std::vector<std::string> hosts = {"coord", "ps0", "ps1", "w0",
                                          "w1",    "w2",  "eval"};
  std::map<std::string, std::string> ip;
  for (const std::string& host : hosts) {
    ip[host] = network.AddHost(host);
    ASSERT_FALSE(ip[host].empty())
        << "cannot set up host " << host << "; see " << dir << "/ip.log";
  }

  const std::string bin = PARAMD_BIN_DIR;
  const std::string coordinator_address = ip["coord"] + ":7000";
  std::map<std::string, std::unique_ptr<Subprocess>> daemons;
  int port = 0;
  daemons["coord"] =
      testing::StartDaemon(dir, "coordinator",
                           {bin + "/paramd-coordinator", "--config=" + config,
                            "--host=0.0.0.0", "--insecure", "--port=7000"},
                           network.Namespace("coord"), &port);
  ASSERT_NE(daemons["coord"], nullptr);
  for (const char* host : {"ps0", "ps1"}) {
    daemons[host] = testing::StartDaemon(
        dir, host,
        {bin + "/paramd-ps", "--coordinator=" + coordinator_address,
         "--host=0.0.0.0", "--insecure", "--advertise=" + ip[host] + ":7001",
         "--port=7001"},
        network.Namespace(host), &port);
    ASSERT_NE(daemons[host], nullptr);
  }
  for (const char* host : {"w0", "w1", "w2", "eval"}) {
    std::vector<std::string> argv = {bin + "/paramd-worker",
                                     "--coordinator=" + coordinator_address};
    if (std::string(host) == "eval") argv.push_back("--role=evaluator");
    daemons[host] =
        testing::StartDaemon(dir, host, argv, network.Namespace(host));
    ASSERT_NE(daemons[host], nullptr);
  }

  std::atomic<bool> stop{false};
  CoordinatorClient client(coordinator_address, &stop);
  auto wait_for =
      [&](const std::function<bool(const v1::GetStatusResponse&)>& done,
          absl::Duration timeout) {
        return testing::WaitForStatus(client, done, timeout, dir);
      };
  // The servers registered the addresses they advertise.
  const std::string w2_pid = absl::StrCat(":", daemons["w2"]->pid());
  auto training = wait_for(
      [&](const v1::GetStatusResponse& s) {
        uint64_t w2 = 0;
        for (const v1::WorkerStatus& w : s.workers()) {
          if (absl::EndsWith(w.host(), w2_pid)) w2 = w.worker_id();
        }
        bool leased = false;
        for (const v1::LeaseStatus& l : s.leases()) {
          leased = leased || (w2 != 0 && l.worker_id() == w2);
        }
        return leased && s.examples() > 0;
      },
      absl::Seconds(90));
  ASSERT_TRUE(training.ok()) << training.status();
  EXPECT_EQ(training->servers(0), ip["ps0"] + ":7001");
  EXPECT_EQ(training->servers(1), ip["ps1"] + ":7001");

  ASSERT_TRUE(network.SetLink("w2", false));  // for good
  auto status = wait_for(
      [](const v1::GetStatusResponse& s) { return s.done() && s.eval_final(); },
      absl::Seconds(180));
  ASSERT_TRUE(status.ok()) << status.status();
  testing::ExpectExactLedger(*status);
  EXPECT_GE(status->expired_leases(), 1) << "the cut host's lease moved";
  for (const v1::WorkerStatus& w : status->workers()) {
    if (absl::EndsWith(w.host(), w2_pid)) {
      EXPECT_FALSE(w.alive()) << "the cut trainer counts as dead";
    }
  }
  for (auto& [host, daemon] : daemons) daemon->Stop(absl::Seconds(5));
}

}  // namespace
}  // namespace paramd
