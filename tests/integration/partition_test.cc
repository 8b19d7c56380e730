// A network partition: parameter server 1 runs in its own network
// namespace, joined to the host by a veth pair. Its link is cut for longer
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
#include "tools/subprocess.h"
#include "worker/coordinator_client.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

// Runs a shell command; returns its exit status.
int Sh(const std::string& command, const std::string& log) {
  auto process = Subprocess::Start({"/bin/sh", "-c", command}, log);
  if (!process.ok()) return -1;
  return (*process)->Wait(absl::Seconds(30)).value_or(-1);
}

// A network namespace with a veth pair to the host: the host end is
// host_ip, the namespace end ns_ip. Removed (with the pair) on destruction.
class Namespace {
 public:
  explicit Namespace(const std::string& log) : log_(log) {
    const int tag = getpid() % 65000;
    name_ = absl::StrCat("paramd", tag);
    host_if_ = absl::StrCat("pdh", tag);
    const std::string ns_if = absl::StrCat("pdn", tag);
    const std::string net =
        absl::StrCat("10.", 100 + tag / 250 % 100, ".", tag % 250);
    host_ip_ = net + ".1";
    ns_ip_ = net + ".2";
    ok_ = Sh(absl::StrCat("ip netns add ", name_, " && ip link add ", host_if_,
                          " type veth peer name ", ns_if, " && ip link set ",
                          ns_if, " netns ", name_, " && ip addr add ", host_ip_,
                          "/30 dev ", host_if_, " && ip link set ", host_if_,
                          " up && ip -n ", name_, " addr add ", ns_ip_,
                          "/30 dev ", ns_if, " && ip -n ", name_, " link set ",
                          ns_if, " up && ip -n ", name_, " link set lo up"),
             log_) == 0;
  }
  ~Namespace() { Sh(absl::StrCat("ip netns del ", name_), log_); }

  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }
  const std::string& host_ip() const { return host_ip_; }
  const std::string& ns_ip() const { return ns_ip_; }
  // Cuts (false) or restores (true) the link.
  bool SetLink(bool up) {
    return Sh(absl::StrCat("ip link set ", host_if_, up ? " up" : " down"),
              log_) == 0;
  }

 private:
  std::string log_, name_, host_if_, host_ip_, ns_ip_;
  bool ok_ = false;
};

// Starts a daemon (optionally inside `ns`) and waits for its port.
std::unique_ptr<Subprocess> StartDaemon(const std::string& dir,
                                        const std::string& name,
                                        std::vector<std::string> argv,
                                        const std::string& ns, int* port) {
  const std::string port_file = absl::StrCat(dir, "/", name, ".port");
  argv.push_back(absl::StrCat("--port_file=", port_file));
  if (!ns.empty()) argv.insert(argv.begin(), {"/bin/ip", "netns", "exec", ns});
  auto process = Subprocess::Start(argv, absl::StrCat(dir, "/", name, ".log"));
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return nullptr;
  auto bound = WaitForPortFile(port_file, process->get(), absl::Seconds(30));
  EXPECT_TRUE(bound.ok()) << bound.status();
  *port = bound.value_or(0);
  return std::move(process).value();
}

TEST(PartitionTest, ClusterRecoversWhenACutLinkComesBack) {
  ASSERT_EQ(geteuid(), 0u) << "this test needs root for ip netns";
  const auto options = testing::FaultJob("partition");
  std::string dir = "/tmp/paramd-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  options.write_data(dir);
  const std::string config = dir + "/cluster.yaml";
  std::ofstream(config) << absl::StrReplaceAll(options.config_yaml,
                                               {{"$DIR", dir}});
  Namespace ns(dir + "/ip.log");
  ASSERT_TRUE(ns.ok()) << "cannot set up a network namespace; see " << dir
                       << "/ip.log";

  const std::string bin = PARAMD_BIN_DIR;
  int port = 0;
  auto coordinator =
      StartDaemon(dir, "coordinator",
                  {bin + "/paramd-coordinator", "--config=" + config,
                   "--host=" + ns.host_ip(), "--port=0"},
                  "", &port);
  ASSERT_NE(coordinator, nullptr);
  const std::string address = absl::StrCat(ns.host_ip(), ":", port);
  std::vector<std::unique_ptr<Subprocess>> daemons;
  daemons.push_back(
      StartDaemon(dir, "ps0",
                  {bin + "/paramd-ps", "--host=127.0.0.1", "--port=0",
                   "--shard=0", "--coordinator=" + address},
                  "", &port));
  daemons.push_back(
      StartDaemon(dir, "ps1",
                  {bin + "/paramd-ps", "--host=" + ns.ns_ip(), "--port=0",
                   "--shard=1", "--coordinator=" + address},
                  ns.name(), &port));
  for (const std::string role : {"trainer", "trainer", "evaluator"}) {
    auto worker =
        Subprocess::Start({bin + "/paramd-worker", "--coordinator=" + address,
                           "--role=" + role, "--rpc_timeout_s=2"},
                          absl::StrCat(dir, "/", role, daemons.size(), ".log"));
    ASSERT_TRUE(worker.ok()) << worker.status();
    daemons.push_back(std::move(worker).value());
  }
  Subprocess* ps1 = daemons[1].get();

  std::atomic<bool> stop{false};
  CoordinatorClient client(address, &stop);
  auto wait_for =
      [&](const std::function<bool(const v1::GetStatusResponse&)>& done,
          absl::Duration timeout) {
        const absl::Time give_up = absl::Now() + timeout;
        absl::StatusOr<v1::GetStatusResponse> status;
        while (absl::Now() < give_up) {
          status = client.GetStatus();
          if (status.ok() && done(*status)) return status;
          absl::SleepFor(absl::Milliseconds(100));
        }
        return absl::StatusOr<v1::GetStatusResponse>(
            absl::DeadlineExceededError(
                absl::StrCat("timed out; logs in ", dir)));
      };
  auto training = wait_for(
      [](const v1::GetStatusResponse& s) {
        return s.server_versions_size() == 2 && s.server_versions(1) > 200;
      },
      absl::Seconds(90));
  ASSERT_TRUE(training.ok()) << training.status();

  ASSERT_TRUE(ns.SetLink(false));
  absl::SleepFor(absl::Seconds(2));
  auto stalled = client.GetStatus();
  ASSERT_TRUE(stalled.ok());
  absl::SleepFor(absl::Seconds(3));  // 5 s in all, past the 2 s deadline
  auto still = client.GetStatus();
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->server_versions(0), stalled->server_versions(0))
      << "bsp cannot advance without shard 1";
  ASSERT_TRUE(ns.SetLink(true));
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
