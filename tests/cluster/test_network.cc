#include "tests/cluster/test_network.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace paramd {
namespace testing {
namespace {

std::string Tag() { return absl::StrCat("pd", getpid() % 100000); }

std::string Subnet() {
  const int id = getpid() % 100000;
  return absl::StrCat("10.", 100 + id / 250 % 100, ".", id % 250, ".");
}

}  // namespace

TestNetwork::TestNetwork(std::string log)
    : log_(std::move(log)), tag_(Tag()), subnet_(Subnet()) {
  const std::string sw = tag_ + "sw";
  // The test itself reaches every host from here, at subnet.254.
  switch_ok_ = Sh(absl::StrCat(
      "ip netns add ", sw, " && ip -n ", sw,
      " link add br0 type bridge && ip -n ", sw,
      " link set br0 up && ip link add ", tag_, "r type veth peer name ", tag_,
      "s0 netns ", sw, " && ip -n ", sw, " link set ", tag_,
      "s0 master br0 up && ip addr add ", subnet_, "254/24 dev ", tag_,
      "r && ip link set ", tag_, "r up"));
}

TestNetwork::~TestNetwork() {
  for (const auto& [name, index] : hosts_) {
    Sh(absl::StrCat("ip netns del ", Namespace(name)));
  }
  Sh(absl::StrCat("ip netns del ", tag_, "sw"));
}

bool TestNetwork::Sh(const std::string& command) {
  auto process = Subprocess::Start({"/bin/sh", "-c", command}, log_);
  return process.ok() && (*process)->Wait(absl::Seconds(30)) == 0;
}

std::string TestNetwork::AddHost(const std::string& name) {
  if (!switch_ok_ || hosts_.count(name) > 0) return "";
  const int index = static_cast<int>(hosts_.size()) + 1;
  hosts_[name] = index;
  const std::string ns = Namespace(name);
  const std::string sw = tag_ + "sw";
  const std::string host_if = absl::StrCat(tag_, "h", index);
  const std::string switch_if = absl::StrCat(tag_, "s", index);
  const std::string address = absl::StrCat(subnet_, index);
  const bool ok = Sh(absl::StrCat(
      "ip netns add ", ns, " && ip link add ", host_if, " netns ", ns,
      " type veth peer name ", switch_if, " netns ", sw, " && ip -n ", sw,
      " link set ", switch_if, " master br0 up && ip -n ", ns, " addr add ",
      address, "/24 dev ", host_if, " && ip -n ", ns, " link set ", host_if,
      " up && ip -n ", ns, " link set lo up"));
  return ok ? address : "";
}

bool TestNetwork::SetLink(const std::string& name, bool up) {
  auto it = hosts_.find(name);
  if (it == hosts_.end()) return false;
  return Sh(absl::StrCat("ip -n ", tag_, "sw link set ", tag_, "s", it->second,
                         up ? " up" : " down"));
}

std::string TestNetwork::Namespace(const std::string& name) const {
  return absl::StrCat(tag_, name);
}

std::unique_ptr<Subprocess> StartDaemon(const std::string& dir,
                                        const std::string& name,
                                        std::vector<std::string> argv,
                                        const std::string& ns, int* port) {
  const std::string port_file = absl::StrCat(dir, "/", name, ".port");
  if (port != nullptr) argv.push_back(absl::StrCat("--port_file=", port_file));
  if (!ns.empty()) argv.insert(argv.begin(), {"/bin/ip", "netns", "exec", ns});
  auto process = Subprocess::Start(argv, absl::StrCat(dir, "/", name, ".log"));
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return nullptr;
  if (port != nullptr) {
    auto bound = WaitForPortFile(port_file, process->get(), absl::Seconds(30));
    EXPECT_TRUE(bound.ok()) << bound.status();
    *port = bound.value_or(0);
  }
  return std::move(process).value();
}

absl::StatusOr<paramd::v1::GetStatusResponse> WaitForStatus(
    CoordinatorClient& client,
    const std::function<bool(const paramd::v1::GetStatusResponse&)>& done,
    absl::Duration timeout, const std::string& dir) {
  const absl::Time give_up = absl::Now() + timeout;
  while (absl::Now() < give_up) {
    absl::StatusOr<paramd::v1::GetStatusResponse> status = client.GetStatus();
    if (status.ok() && done(*status)) return status;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat("condition not met within ",
                                                  absl::FormatDuration(timeout),
                                                  "; logs in ", dir));
}

}  // namespace testing
}  // namespace paramd
