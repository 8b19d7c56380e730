// What the fault-tolerance tests share: a logistic-regression job on
// generated data that runs long enough to break things mid-way, and the
// checks every scenario makes (an exact ledger, quality near a fault-free
// run).
#ifndef PARAMD_TESTS_CLUSTER_FAULT_JOB_H_
#define PARAMD_TESTS_CLUSTER_FAULT_JOB_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "paramd/v1/coordinator.pb.h"
#include "tests/cluster/test_cluster.h"
#include "tools/subprocess.h"

namespace paramd {
namespace testing {

// The job's size: 2 epochs of kFaultShards shards of kFaultPerShard
// examples, one example a step (3,000 bsp rounds an epoch).
constexpr int kFaultEpochs = 2;
constexpr int kFaultShards = 6;
constexpr int kFaultPerShard = 1000;

// Options for the job: 2 servers, 2 trainers and an evaluator, bsp unless
// `consistency` says otherwise (e.g. "ssp\n  staleness: 2"), checkpoints
// every 300 steps into $DIR/ckpt.
TestClusterOptions FaultJob(const std::string& name,
                            const std::string& consistency = "bsp");

// Expects each of `epochs` epochs to have every shard completed exactly
// once with all its examples.
void ExpectExactLedger(const paramd::v1::GetStatusResponse& status,
                       int epochs = kFaultEpochs);

// Runs the same job without faults and returns its final status; expects
// no server to have refused a step as not due.
absl::StatusOr<paramd::v1::GetStatusResponse> FaultFreeRun(
    const TestClusterOptions& options);

// Expects the faulted run's final held-out loss and accuracy within the
// tolerance of the fault-free run's: loss within 35% (+0.02), accuracy
// within 0.02. (Fault-free runs alone differ by up to 20% in loss: which
// shards share a bsp round depends on timing.)
void ExpectQualityNear(const paramd::v1::GetStatusResponse& faulted,
                       const paramd::v1::GetStatusResponse& fault_free);

// The trainer process of `worker_id` (found by the pid it registered
// with), or null.
Subprocess* ProcessOf(TestCluster& cluster,
                      const paramd::v1::GetStatusResponse& status,
                      uint64_t worker_id);

}  // namespace testing
}  // namespace paramd

#endif  // PARAMD_TESTS_CLUSTER_FAULT_JOB_H_
