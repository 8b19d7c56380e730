#include "server/update_gate.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/config.h"
#include "gtest/gtest.h"
#include "server/shard_store.h"

namespace paramd {
namespace {

using PullState = UpdateGate::PullState;

constexpr int64_t kSize = 4;

// What a pull's callback saw. Thread-safe.
struct PullRecord {
  absl::Mutex mu;
  int calls ABSL_GUARDED_BY(mu) = 0;
  std::optional<PullState> state ABSL_GUARDED_BY(mu);
  std::vector<float> seen ABSL_GUARDED_BY(mu);  // table values at callback

  int Calls() {
    absl::MutexLock lock(&mu);
    return calls;
  }
  std::optional<PullState> State() {
    absl::MutexLock lock(&mu);
    return state;
  }
  std::vector<float> Seen() {
    absl::MutexLock lock(&mu);
    return seen;
  }
};

// One dense table "d" of kSize zeros with sgd at learning rate 1, so the
// table holds minus the sum of everything applied to it.
class UpdateGateTest : public ::testing::Test {
 protected:
  void Make(Consistency consistency, bool average, int staleness = 0) {
    JobConfig job;
    job.name = "gate-test";
    TableConfig table;
    table.name = "d";
    table.shape = {kSize};
    table.optimizer.kind = "sgd";
    table.optimizer.learning_rate = 1.0;
    job.tables.push_back(table);
    absl::StatusOr<std::unique_ptr<ShardStore>> store =
        ShardStore::Create(job, 0, 1);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
    gate_ = std::make_unique<UpdateGate>(store_.get(), consistency, average,
                                         staleness);
    gate_->SetLiveWorkers(kLive);
  }

  // The workers the tests use, as the coordinator would list them.
  const std::set<uint64_t> kLive = {1, 2, 3, 4};

  std::vector<float> Values() {
    Slice slice;
    slice.table = "d";
    slice.offset = 0;
    slice.length = kSize;
    std::vector<float> out(kSize);
    store_->Read(slice, absl::MakeSpan(out));
    return out;
  }

  absl::StatusOr<int64_t> Push(uint64_t worker, int64_t clock,
                               std::vector<float> grad) {
    grads_.push_back(std::move(grad));  // slices only view their values
    Slice slice;
    slice.table = "d";
    slice.offset = 0;
    slice.length = kSize;
    slice.values = grads_.back();
    EXPECT_TRUE(store_->Validate({slice}, true).ok());
    return gate_->Push(worker, generation_, clock, {slice});
  }

  void MustPush(uint64_t worker, int64_t clock, std::vector<float> grad) {
    absl::StatusOr<int64_t> next = Push(worker, clock, std::move(grad));
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(*next, clock + 1);
  }

  std::shared_ptr<PullRecord> Pull(
      uint64_t worker, int64_t clock,
      absl::Time deadline = absl::InfiniteFuture()) {
    auto record = std::make_shared<PullRecord>();
    gate_->WhenReadable(worker, generation_, clock, deadline,
                        [this, record](PullState state) {
                          std::vector<float> values = Values();
                          absl::MutexLock lock(&record->mu);
                          ++record->calls;
                          record->state = state;
                          record->seen = std::move(values);
                        });
    return record;
  }

  // Pulls and expects the callback to have run at once with `expected`.
  void PullNow(uint64_t worker, int64_t clock, PullState expected) {
    std::shared_ptr<PullRecord> record = Pull(worker, clock);
    ASSERT_EQ(record->Calls(), 1)
        << "pull by " << worker << " at " << clock << " did not run at once";
    EXPECT_EQ(record->State(), expected);
  }

  // Every worker pulls `clock` and pushes `grad`.
  void Round(const std::vector<uint64_t>& workers, int64_t clock,
             const std::vector<float>& grad) {
    for (uint64_t w : workers) PullNow(w, clock, PullState::kReady);
    for (uint64_t w : workers) MustPush(w, clock, grad);
  }

  std::unique_ptr<ShardStore> store_;
  std::unique_ptr<UpdateGate> gate_;
  uint64_t generation_ = 0;  // what requests carry
  std::deque<std::vector<float>> grads_;
};

TEST_F(UpdateGateTest, BspMeanAppliesOnceAfterEveryWorkerPushed) {
  Make(Consistency::kBsp, /*average=*/true);
  PullNow(1, 0, PullState::kReady);
  PullNow(2, 0, PullState::kReady);
  EXPECT_EQ(gate_->participants(), (std::vector<uint64_t>{1, 2}));
  MustPush(1, 0, {1, 2, 3, 4});
  EXPECT_EQ(gate_->version(), 0);
  EXPECT_EQ(Values(), std::vector<float>(kSize, 0.0f)) << "applied early";
  MustPush(2, 0, {3, 2, 1, 0});
  EXPECT_EQ(gate_->version(), 1);
  EXPECT_EQ(Values(), std::vector<float>(kSize, -2.0f));
}

TEST_F(UpdateGateTest, BspSumAppliesTheSum) {
  Make(Consistency::kBsp, /*average=*/false);
  PullNow(1, 0, PullState::kReady);
  PullNow(2, 0, PullState::kReady);
  MustPush(1, 0, {1, 2, 3, 4});
  EXPECT_EQ(Values(), std::vector<float>(kSize, 0.0f));
  MustPush(2, 0, {3, 2, 1, 0});
  EXPECT_EQ(gate_->version(), 1);
  EXPECT_EQ(Values(), std::vector<float>(kSize, -4.0f));
}

TEST_F(UpdateGateTest, BspRoundsFollowEachOther) {
  Make(Consistency::kBsp, /*average=*/true);
  Round({1, 2}, 0, {2, 2, 2, 2});
  Round({1, 2}, 1, {4, 4, 4, 4});
  Round({1, 2}, 2, {1, 1, 1, 1});
  EXPECT_EQ(gate_->version(), 3);
  EXPECT_EQ(Values(), std::vector<float>(kSize, -7.0f));
}

TEST_F(UpdateGateTest, PullAheadWaitsForTheRoundToClose) {
  Make(Consistency::kBsp, /*average=*/true);
  PullNow(1, 0, PullState::kReady);
  PullNow(2, 0, PullState::kReady);
  MustPush(1, 0, {2, 2, 2, 2});
  std::shared_ptr<PullRecord> early = Pull(1, 1);
  EXPECT_EQ(early->Calls(), 0) << "pull at clock 1 ran before round 0 closed";
  MustPush(2, 0, {4, 4, 4, 4});
  EXPECT_EQ(early->Calls(), 1);
  EXPECT_EQ(early->State(), PullState::kReady);
  // The deferred pull reads the round's update.
  EXPECT_EQ(early->Seen(), std::vector<float>(kSize, -3.0f));
  // Clock 1 now reads at once.
  PullNow(2, 1, PullState::kReady);
}

TEST_F(UpdateGateTest, RetriedPushIsNotAppliedTwice) {
  Make(Consistency::kBsp, /*average=*/true);
  PullNow(1, 0, PullState::kReady);
  PullNow(2, 0, PullState::kReady);
  MustPush(1, 0, {2, 2, 2, 2});
  // A retry while the round is open neither counts nor closes it.
  MustPush(1, 0, {2, 2, 2, 2});
  EXPECT_EQ(gate_->version(), 0);
  MustPush(2, 0, {4, 4, 4, 4});
  EXPECT_EQ(gate_->version(), 1);
  // Mean over two pushes, not three.
  EXPECT_EQ(Values(), std::vector<float>(kSize, -3.0f));
  // A retry after the round closed changes nothing either.
  MustPush(2, 0, {4, 4, 4, 4});
  MustPush(1, 0, {2, 2, 2, 2});
  EXPECT_EQ(gate_->version(), 1);
  EXPECT_EQ(Values(), std::vector<float>(kSize, -3.0f));
}

TEST_F(UpdateGateTest, LateJoinerIsBehindThenJoinsAtTheVersion) {
  Make(Consistency::kBsp, /*average=*/true);
  Round({1, 2}, 0, {1, 1, 1, 1});
  Round({1, 2}, 1, {1, 1, 1, 1});
  Round({1, 2}, 2, {1, 1, 1, 1});
  ASSERT_EQ(gate_->version(), 3);
  PullNow(3, 0, PullState::kBehind);
  EXPECT_EQ(gate_->participants(), (std::vector<uint64_t>{1, 2}))
      << "a behind pull joined the barrier";
  PullNow(3, 3, PullState::kReady);
  EXPECT_EQ(gate_->participants(), (std::vector<uint64_t>{1, 2, 3}));
  // Round 3 now waits for the newcomer too.
  PullNow(1, 3, PullState::kReady);
  PullNow(2, 3, PullState::kReady);
  MustPush(1, 3, {3, 3, 3, 3});
  MustPush(2, 3, {3, 3, 3, 3});
  EXPECT_EQ(gate_->version(), 3);
  MustPush(3, 3, {0, 0, 0, 0});
  EXPECT_EQ(gate_->version(), 4);
  // -3 from the first rounds, then the mean of three pushes: (3+3+0)/3.
  EXPECT_EQ(Values(), std::vector<float>(kSize, -5.0f));
}

TEST_F(UpdateGateTest, LeaveLetsTheRoundClose) {
  Make(Consistency::kBsp, /*average=*/true);
  PullNow(1, 0, PullState::kReady);
  PullNow(2, 0, PullState::kReady);
  MustPush(1, 0, {2, 4, 6, 8});
  std::shared_ptr<PullRecord> next = Pull(1, 1);
  EXPECT_EQ(next->Calls(), 0);
  ASSERT_TRUE(gate_->Leave(2).ok());
  EXPECT_EQ(gate_->version(), 1);
  EXPECT_EQ(gate_->participants(), (std::vector<uint64_t>{1}));
  // Averaged over the one push that arrived.
  EXPECT_EQ(Values(), (std::vector<float>{-2, -4, -6, -8}));
  EXPECT_EQ(next->Calls(), 1);
  EXPECT_EQ(next->State(), PullState::kReady);
  // The remaining worker goes on alone.
  MustPush(1, 1, {1, 1, 1, 1});
  EXPECT_EQ(gate_->version(), 2);
}

TEST_F(UpdateGateTest, LeaveBeforeAnyPushDoesNotCloseAnEmptyRound) {
  Make(Consistency::kBsp, /*average=*/true);
  PullNow(1, 0, PullState::kReady);
  PullNow(2, 0, PullState::kReady);
  ASSERT_TRUE(gate_->Leave(2).ok());
  ASSERT_TRUE(gate_->Leave(1).ok());
  EXPECT_EQ(gate_->version(), 0);
  EXPECT_TRUE(gate_->participants().empty());
  EXPECT_EQ(Values(), std::vector<float>(kSize, 0.0f));
}

TEST_F(UpdateGateTest, SetLiveWorkersDropsAWorkerThatHasNotPushed) {
  Make(Consistency::kBsp, /*average=*/true);
  PullNow(1, 0, PullState::kReady);
  PullNow(2, 0, PullState::kReady);
  PullNow(3, 0, PullState::kReady);
  MustPush(1, 0, {2, 2, 2, 2});
  gate_->SetLiveWorkers({1, 3});
  EXPECT_EQ(gate_->version(), 0) << "closed while worker 3 is still due";
  EXPECT_EQ(gate_->participants(), (std::vector<uint64_t>{1, 3}));
  gate_->SetLiveWorkers({1});
  EXPECT_EQ(gate_->version(), 1);
  EXPECT_EQ(gate_->participants(), (std::vector<uint64_t>{1}));
  EXPECT_EQ(Values(), std::vector<float>(kSize, -2.0f));

  // The dead worker's stale push is refused and changes nothing.
  absl::StatusOr<int64_t> stale = Push(2, 0, {100, 100, 100, 100});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kUnavailable)
      << stale.status();
  // Listed live again, it is not due: the barrier moved on without it.
  gate_->SetLiveWorkers({1, 2});
  stale = Push(2, 0, {100, 100, 100, 100});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition)
      << stale.status();
  EXPECT_EQ(gate_->version(), 1);
  EXPECT_EQ(Values(), std::vector<float>(kSize, -2.0f));
  // It re-joins by pulling at the version.
  PullNow(2, 0, PullState::kBehind);
  PullNow(2, 1, PullState::kReady);
  EXPECT_EQ(gate_->participants(), (std::vector<uint64_t>{1, 2}));
}

TEST_F(UpdateGateTest, PushFromWorkerNotDueIsRefusedAndChangesNothing) {
  Make(Consistency::kBsp, /*average=*/true);
  PullNow(1, 0, PullState::kReady);
  // Worker 4 is live but never pulled: it is not in the barrier.
  absl::StatusOr<int64_t> stranger = Push(4, 0, {50, 50, 50, 50});
  ASSERT_FALSE(stranger.ok());
  EXPECT_EQ(stranger.status().code(), absl::StatusCode::kFailedPrecondition)
      << stranger.status();
  // Worker 1 pushes the wrong clock.
  absl::StatusOr<int64_t> wrong = Push(1, 5, {50, 50, 50, 50});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition)
      << wrong.status();
  EXPECT_EQ(gate_->version(), 0);
  EXPECT_EQ(Values(), std::vector<float>(kSize, 0.0f));
  EXPECT_EQ(gate_->participants(), (std::vector<uint64_t>{1}));
  // The refused gradients were not buffered: the round is worker 1's alone.
  MustPush(1, 0, {2, 2, 2, 2});
  EXPECT_EQ(gate_->version(), 1);
  EXPECT_EQ(Values(), std::vector<float>(kSize, -2.0f));
}

TEST_F(UpdateGateTest, ExpireWaitersTimesOutOnlyPastTheirDeadline) {
  Make(Consistency::kBsp, /*average=*/true);
  const absl::Time t0 = absl::FromUnixSeconds(1000000);
  PullNow(1, 0, PullState::kReady);
  PullNow(2, 0, PullState::kReady);
  PullNow(3, 0, PullState::kReady);
  MustPush(1, 0, {2, 2, 2, 2});
  MustPush(3, 0, {2, 2, 2, 2});
  std::shared_ptr<PullRecord> soon = Pull(1, 1, t0 + absl::Seconds(1));
  std::shared_ptr<PullRecord> later = Pull(3, 1, t0 + absl::Seconds(10));
  gate_->ExpireWaiters(t0);
  EXPECT_EQ(soon->Calls(), 0);
  EXPECT_EQ(later->Calls(), 0);
  gate_->ExpireWaiters(t0 + absl::Seconds(1));
  EXPECT_EQ(soon->Calls(), 1);
  EXPECT_EQ(soon->State(), PullState::kTimedOut);
  EXPECT_EQ(later->Calls(), 0);
  // The round closing later runs the surviving waiter only.
  MustPush(2, 0, {2, 2, 2, 2});
  EXPECT_EQ(soon->Calls(), 1);
  EXPECT_EQ(soon->State(), PullState::kTimedOut);
  EXPECT_EQ(later->Calls(), 1);
  EXPECT_EQ(later->State(), PullState::kReady);
  gate_->ExpireWaiters(t0 + absl::Hours(1));
  EXPECT_EQ(later->Calls(), 1);
}

TEST_F(UpdateGateTest, AspAppliesEachPushAtOnceAndPullsNeverWait) {
  Make(Consistency::kAsp, /*average=*/true);
  MustPush(1, 0, {1, 2, 3, 4});
  EXPECT_EQ(gate_->version(), 1);
  EXPECT_EQ(Values(), (std::vector<float>{-1, -2, -3, -4}));
  // Not averaged: every push lands in full, whatever its clock.
  MustPush(2, 7, {1, 1, 1, 1});
  EXPECT_EQ(gate_->version(), 2);
  EXPECT_EQ(Values(), (std::vector<float>{-2, -3, -4, -5}));
  // A retried push is acknowledged and not applied again.
  MustPush(1, 0, {1, 2, 3, 4});
  EXPECT_EQ(gate_->version(), 2);
  EXPECT_EQ(Values(), (std::vector<float>{-2, -3, -4, -5}));
  // Pulls at any clock run at once and join nothing.
  PullNow(1, 100, PullState::kReady);
  PullNow(3, 0, PullState::kReady);
  PullNow(4, -1, PullState::kReady);
  EXPECT_TRUE(gate_->participants().empty());
}

// A client with several pushes in flight: they arrive in any order, some
// twice (retried), and each distinct clock applies exactly once.
TEST_F(UpdateGateTest, AspPipelinedPushesApplyOnceWhateverTheOrder) {
  Make(Consistency::kAsp, /*average=*/false);
  const std::vector<int64_t> arrivals = {1, 0, 3, 2,  2,  7,  5,  6,  4,  0,
                                         9, 8, 5, 11, 10, 12, 15, 13, 14, 15};
  for (int64_t clock : arrivals) MustPush(1, clock, {1, 1, 1, 1});
  // Clocks 0 to 15, each once.
  EXPECT_EQ(gate_->version(), 16);
  EXPECT_EQ(Values(), std::vector<float>(kSize, -16.0f));
}

// A push overtaken by more than AppliedClocks::kMaxAhead later ones is
// refused, not acknowledged unapplied; the others stand.
TEST_F(UpdateGateTest, AspPushOvertakenTooFarIsRefusedAndChangesNothing) {
  Make(Consistency::kAsp, /*average=*/false);
  const int64_t later = AppliedClocks::kMaxAhead + 1;
  for (int64_t clock = 1; clock <= later; ++clock) {
    MustPush(1, clock, {1, 1, 1, 1});
  }
  absl::StatusOr<int64_t> late = Push(1, 0, {1, 1, 1, 1});
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition)
      << late.status();
  EXPECT_EQ(gate_->version(), later);
  EXPECT_EQ(Values(), std::vector<float>(kSize, -static_cast<float>(later)));
  // A retry of one applied is still acknowledged, once.
  MustPush(1, later, {1, 1, 1, 1});
  EXPECT_EQ(gate_->version(), later);
}

TEST_F(UpdateGateTest, NegativeClockNeverWaitsOrJoins) {
  Make(Consistency::kBsp, /*average=*/true);
  PullNow(7, -1, PullState::kReady);
  EXPECT_TRUE(gate_->participants().empty());
  PullNow(1, 0, PullState::kReady);
  MustPush(1, 0, {2, 2, 2, 2});
  // Round 0 closed with worker 1 alone: the -1 reader was never due.
  EXPECT_EQ(gate_->version(), 1);
  PullNow(1, 1, PullState::kReady);
  PullNow(2, 1, PullState::kReady);
  MustPush(1, 1, {2, 2, 2, 2});
  // Mid-round, a -1 reader reads at once, before the round closes.
  std::shared_ptr<PullRecord> reader = Pull(7, -1);
  EXPECT_EQ(reader->Calls(), 1);
  EXPECT_EQ(reader->State(), PullState::kReady);
  EXPECT_EQ(reader->Seen(), std::vector<float>(kSize, -2.0f));
  EXPECT_EQ(gate_->participants(), (std::vector<uint64_t>{1, 2}));
  MustPush(2, 1, {2, 2, 2, 2});
  EXPECT_EQ(gate_->version(), 2);
  // Long after, a -1 reader is still not told it is behind.
  PullNow(7, -1, PullState::kReady);
}

// Four workers run rounds from their own threads, waiting on the gate's
// callbacks: every round applies the mean exactly once.
TEST_F(UpdateGateTest, ConcurrentWorkersRunLockstepRounds) {
  Make(Consistency::kBsp, /*average=*/true);
  constexpr int kWorkers = 4;
  constexpr int kRounds = 25;
  for (uint64_t w = 1; w <= kWorkers; ++w) PullNow(w, 0, PullState::kReady);
  auto worker_loop = [this](uint64_t w) {
    // Worker w pushes w everywhere: the mean of a round is 2.5.
    const std::vector<float> grad(kSize, static_cast<float>(w));
    Slice slice;
    slice.table = "d";
    slice.offset = 0;
    slice.length = kSize;
    slice.values = grad;
    for (int64_t clock = 0; clock < kRounds; ++clock) {
      absl::StatusOr<int64_t> next = gate_->Push(w, 0, clock, {slice});
      ASSERT_TRUE(next.ok()) << next.status();
      ASSERT_EQ(*next, clock + 1);
      auto done = std::make_shared<absl::Notification>();
      auto state = std::make_shared<std::optional<PullState>>();
      gate_->WhenReadable(w, 0, clock + 1, absl::InfiniteFuture(),
                          [done, state](PullState s) {
                            *state = s;
                            done->Notify();
                          });
      ASSERT_TRUE(done->WaitForNotificationWithTimeout(absl::Seconds(30)))
          << "worker " << w << " stuck at clock " << clock + 1;
      ASSERT_EQ(*state, PullState::kReady);
    }
  };
  std::vector<std::thread> threads;
  for (uint64_t w = 1; w <= kWorkers; ++w) {
    threads.emplace_back(worker_loop, w);
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(gate_->version(), kRounds);
  EXPECT_EQ(Values(), std::vector<float>(kSize, -2.5f * kRounds));
}

TEST_F(UpdateGateTest, SspLetsAWorkerRunAtMostStalenessAhead) {
  Make(Consistency::kSsp, /*average=*/true, /*staleness=*/2);
  PullNow(1, 0, PullState::kReady);
  PullNow(2, 0, PullState::kReady);
  // Worker 1 races ahead while worker 2 stays at clock 0.
  for (int64_t c = 0; c < 2; ++c) {
    MustPush(1, c, {1, 1, 1, 1});
    PullNow(1, c + 1, PullState::kReady);
  }
  EXPECT_EQ(Values(), std::vector<float>(kSize, -2.0f)) << "applied at once";
  MustPush(1, 2, {1, 1, 1, 1});
  std::shared_ptr<PullRecord> blocked = Pull(1, 3);
  EXPECT_EQ(blocked->Calls(), 0) << "clock 3 is 3 ahead of the slowest (0)";
  EXPECT_EQ(gate_->version(), 0);
  MustPush(2, 0, {0, 0, 0, 0});
  EXPECT_EQ(gate_->version(), 1);
  EXPECT_EQ(blocked->Calls(), 1);
  EXPECT_EQ(blocked->State(), PullState::kReady);
  EXPECT_EQ(gate_->max_lead(), 2);
}

TEST_F(UpdateGateTest, SspBarrierShrinksWhenTheSlowestDies) {
  Make(Consistency::kSsp, /*average=*/true, /*staleness=*/1);
  PullNow(1, 0, PullState::kReady);
  PullNow(2, 0, PullState::kReady);
  MustPush(1, 0, {1, 1, 1, 1});
  PullNow(1, 1, PullState::kReady);
  MustPush(1, 1, {1, 1, 1, 1});
  std::shared_ptr<PullRecord> blocked = Pull(1, 2);
  EXPECT_EQ(blocked->Calls(), 0);
  gate_->SetLiveWorkers({1});
  EXPECT_EQ(blocked->Calls(), 1);
  EXPECT_EQ(gate_->version(), 2);
  // The dead worker coming back is behind and must catch up.
  gate_->SetLiveWorkers({1, 2});
  PullNow(2, 0, PullState::kBehind);
  PullNow(2, 2, PullState::kReady);
  EXPECT_EQ(gate_->participants(), (std::vector<uint64_t>{1, 2}));
}

TEST_F(UpdateGateTest, SspWorkerRejoiningAtAnEarlierClockIsApplied) {
  Make(Consistency::kSsp, /*average=*/true, /*staleness=*/5);
  PullNow(1, 0, PullState::kReady);
  PullNow(2, 0, PullState::kReady);
  for (int64_t c = 0; c < 3; ++c) {
    MustPush(1, c, {1, 1, 1, 1});
    PullNow(1, c + 1, PullState::kReady);
  }
  ASSERT_TRUE(
      gate_->Leave(1)
          .ok());  // no shard for a while; worker 2 is the slowest, at 0
  PullNow(1, 3, PullState::kBehind);
  PullNow(1, 0, PullState::kReady);
  MustPush(1, 0, {1, 1, 1, 1});
  EXPECT_EQ(Values(), std::vector<float>(kSize, -4.0f))
      << "the push after rejoining is not taken for a repeat";
}

TEST_F(UpdateGateTest, SspPushOfAWorkerNotInTheBarrierIsRefused) {
  Make(Consistency::kSsp, /*average=*/true, /*staleness=*/1);
  absl::StatusOr<int64_t> next = Push(4, 0, {1, 1, 1, 1});
  EXPECT_EQ(next.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Values(), std::vector<float>(kSize, 0.0f));
}

TEST_F(UpdateGateTest, RequestsOfAnotherGenerationAreAborted) {
  Make(Consistency::kBsp, /*average=*/true);
  Round({1}, 0, {1, 1, 1, 1});
  ASSERT_TRUE(gate_->Reset(3, 0, [] { return absl::OkStatus(); }).ok());
  EXPECT_EQ(gate_->generation(), 3u);
  PullNow(1, 1, PullState::kAborted);  // still at generation 0
  absl::StatusOr<int64_t> stale = Push(1, 1, {1, 1, 1, 1});
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted)
      << stale.status();
  generation_ = 3;
  PullNow(1, 1, PullState::kBehind);  // re-syncs to version 0
  Round({1}, 0, {2, 2, 2, 2});
  EXPECT_EQ(gate_->version(), 1);
  // A read at a negative clock (evaluators) skips the check.
  generation_ = 1;
  PullNow(9, -1, PullState::kReady);
}

TEST_F(UpdateGateTest, ResetAbortsWaitersAndForgetsTheBarrier) {
  Make(Consistency::kBsp, /*average=*/true);
  Round({1, 2}, 0, {1, 1, 1, 1});
  std::shared_ptr<PullRecord> waiting = Pull(1, 2);
  EXPECT_EQ(waiting->Calls(), 0);
  bool restored = false;
  ASSERT_TRUE(gate_
                  ->Reset(1, 7,
                          [&] {
                            restored = true;
                            return absl::OkStatus();
                          })
                  .ok());
  EXPECT_TRUE(restored);
  EXPECT_EQ(waiting->State(), PullState::kAborted);
  EXPECT_EQ(gate_->version(), 7);
  EXPECT_TRUE(gate_->participants().empty());
  // A failed restore changes nothing.
  absl::Status failed =
      gate_->Reset(2, 9, [] { return absl::DataLossError("bad file"); });
  EXPECT_EQ(failed.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(gate_->generation(), 1u);
  EXPECT_EQ(gate_->version(), 7);
}

TEST_F(UpdateGateTest, BspSnapshotIsTakenExactlyAtItsVersion) {
  Make(Consistency::kBsp, /*average=*/false);
  std::vector<std::pair<int64_t, std::vector<float>>> taken;
  auto take = [&](int64_t version) { taken.emplace_back(version, Values()); };
  EXPECT_TRUE(gate_->SnapshotAt(2, take));
  Round({1, 2}, 0, {1, 1, 1, 1});
  EXPECT_TRUE(taken.empty());
  PullNow(1, 1, PullState::kReady);
  PullNow(2, 1, PullState::kReady);
  MustPush(1, 1, {1, 1, 1, 1});
  EXPECT_TRUE(taken.empty()) << "round 1 is still open";
  MustPush(2, 1, {1, 1, 1, 1});
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].first, 2);
  EXPECT_EQ(taken[0].second, std::vector<float>(kSize, -4.0f));
  Round({1, 2}, 2, {1, 1, 1, 1});
  EXPECT_EQ(taken.size(), 1u) << "taken once";
  // At the current version it is taken now; a past one is refused.
  EXPECT_TRUE(gate_->SnapshotAt(3, take));
  EXPECT_EQ(taken.size(), 2u);
  EXPECT_FALSE(gate_->SnapshotAt(1, take));
  EXPECT_EQ(taken.size(), 2u);
}

TEST_F(UpdateGateTest, AspSnapshotIsTakenAtOnce) {
  Make(Consistency::kAsp, /*average=*/true);
  MustPush(1, 0, {1, 1, 1, 1});
  int64_t at = -1;
  EXPECT_TRUE(gate_->SnapshotAt(100, [&](int64_t v) { at = v; }));
  EXPECT_EQ(at, 1);
}

TEST_F(UpdateGateTest, WorkersNotListedLiveCannotPushPullOrLeave) {
  Make(Consistency::kBsp, /*average=*/false);
  PullNow(1, 0, PullState::kReady);
  PullNow(9, 0, PullState::kNotLive);
  absl::StatusOr<int64_t> forged = Push(9, 0, {5, 5, 5, 5});
  EXPECT_EQ(forged.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(forged.status().message().find("worker_id: 9"), std::string::npos)
      << forged.status();
  EXPECT_TRUE(gate_->Leave(9).ok());  // not in the barrier: a no-op
  EXPECT_EQ(gate_->participants(), (std::vector<uint64_t>{1}));
  EXPECT_EQ(Values(), std::vector<float>(kSize, 0.0f));
  // A read at a negative clock (evaluators, exports) is anyone's.
  PullNow(9, -1, PullState::kReady);
}

TEST_F(UpdateGateTest, AspWorkerStartingOverUnderTheSameIdIsApplied) {
  Make(Consistency::kAsp, /*average=*/false);
  for (int64_t c = 0; c < 3; ++c) {
    PullNow(1, c, PullState::kReady);
    MustPush(1, c, {1, 1, 1, 1});
  }
  MustPush(1, 2, {1, 1, 1, 1});  // a retry: applied once
  EXPECT_EQ(Values(), std::vector<float>(kSize, -3.0f));
  // A new process given id 1 (a coordinator restarted without its state)
  // starts at clock 0: its pushes count.
  PullNow(1, 0, PullState::kReady);
  MustPush(1, 0, {1, 1, 1, 1});
  EXPECT_EQ(Values(), std::vector<float>(kSize, -4.0f));
}

TEST_F(UpdateGateTest, BspSumThatOverflowsLeavesTheValuesAndIsCounted) {
  Make(Consistency::kBsp, /*average=*/false);
  PullNow(1, 0, PullState::kReady);
  PullNow(2, 0, PullState::kReady);
  const float big = 3e38f;  // finite; twice it is not
  MustPush(1, 0, {big, 1, 1, 1});
  MustPush(2, 0, {big, 1, 1, 1});
  EXPECT_EQ(gate_->version(), 1);
  EXPECT_EQ(Values(), (std::vector<float>{0, -2, -2, -2}));
  EXPECT_EQ(store_->Refused(), 1);
}

TEST_F(UpdateGateTest, AddLiveWorkersKeepsTheOthers) {
  Make(Consistency::kBsp, /*average=*/false);
  gate_->SetLiveWorkers({});
  PullNow(1, 0, PullState::kNotLive);
  gate_->AddLiveWorkers({1});
  gate_->AddLiveWorkers({2});
  PullNow(1, 0, PullState::kReady);
  PullNow(2, 0, PullState::kReady);
  EXPECT_EQ(gate_->participants(), (std::vector<uint64_t>{1, 2}));
}

}  // namespace
}  // namespace paramd
