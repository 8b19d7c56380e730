#include "server/coordinator.h"

#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/checkpoint_file.h"
#include "common/config.h"
#include "gtest/gtest.h"
#include "paramd/v1/coordinator.pb.h"
#include "server/lease_book.h"

namespace paramd {
namespace {

using Grant = LeaseBook::Grant;

const std::vector<std::string> kShards = {"/data/train-0", "/data/train-1",
                                          "/data/train-2"};

// Leases last an hour, so nothing expires while a test runs.
JobConfig TestJob(int num_servers = 2, int epochs = 2) {
  JobConfig job;
  job.name = "coord-test";
  job.num_servers = num_servers;
  job.epochs = epochs;
  job.lease_timeout_s = 3600;
  job.heartbeat_interval_s = 1;
  return job;
}

// Holds a coordinator of two servers and three training shards.
class CoordinatorTest : public ::testing::Test {
 protected:
  CoordinatorTest() : coordinator_(TestJob(), "yaml text", kShards) {}

  // Registers both parameter servers, so workers may join.
  void RegisterServers() {
    ASSERT_EQ(coordinator_.RegisterServer("ps0:1", -1).value_or(-9), 0);
    ASSERT_EQ(coordinator_.RegisterServer("ps1:1", -1).value_or(-9), 1);
  }

  uint64_t MustRegister(const std::string& role,
                        const std::string& host = "host") {
    std::vector<std::string> servers;
    std::optional<LeaseInfo> held;
    absl::StatusOr<uint64_t> id =
        coordinator_.RegisterWorker(host, role, 0, 0, &held, &servers);
    EXPECT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(servers, (std::vector<std::string>{"ps0:1", "ps1:1"}));
    return id.ok() ? *id : 0;
  }

  // The workers a server heartbeat is told to keep in its barrier.
  std::set<uint64_t> LiveTrainers() {
    v1::ServerHeartbeatRequest report;
    report.set_shard(0);
    v1::ServerHeartbeatResponse response;
    EXPECT_TRUE(coordinator_.ServerHeartbeat(report, &response).ok());
    return {response.live_workers().begin(), response.live_workers().end()};
  }

  LeaseInfo MustLease(uint64_t worker, std::string* path) {
    LeaseInfo lease;
    absl::StatusOr<Grant> grant =
        coordinator_.AcquireShard(worker, 0, &lease, path, &servers_);
    EXPECT_TRUE(grant.ok()) << grant.status();
    EXPECT_EQ(grant.value_or(Grant::kWait), Grant::kLeased);
    return lease;
  }

  Coordinator coordinator_;
  std::vector<std::string> servers_;
};

TEST_F(CoordinatorTest, AssignsLowestFreeShard) {
  Coordinator coordinator(TestJob(3), "", kShards);
  absl::StatusOr<int32_t> a = coordinator.RegisterServer("a:1", -1);
  absl::StatusOr<int32_t> b = coordinator.RegisterServer("b:1", -1);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*a, 0);
  EXPECT_EQ(*b, 1);
  const v1::GetStatusResponse status = coordinator.Status();
  ASSERT_EQ(status.servers_size(), 3);
  EXPECT_EQ(status.servers(0), "a:1");
  EXPECT_EQ(status.servers(1), "b:1");
  EXPECT_EQ(status.servers(2), "");
}

TEST_F(CoordinatorTest, HonoursARequestedShard) {
  Coordinator coordinator(TestJob(3), "", kShards);
  absl::StatusOr<int32_t> two = coordinator.RegisterServer("c:1", 2);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(*two, 2);
  // The others fill the lowest free shards around it.
  EXPECT_EQ(coordinator.RegisterServer("a:1", -1).value_or(-9), 0);
  EXPECT_EQ(coordinator.RegisterServer("b:1", -1).value_or(-9), 1);
  const v1::GetStatusResponse status = coordinator.Status();
  ASSERT_EQ(status.servers_size(), 3);
  EXPECT_EQ(status.servers(2), "c:1");
}

TEST_F(CoordinatorTest, ReRegistrationKeepsTheShard) {
  Coordinator coordinator(TestJob(2), "", kShards);
  ASSERT_EQ(coordinator.RegisterServer("a:1", -1).value_or(-9), 0);
  ASSERT_EQ(coordinator.RegisterServer("b:1", -1).value_or(-9), 1);
  EXPECT_EQ(coordinator.RegisterServer("b:1", -1).value_or(-9), 1);
  EXPECT_EQ(coordinator.RegisterServer("a:1", -1).value_or(-9), 0);
  EXPECT_EQ(coordinator.RegisterServer("b:1", 1).value_or(-9), 1);
  const v1::GetStatusResponse status = coordinator.Status();
  EXPECT_EQ(status.servers(0), "a:1");
  EXPECT_EQ(status.servers(1), "b:1");
}

// A server that asked for shard 1 and registers again without asking keeps
// shard 1; it must not also take the free shard 0.
TEST_F(CoordinatorTest, ReRegistrationKeepsTheShardWhenALowerOneIsFree) {
  Coordinator coordinator(TestJob(2), "", kShards);
  ASSERT_EQ(coordinator.RegisterServer("b:1", 1).value_or(-9), 1);
  EXPECT_EQ(coordinator.RegisterServer("b:1", -1).value_or(-9), 1);
  const v1::GetStatusResponse status = coordinator.Status();
  ASSERT_EQ(status.servers_size(), 2);
  EXPECT_EQ(status.servers(0), "") << "one address holds two shards";
  EXPECT_EQ(status.servers(1), "b:1");
}

TEST_F(CoordinatorTest, ARestartedServerReplacesItsOldAddress) {
  Coordinator coordinator(TestJob(2), "", kShards);
  ASSERT_EQ(coordinator.RegisterServer("a:1", -1).value_or(-9), 0);
  ASSERT_EQ(coordinator.RegisterServer("b:1", -1).value_or(-9), 1);
  EXPECT_EQ(coordinator.RegisterServer("b:2", 1).value_or(-9), 1);
  EXPECT_EQ(coordinator.Status().servers(1), "b:2");
}

TEST_F(CoordinatorTest, RejectsWhenEveryShardIsTaken) {
  Coordinator coordinator(TestJob(2), "", kShards);
  ASSERT_TRUE(coordinator.RegisterServer("a:1", -1).ok());
  ASSERT_TRUE(coordinator.RegisterServer("b:1", -1).ok());
  absl::StatusOr<int32_t> third = coordinator.RegisterServer("c:1", -1);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted)
      << third.status();
  const v1::GetStatusResponse status = coordinator.Status();
  EXPECT_EQ(status.servers(0), "a:1");
  EXPECT_EQ(status.servers(1), "b:1");
}

TEST_F(CoordinatorTest, RejectsAShardOutOfRange) {
  Coordinator coordinator(TestJob(2), "", kShards);
  for (int32_t shard : {2, 100, -2}) {
    absl::StatusOr<int32_t> result = coordinator.RegisterServer("a:1", shard);
    ASSERT_FALSE(result.ok()) << shard;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
        << result.status();
  }
  const v1::GetStatusResponse status = coordinator.Status();
  EXPECT_EQ(status.servers(0), "");
  EXPECT_EQ(status.servers(1), "");
}

TEST_F(CoordinatorTest, KeepsJobAndConfigText) {
  Coordinator coordinator(TestJob(2), "the yaml", kShards);
  EXPECT_EQ(coordinator.config_yaml(), "the yaml");
  EXPECT_EQ(coordinator.job().name, "coord-test");
  EXPECT_EQ(coordinator.Status().job(), "coord-test");
  EXPECT_EQ(coordinator.Status().num_shards(), 3);
  EXPECT_EQ(coordinator.Status().epochs(), 2);
}

TEST_F(CoordinatorTest, RegisterWorkerIsUnavailableUntilEveryServerIsUp) {
  Coordinator coordinator(TestJob(2), "", kShards);
  std::vector<std::string> servers;
  std::optional<LeaseInfo> held;
  absl::StatusOr<uint64_t> early =
      coordinator.RegisterWorker("h", "trainer", 0, 0, &held, &servers);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), absl::StatusCode::kUnavailable)
      << early.status();
  ASSERT_TRUE(coordinator.RegisterServer("b:1", 1).ok());
  early = coordinator.RegisterWorker("h", "trainer", 0, 0, &held, &servers);
  EXPECT_EQ(early.status().code(), absl::StatusCode::kUnavailable)
      << early.status();
  EXPECT_TRUE(coordinator.Status().workers().empty());

  ASSERT_TRUE(coordinator.RegisterServer("a:1", 0).ok());
  absl::StatusOr<uint64_t> id =
      coordinator.RegisterWorker("h", "trainer", 0, 0, &held, &servers);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(servers, (std::vector<std::string>{"a:1", "b:1"}));
}

TEST_F(CoordinatorTest, RegisterWorkerRejectsAnUnknownRole) {
  ASSERT_NO_FATAL_FAILURE(RegisterServers());
  std::vector<std::string> servers;
  std::optional<LeaseInfo> held;
  absl::StatusOr<uint64_t> id =
      coordinator_.RegisterWorker("h", "janitor", 0, 0, &held, &servers);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument)
      << id.status();
  EXPECT_TRUE(coordinator_.Status().workers().empty());
}

TEST_F(CoordinatorTest, RegisterWorkerGivesDistinctIdsAndListsWorkers) {
  ASSERT_NO_FATAL_FAILURE(RegisterServers());
  const uint64_t a = MustRegister("trainer", "host-a");
  const uint64_t b = MustRegister("trainer", "host-b");
  const uint64_t e = MustRegister("evaluator", "host-e");
  EXPECT_NE(a, b);
  EXPECT_NE(a, e);
  EXPECT_NE(b, e);
  EXPECT_EQ(LiveTrainers(), (std::set<uint64_t>{a, b}));
  const v1::GetStatusResponse status = coordinator_.Status();
  ASSERT_EQ(status.workers_size(), 3);
  std::map<uint64_t, v1::WorkerStatus> by_id;
  for (const v1::WorkerStatus& w : status.workers()) by_id[w.worker_id()] = w;
  EXPECT_EQ(by_id[a].host(), "host-a");
  EXPECT_EQ(by_id[a].role(), "trainer");
  EXPECT_TRUE(by_id[a].alive());
  EXPECT_EQ(by_id[e].host(), "host-e");
  EXPECT_EQ(by_id[e].role(), "evaluator");
}

TEST_F(CoordinatorTest, HeartbeatOfAnUnknownWorkerIsNotFound) {
  ASSERT_NO_FATAL_FAILURE(RegisterServers());
  v1::HeartbeatResponse beat;
  absl::Status status = coordinator_.Heartbeat(12345, 0, 0, {}, &beat);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
}

TEST_F(CoordinatorTest, HeartbeatRecordsExamples) {
  ASSERT_NO_FATAL_FAILURE(RegisterServers());
  const uint64_t a = MustRegister("trainer");
  const uint64_t b = MustRegister("trainer");
  v1::HeartbeatResponse beat;
  ASSERT_TRUE(coordinator_.Heartbeat(a, 100, 5.0, {}, &beat).ok());
  EXPECT_FALSE(beat.job_done());
  ASSERT_TRUE(coordinator_.Heartbeat(b, 50, 1.0, {}, &beat).ok());
  const v1::GetStatusResponse status = coordinator_.Status();
  EXPECT_EQ(status.examples(), 150u);
  for (const v1::WorkerStatus& w : status.workers()) {
    EXPECT_EQ(w.examples(), w.worker_id() == a ? 100u : 50u);
    EXPECT_TRUE(w.alive());
  }
}

TEST_F(CoordinatorTest, UnknownWorkersCannotLeaseCompleteOrReport) {
  ASSERT_NO_FATAL_FAILURE(RegisterServers());
  LeaseInfo lease;
  std::string path;
  EXPECT_EQ(coordinator_.AcquireShard(777, 0, &lease, &path, &servers_)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(coordinator_.CompleteShard(777, 1, 1, 0, /*clock=*/0).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(coordinator_.ReportEval(777, {{"loss", 1}}, 0, false).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(coordinator_.Status().leases().empty());
  EXPECT_TRUE(coordinator_.Status().eval().empty());
}

TEST_F(CoordinatorTest, AnEvaluatorCannotLease) {
  ASSERT_NO_FATAL_FAILURE(RegisterServers());
  const uint64_t e = MustRegister("evaluator");
  LeaseInfo lease;
  std::string path;
  absl::StatusOr<Grant> grant =
      coordinator_.AcquireShard(e, 0, &lease, &path, &servers_);
  ASSERT_FALSE(grant.ok());
  EXPECT_EQ(grant.status().code(), absl::StatusCode::kFailedPrecondition)
      << grant.status();
  EXPECT_TRUE(coordinator_.Status().leases().empty());
  // The shard it did not take goes to the next trainer.
  const uint64_t t = MustRegister("trainer");
  EXPECT_EQ(MustLease(t, &path).shard, 0);
}

TEST_F(CoordinatorTest, LeasesShardsAndTracksEpochsInStatus) {
  ASSERT_NO_FATAL_FAILURE(RegisterServers());
  const uint64_t a = MustRegister("trainer");
  const uint64_t b = MustRegister("trainer");
  std::string path;
  const LeaseInfo first = MustLease(a, &path);
  EXPECT_EQ(first.shard, 0);
  EXPECT_EQ(first.epoch, 0);
  EXPECT_EQ(path, "/data/train-0");
  const LeaseInfo second = MustLease(b, &path);
  EXPECT_EQ(second.shard, 1);
  EXPECT_EQ(path, "/data/train-1");

  v1::GetStatusResponse status = coordinator_.Status();
  EXPECT_EQ(status.epoch(), 0);
  EXPECT_FALSE(status.done());
  ASSERT_EQ(status.leases_size(), 2);
  for (const v1::LeaseStatus& lease : status.leases()) {
    const bool is_first = lease.lease().lease_id() == first.lease_id;
    EXPECT_EQ(lease.worker_id(), is_first ? a : b);
    EXPECT_EQ(lease.lease().shard(), is_first ? 0 : 1);
    EXPECT_EQ(lease.lease().path(),
              is_first ? "/data/train-0" : "/data/train-1");
    EXPECT_EQ(lease.lease().epoch(), 0);
    EXPECT_GT(lease.remaining_s(), 3000);
    EXPECT_LE(lease.remaining_s(), 3600);
  }
  ASSERT_EQ(status.epochs_status_size(), 1);
  EXPECT_EQ(status.epochs_status(0).shards_done(), 0);

  ASSERT_TRUE(
      coordinator_.CompleteShard(a, first.lease_id, 100, 50.0, /*clock=*/0)
          .ok());
  status = coordinator_.Status();
  ASSERT_EQ(status.leases_size(), 1);
  EXPECT_EQ(status.leases(0).lease().lease_id(), second.lease_id);
  EXPECT_EQ(status.epochs_status(0).epoch(), 0);
  EXPECT_EQ(status.epochs_status(0).shards_done(), 1);
  EXPECT_EQ(status.epochs_status(0).completions(), 1);
  EXPECT_EQ(status.epochs_status(0).examples(), 100u);
  EXPECT_DOUBLE_EQ(status.epochs_status(0).train_loss(), 0.5);

  // A second completion of the same lease (a retry) is not counted again.
  EXPECT_TRUE(
      coordinator_.CompleteShard(a, first.lease_id, 100, 50.0, /*clock=*/0)
          .ok());
  // So is a non-finite loss.
  EXPECT_EQ(coordinator_.CompleteShard(b, second.lease_id, 1, NAN, /*clock=*/0)
                .code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(
      coordinator_.CompleteShard(b, second.lease_id, 300, 30.0, /*clock=*/0)
          .ok());
  const LeaseInfo third = MustLease(a, &path);
  EXPECT_EQ(path, "/data/train-2");
  ASSERT_TRUE(
      coordinator_.CompleteShard(a, third.lease_id, 0, 0, /*clock=*/0).ok());

  status = coordinator_.Status();
  EXPECT_EQ(status.epoch(), 1);
  ASSERT_EQ(status.epochs_status_size(), 2);
  EXPECT_EQ(status.epochs_status(0).shards_done(), 3);
  EXPECT_EQ(status.epochs_status(0).completions(), 3);
  EXPECT_EQ(status.epochs_status(0).examples(), 400u);
  EXPECT_DOUBLE_EQ(status.epochs_status(0).train_loss(), 80.0 / 400);
  EXPECT_EQ(status.epochs_status(1).epoch(), 1);
  EXPECT_EQ(status.epochs_status(1).shards_done(), 0);

  // Epoch 1, then done.
  for (int i = 0; i < 3; ++i) {
    const uint64_t w = i % 2 == 0 ? a : b;
    const LeaseInfo lease = MustLease(w, &path);
    EXPECT_EQ(lease.epoch, 1);
    EXPECT_EQ(path, kShards[i]);
    ASSERT_TRUE(
        coordinator_.CompleteShard(w, lease.lease_id, 10, 1, /*clock=*/0).ok());
  }
  status = coordinator_.Status();
  EXPECT_TRUE(status.done());
  EXPECT_EQ(status.epoch(), 2);
  EXPECT_TRUE(status.leases().empty());
  EXPECT_EQ(status.expired_leases(), 0);
  EXPECT_EQ(status.epochs_status(1).completions(), 3);
  LeaseInfo lease;
  absl::StatusOr<Grant> grant =
      coordinator_.AcquireShard(a, 0, &lease, &path, &servers_);
  ASSERT_TRUE(grant.ok()) << grant.status();
  EXPECT_EQ(*grant, Grant::kDone);
  v1::HeartbeatResponse beat;
  ASSERT_TRUE(coordinator_.Heartbeat(b, 0, 0, {}, &beat).ok());
  EXPECT_TRUE(beat.job_done());
}

TEST_F(CoordinatorTest, RetriedCallsAfterALostReplyChangeNothing) {
  ASSERT_NO_FATAL_FAILURE(RegisterServers());
  std::vector<std::string> servers;
  std::optional<LeaseInfo> held;
  // RegisterWorker: the same request id twice is one worker.
  const uint64_t id =
      coordinator_.RegisterWorker("h", "trainer", 0, 77, &held, &servers)
          .value_or(0);
  ASSERT_NE(id, 0u);
  EXPECT_EQ(coordinator_.RegisterWorker("h", "trainer", 0, 77, &held, &servers)
                .value_or(0),
            id);
  EXPECT_EQ(coordinator_.Status().workers_size(), 1);
  // AcquireShard: a retry gets the same lease; a new call the next shard.
  std::string path;
  LeaseInfo first, again, next;
  ASSERT_EQ(coordinator_.AcquireShard(id, 5, &first, &path, &servers_).value(),
            Grant::kLeased);
  ASSERT_EQ(coordinator_.AcquireShard(id, 5, &again, &path, &servers_).value(),
            Grant::kLeased);
  EXPECT_EQ(again.lease_id, first.lease_id);
  EXPECT_EQ(again.shard, first.shard);
  EXPECT_EQ(path, kShards[first.shard]);
  EXPECT_EQ(coordinator_.Status().leases_size(), 1);
  ASSERT_EQ(coordinator_.AcquireShard(id, 6, &next, &path, &servers_).value(),
            Grant::kLeased);
  EXPECT_NE(next.shard, first.shard);
  // CompleteShard: a repeat is OK and counted once.
  ASSERT_TRUE(coordinator_.CompleteShard(id, first.lease_id, 10, 1, 1).ok());
  ASSERT_TRUE(coordinator_.CompleteShard(id, first.lease_id, 10, 1, 1).ok());
  EXPECT_EQ(coordinator_.Status().epochs_status(0).completions(), 1);
  EXPECT_EQ(coordinator_.Status().epochs_status(0).examples(), 10u);
}

TEST_F(CoordinatorTest, WorkerIdsThatWouldWrapAreRefused) {
  ASSERT_NO_FATAL_FAILURE(RegisterServers());
  std::vector<std::string> servers;
  std::optional<LeaseInfo> held;
  absl::StatusOr<uint64_t> huge = coordinator_.RegisterWorker(
      "h", "trainer", UINT64_MAX - 1, 0, &held, &servers);
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(huge.status().message().find("worker_id"), std::string::npos);
  const uint64_t a = MustRegister("trainer");
  const uint64_t b = MustRegister("trainer");
  EXPECT_NE(a, b);
  EXPECT_EQ(coordinator_.Status().workers_size(), 2);
}

TEST_F(CoordinatorTest, AShardOneHostCannotOpenGoesToAnotherWorkerFirst) {
  ASSERT_NO_FATAL_FAILURE(RegisterServers());
  const uint64_t a = MustRegister("trainer");
  const uint64_t b = MustRegister("trainer");
  std::string path;
  const LeaseInfo first = MustLease(a, &path);
  ASSERT_TRUE(
      coordinator_.FailShard(a, first.lease_id, "cannot open", true).ok());
  v1::GetStatusResponse status = coordinator_.Status();
  EXPECT_EQ(status.epochs_status(0).failed(), 0) << "one host only so far";
  // The same shard, back at the front of the queue, goes to b; it fails
  // there too, so it is the file's fault.
  const LeaseInfo second = MustLease(b, &path);
  EXPECT_EQ(second.shard, first.shard);
  ASSERT_TRUE(
      coordinator_.FailShard(b, second.lease_id, "cannot open", true).ok());
  status = coordinator_.Status();
  EXPECT_EQ(status.epochs_status(0).failed(), 1);
  ASSERT_EQ(status.failed_shards_size(), 1);
  EXPECT_EQ(status.failed_shards(0).shard(), first.shard);
  // Malformed content fails at once.
  const LeaseInfo third = MustLease(a, &path);
  ASSERT_TRUE(
      coordinator_.FailShard(a, third.lease_id, "x:3: bad", false).ok());
  EXPECT_EQ(coordinator_.Status().epochs_status(0).failed(), 2);
}

TEST_F(CoordinatorTest, WaitWhenEveryShardIsLeased) {
  ASSERT_NO_FATAL_FAILURE(RegisterServers());
  const uint64_t a = MustRegister("trainer");
  std::string path;
  for (int i = 0; i < 3; ++i) MustLease(a, &path);
  LeaseInfo lease;
  absl::StatusOr<Grant> grant =
      coordinator_.AcquireShard(a, 0, &lease, &path, &servers_);
  ASSERT_TRUE(grant.ok()) << grant.status();
  EXPECT_EQ(*grant, Grant::kWait);
}

TEST_F(CoordinatorTest, TickKeepsLiveWorkersAndLeases) {
  ASSERT_NO_FATAL_FAILURE(RegisterServers());
  const uint64_t a = MustRegister("trainer");
  std::string path;
  MustLease(a, &path);
  coordinator_.Tick();
  EXPECT_EQ(LiveTrainers(), (std::set<uint64_t>{a}));
  EXPECT_EQ(coordinator_.Status().leases_size(), 1);
  EXPECT_EQ(coordinator_.Status().expired_leases(), 0);
}

TEST_F(CoordinatorTest, ReportEvalShowsUpInStatus) {
  ASSERT_NO_FATAL_FAILURE(RegisterServers());
  const uint64_t e = MustRegister("evaluator");
  ASSERT_TRUE(
      coordinator_
          .ReportEval(e, {{"perplexity", 123.5}, {"loss", 4.8}}, 1000, false)
          .ok());
  v1::GetStatusResponse status = coordinator_.Status();
  EXPECT_DOUBLE_EQ(status.eval().at("perplexity"), 123.5);
  EXPECT_DOUBLE_EQ(status.eval().at("loss"), 4.8);
  EXPECT_DOUBLE_EQ(status.eval().at("examples_seen"), 1000);
  EXPECT_FALSE(status.eval_final());

  // The latest report replaces the previous one; final sticks.
  ASSERT_TRUE(
      coordinator_.ReportEval(e, {{"perplexity", 99.0}}, 2000, true).ok());
  ASSERT_TRUE(
      coordinator_.ReportEval(e, {{"perplexity", 98.0}}, 2500, false).ok());
  status = coordinator_.Status();
  EXPECT_DOUBLE_EQ(status.eval().at("perplexity"), 98.0);
  EXPECT_DOUBLE_EQ(status.eval().at("examples_seen"), 2500);
  EXPECT_EQ(status.eval().count("loss"), 0u);
  EXPECT_TRUE(status.eval_final());
}

}  // namespace
}  // namespace paramd

namespace paramd {
namespace {

// A coordinator whose progress lives in a fresh folder.
class DurableCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "coordinator_state_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    job_ = TestJob();
    job_.checkpoint.dir = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(job_.checkpoint.dir); }

  // Registers servers and a trainer, then completes `shards` shards.
  uint64_t Train(Coordinator& coordinator, int shards) {
    EXPECT_TRUE(coordinator.RegisterServer("ps0:1", 0).ok());
    EXPECT_TRUE(coordinator.RegisterServer("ps1:1", 1).ok());
    std::vector<std::string> servers;
    std::optional<LeaseInfo> held;
    const uint64_t id =
        coordinator.RegisterWorker("h", "trainer", 0, 0, &held, &servers)
            .value();
    for (int i = 0; i < shards; ++i) {
      LeaseInfo lease;
      std::string path;
      EXPECT_EQ(
          coordinator.AcquireShard(id, 0, &lease, &path, &servers).value(),
          LeaseBook::Grant::kLeased);
      EXPECT_TRUE(
          coordinator.CompleteShard(id, lease.lease_id, 10, 1.0, i + 1).ok());
    }
    return id;
  }

  JobConfig job_;
};

TEST_F(DurableCoordinatorTest, RestartRestoresLedgerAndWorkerIds) {
  uint64_t trainer = 0;
  {
    Coordinator first(job_, "", kShards);
    first.Restore();
    trainer = Train(first, 4);  // epoch 1 done, one shard of epoch 2
  }
  Coordinator second(job_, "", kShards);
  second.Restore();
  const v1::GetStatusResponse status = second.Status();
  EXPECT_EQ(status.epoch(), 1);
  ASSERT_EQ(status.epochs_status_size(), 2);
  EXPECT_EQ(status.epochs_status(0).shards_done(), 3);
  EXPECT_EQ(status.epochs_status(1).shards_done(), 1);
  EXPECT_TRUE(status.workers().empty()) << "workers must come back";
  // The worker returns under its id; a new one gets a fresh id.
  ASSERT_TRUE(second.RegisterServer("ps0:2", 0).ok());
  ASSERT_TRUE(second.RegisterServer("ps1:2", 1).ok());
  std::vector<std::string> servers;
  std::optional<LeaseInfo> held;
  EXPECT_EQ(second.RegisterWorker("h", "trainer", trainer, 0, &held, &servers)
                .value_or(0),
            trainer);
  EXPECT_GT(
      second.RegisterWorker("h", "trainer", 0, 0, &held, &servers).value_or(0),
      trainer);
}

// Each run's first save is a snapshot; the changes after it go to its
// journal. A damaged newest snapshot falls back to the one before it and
// that one's journal: only what followed the newest snapshot is lost.
TEST_F(DurableCoordinatorTest, DamagedNewestStateFallsBackToTheOneBefore) {
  {
    Coordinator first(job_, "", kShards);
    first.Restore();
    Train(first, 2);
  }
  {
    Coordinator second(job_, "", kShards);
    second.Restore();
    ASSERT_EQ(second.Status().epochs_status(0).shards_done(), 2);
    ASSERT_TRUE(second.RegisterServer("ps0:1", 0).ok());  // saves
  }
  auto files = ListNumberedFiles(job_.checkpoint.dir, "coordinator-", ".ckpt");
  ASSERT_EQ(files.size(), 2u);
  std::ofstream(files.back().second, std::ios::trunc) << "garbage";
  Coordinator third(job_, "", kShards);
  third.Restore();
  EXPECT_EQ(third.Status().epochs_status(0).shards_done(), 2);
}

// A journal whose last record a crash cut short: every whole record is
// replayed, and saving goes on (a snapshot, then a new journal).
TEST_F(DurableCoordinatorTest, ATornJournalTailLosesOnlyThatRecord) {
  {
    Coordinator first(job_, "", kShards);
    first.Restore();
    Train(first, 2);
  }
  auto journals =
      ListNumberedFiles(job_.checkpoint.dir, "coordinator-", ".journal");
  ASSERT_EQ(journals.size(), 1u);
  // The last record (the second completion) loses its last byte.
  std::filesystem::resize_file(
      journals.back().second,
      std::filesystem::file_size(journals.back().second) - 1);
  {
    Coordinator second(job_, "", kShards);
    second.Restore();
    EXPECT_EQ(second.Status().epochs_status(0).shards_done(), 1);
    ASSERT_TRUE(second.RegisterServer("ps0:1", 0).ok());  // a snapshot
    ASSERT_TRUE(second.RegisterServer("ps1:1", 1).ok());  // a change
  }
  journals = ListNumberedFiles(job_.checkpoint.dir, "coordinator-", ".journal");
  EXPECT_GT(std::filesystem::file_size(journals.back().second), 0u);
  Coordinator third(job_, "", kShards);
  third.Restore();
  EXPECT_EQ(third.Status().epochs_status(0).shards_done(), 1);
}

TEST_F(DurableCoordinatorTest, StateOfAnotherJobIsSkipped) {
  {
    Coordinator first(job_, "", kShards);
    Train(first, 1);
  }
  JobConfig other = job_;
  other.name = "another-job";
  Coordinator second(other, "", kShards);
  second.Restore();
  EXPECT_EQ(second.Status().epochs_status(0).shards_done(), 0);
}

}  // namespace
}  // namespace paramd

namespace paramd {
namespace {

TEST(CoordinatorFencingTest, AServerReplacedByANewProcessIsRefused) {
  Coordinator coordinator(TestJob(), "", kShards);
  ASSERT_TRUE(coordinator.RegisterServer("old:1", 1).ok());
  v1::ServerHeartbeatRequest report;
  report.set_shard(1);
  report.set_address("old:1");
  v1::ServerHeartbeatResponse response;
  EXPECT_TRUE(coordinator.ServerHeartbeat(report, &response).ok());
  // The shard's server restarted elsewhere; the old one is heard again.
  ASSERT_TRUE(coordinator.RegisterServer("new:2", 1).ok());
  absl::Status fenced = coordinator.ServerHeartbeat(report, &response);
  EXPECT_EQ(fenced.code(), absl::StatusCode::kFailedPrecondition) << fenced;
  EXPECT_NE(fenced.message().find("new:2"), std::string::npos) << fenced;
  report.set_address("new:2");
  EXPECT_TRUE(coordinator.ServerHeartbeat(report, &response).ok());
}

TEST_F(DurableCoordinatorTest, CompletionIsRefusedAndNotRecordedUnsaved) {
  Coordinator coordinator(job_, "", kShards);
  coordinator.Restore();
  Train(coordinator, 1);
  std::vector<std::string> servers;
  std::optional<LeaseInfo> held;
  const uint64_t id =
      coordinator.RegisterWorker("h", "trainer", 0, 0, &held, &servers)
          .value_or(0);
  LeaseInfo lease;
  std::string path;
  ASSERT_EQ(coordinator.AcquireShard(id, 0, &lease, &path, &servers).value(),
            LeaseBook::Grant::kLeased);
  // The state folder becomes unwritable (a file in its place).
  std::filesystem::remove_all(job_.checkpoint.dir);
  std::ofstream(job_.checkpoint.dir) << "not a folder";
  absl::Status refused =
      coordinator.CompleteShard(id, lease.lease_id, 10, 1.0, 2);
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_NE(refused.message().find("not saved"), std::string::npos) << refused;
  EXPECT_EQ(coordinator.Status().epochs_status(0).completions(), 1);
  // Once the folder is back, the retry is recorded.
  std::filesystem::remove(job_.checkpoint.dir);
  std::filesystem::create_directory(job_.checkpoint.dir);
  EXPECT_TRUE(coordinator.CompleteShard(id, lease.lease_id, 10, 1.0, 2).ok());
  EXPECT_EQ(coordinator.Status().epochs_status(0).completions(), 2);
}

TEST_F(DurableCoordinatorTest, RollbackDueOnAServerRestartSurvivesACrash) {
  {
    Coordinator first(job_, "", kShards);
    first.Restore();
    Train(first, 2);
    // Shard 0's server restarts: a rollback is due, none has started yet.
    ASSERT_TRUE(first.RegisterServer("ps0:new", 0).ok());
  }
  Coordinator second(job_, "", kShards);
  second.Restore();
  v1::ServerHeartbeatRequest report;
  report.set_shard(1);
  report.set_address("ps1:1");
  v1::ServerHeartbeatResponse response;
  ASSERT_TRUE(second.ServerHeartbeat(report, &response).ok());
  EXPECT_TRUE(response.hold()) << "the restarted coordinator forgot the "
                                  "rollback the server restart made due";
}

}  // namespace
}  // namespace paramd
