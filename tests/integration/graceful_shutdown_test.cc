// SIGTERM: a trainer gives its lease back and exits 0; the whole cluster
// stopped in order exits 0 everywhere, each server writing its shard on the
// way out; a new cluster started on the same folder resumes from there.
// Also `paramctl checkpoint` on a running job.
#include <signal.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/checkpoint_file.h"
#include "common/rpc_util.h"
#include "gtest/gtest.h"
#include "tests/cluster/fault_job.h"
#include "tests/cluster/test_cluster.h"
#include "tools/subprocess.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;
namespace v1 = ::paramd::v1;

// Versions of shard `shard`'s checkpoint files in `dir`.
std::vector<int64_t> FileVersions(const std::string& dir, int shard) {
  std::vector<int64_t> out;
  for (const auto& [version, path] :
       ListNumberedFiles(dir, absl::StrCat("shard-", shard, "-v"), ".ckpt")) {
    out.push_back(version);
  }
  return out;
}

TEST(GracefulShutdownTest, SigtermSavesStateAndANewClusterResumes) {
  auto options = testing::FaultJob("graceful");
  // Checkpoints only when asked for.
  options.config_yaml =
      absl::StrReplaceAll(options.config_yaml, {{"  every_steps: 300\n", ""}});
  auto cluster = TestCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const std::string dir = (*cluster)->dir();
  auto midway = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) {
        return s.epochs_status_size() > 0 &&
               s.epochs_status(0).shards_done() >= 1 && s.leases_size() == 2;
      },
      absl::Seconds(90));
  ASSERT_TRUE(midway.ok()) << midway.status();

  // On demand, while training.
  auto ctl = Subprocess::Start(
      {absl::StrCat(PARAMD_BIN_DIR, "/paramctl"), "checkpoint",
       absl::StrCat("--coordinator=",
                    (*cluster)->cluster().coordinator_address())},
      absl::StrCat(dir, "/paramctl-checkpoint.log"));
  ASSERT_TRUE(ctl.ok()) << ctl.status();
  EXPECT_EQ((*ctl)->Wait(absl::Seconds(60)), 0);
  auto ordered = (*cluster)->Status();
  ASSERT_TRUE(ordered.ok());
  ASSERT_EQ(ordered->checkpoints_size(), 1) << "only the one asked for";
  const int64_t on_demand = ordered->checkpoints(0).versions(0);
  EXPECT_EQ(ordered->checkpoints(0).versions(1), on_demand);
  for (int shard = 0; shard < 2; ++shard) {
    const auto versions = FileVersions(dir + "/ckpt", shard);
    EXPECT_NE(std::find(versions.begin(), versions.end(), on_demand),
              versions.end());
  }

  // One trainer: its lease comes back at once, not after a timeout.
  const v1::LeaseStatus lease = midway->leases(0);
  Subprocess* trainer =
      testing::ProcessOf(**cluster, *midway, lease.worker_id());
  ASSERT_NE(trainer, nullptr);
  trainer->Signal(SIGTERM);
  EXPECT_EQ(trainer->Wait(absl::Seconds(20)), 0);
  auto released = (*cluster)->Status();
  ASSERT_TRUE(released.ok());
  for (const auto& held : released->leases()) {
    EXPECT_NE(held.worker_id(), lease.worker_id());
  }
  EXPECT_EQ(released->expired_leases(), 0);

  // Everyone, in order; every daemon exits 0.
  (*cluster)->cluster().Stop();
  for (const auto& w : (*cluster)->cluster().workers()) {
    EXPECT_EQ(w->Poll(), 0) << w->log_path();
  }
  std::vector<int64_t> last;
  for (int shard = 0; shard < 2; ++shard) {
    Subprocess* server = (*cluster)->cluster().servers()[shard].get();
    EXPECT_EQ(server->Poll(), 0) << server->log_path();
    const auto versions = FileVersions(dir + "/ckpt", shard);
    ASSERT_FALSE(versions.empty());
    last.push_back(versions.back());
  }
  EXPECT_EQ((*cluster)->cluster().coordinator()->Poll(), 0);
  EXPECT_EQ(last[0], last[1]) << "both servers stopped at one version";
  EXPECT_GT(last[0], on_demand);
  const int done_before = released->epochs_status(0).shards_done();
  cluster->reset();

  // A new cluster on the same folder picks up where this one stopped.
  auto again_options = options;
  again_options.dir = dir;
  auto again = TestCluster::Start(again_options);
  ASSERT_TRUE(again.ok()) << again.status();
  auto status = (*again)->WaitForJob(absl::Seconds(180));
  ASSERT_TRUE(status.ok()) << status.status();
  testing::ExpectExactLedger(*status);
  ASSERT_EQ(status->rollbacks_size(), 1);
  EXPECT_EQ(status->rollbacks(0), last[0]) << "resumed from the shutdown";
  EXPECT_GE(status->epochs_status(0).shards_done(), done_before);

  auto fault_free = testing::FaultFreeRun(testing::FaultJob("graceful"));
  ASSERT_TRUE(fault_free.ok()) << fault_free.status();
  testing::ExpectQualityNear(*status, *fault_free);
}

// A pull parked on a bsp round that cannot close (one worker never pushes)
// does not keep a SIGTERMed parameter server alive: the pull is answered
// UNAVAILABLE and the server exits 0 with its checkpoint written.
TEST(GracefulShutdownTest, SigtermAnswersPullsParkedOnABspRound) {
  testing::TestClusterOptions options;
  options.config_yaml = R"(
job: {name: parked, consistency: bsp, lease_timeout_s: 60}
cluster: {num_servers: 1}
data: {train: $DIR/unused-*.svm}
model: {type: logreg}
checkpoint: {dir: $DIR/ckpt}
tables: [{name: d, type: dense, shape: [4]}]
)";
  options.write_data = [](const std::string& dir) {
    testing::WriteFileOrDie(dir + "/unused-0.svm", "1 1:1\n");
  };
  auto cluster = TestCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto ps = (*cluster)->Server(0);
  auto call = [&](v1::PullRequest request, absl::Duration timeout) {
    v1::PullResponse response;
    grpc::ClientContext context;
    SetTimeout(&context, timeout);
    return ps->Pull(&context, request, &response);
  };
  std::vector<uint64_t> ids;
  for (int i = 0; i < 2; ++i) {
    auto id = (*cluster)->RegisterTrainer();
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  v1::PullRequest join;
  join.set_clock(0);
  for (uint64_t id : ids) {
    join.set_worker_id(id);
    grpc::Status joined = call(join, absl::Seconds(5));
    // The server hears of new workers within a heartbeat.
    for (int i = 0; i < 50 && joined.error_code() == grpc::UNAVAILABLE; ++i) {
      absl::SleepFor(absl::Milliseconds(100));
      joined = call(join, absl::Seconds(5));
    }
    ASSERT_TRUE(joined.ok()) << joined.error_message();
  }
  v1::PushRequest push;
  push.set_worker_id(ids[0]);
  push.set_clock(0);
  v1::PushResponse pushed;
  grpc::ClientContext push_context;
  SetTimeout(&push_context, absl::Seconds(5));
  ASSERT_TRUE(ps->Push(&push_context, push, &pushed).ok());
  // Round 0 waits for the second worker, which never pushes.
  v1::PullRequest parked = join;
  parked.set_worker_id(ids[0]);
  parked.set_clock(1);
  grpc::Status parked_status;
  std::thread waiter([&] { parked_status = call(parked, absl::Seconds(120)); });
  // Let it park: nothing shows a parked pull from outside, and one that
  // comes after SIGTERM is refused the same way.
  absl::SleepFor(absl::Seconds(1));
  Subprocess* server = (*cluster)->cluster().servers()[0].get();
  server->Signal(SIGTERM);
  EXPECT_EQ(server->Wait(absl::Seconds(20)), 0) << server->log_path();
  waiter.join();
  EXPECT_EQ(parked_status.error_code(), grpc::UNAVAILABLE)
      << parked_status.error_message();
  EXPECT_EQ(parked_status.error_message(), "parameter server shutting down");
  EXPECT_FALSE(FileVersions((*cluster)->dir() + "/ckpt", 0).empty());
}

}  // namespace
}  // namespace paramd
