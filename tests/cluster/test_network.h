// Hosts for tests: network namespaces, each with an address of its own on
// one switch (a bridge in a namespace of its own), as separate machines on
// a LAN would be. This machine joins the switch too (at .254 of the
// subnet, through an interface removed with the switch), so a test reaches
// every host. Needs root and iproute2.
#ifndef PARAMD_TESTS_CLUSTER_TEST_NETWORK_H_
#define PARAMD_TESTS_CLUSTER_TEST_NETWORK_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "paramd/v1/coordinator.pb.h"
#include "tools/subprocess.h"
#include "worker/coordinator_client.h"

namespace paramd {
namespace testing {

// Thread-compatible. The destructor removes every namespace it made.
class TestNetwork {
 public:
  // The ip commands' output goes to `log`.
  explicit TestNetwork(std::string log);
  ~TestNetwork();

  TestNetwork(const TestNetwork&) = delete;
  TestNetwork& operator=(const TestNetwork&) = delete;

  // Adds host `name` (a few letters and digits) and returns its address,
  // or "" if it could not be set up (see the log).
  std::string AddHost(const std::string& name);

  // Cuts (false) or restores (true) the host's link to the switch.
  bool SetLink(const std::string& name, bool up);

  // The namespace the host's processes run in.
  std::string Namespace(const std::string& name) const;

 private:
  // Runs `command` with /bin/sh; true if it exits 0.
  bool Sh(const std::string& command);

  const std::string log_;
  const std::string tag_;     // "pd<pid>": prefix of every name made
  const std::string subnet_;  // "10.a.b."
  bool switch_ok_ = false;
  std::map<std::string, int> hosts_;  // name -> index (address, links)
};

// Starts `argv` (inside namespace `ns` unless empty) with its log at
// dir/name.log and, if `port` is set, --port_file=dir/name.port, then waits
// for the port it bound. Null on failure (a test failure is added).
std::unique_ptr<Subprocess> StartDaemon(const std::string& dir,
                                        const std::string& name,
                                        std::vector<std::string> argv,
                                        const std::string& ns,
                                        int* port = nullptr);

// Polls `client` until the job's status satisfies `done` or `timeout`
// passes; then fails with DeadlineExceeded pointing at the logs in `dir`.
absl::StatusOr<paramd::v1::GetStatusResponse> WaitForStatus(
    CoordinatorClient& client,
    const std::function<bool(const paramd::v1::GetStatusResponse&)>& done,
    absl::Duration timeout, const std::string& dir);

}  // namespace testing
}  // namespace paramd

#endif  // PARAMD_TESTS_CLUSTER_TEST_NETWORK_H_
