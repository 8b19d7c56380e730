#include "server/lease_book.h"

#include <cstdint>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

using Grant = LeaseBook::Grant;

const absl::Duration kTimeout = absl::Seconds(10);

absl::Time T(double seconds) {
  return absl::FromUnixSeconds(1700000000) + absl::Seconds(seconds);
}

// Acquires and expects a lease.
LeaseInfo MustAcquire(LeaseBook& book, uint64_t worker, absl::Time now) {
  LeaseInfo lease;
  EXPECT_EQ(book.Acquire(worker, now, &lease), Grant::kLeased)
      << "worker " << worker;
  EXPECT_EQ(lease.worker_id, worker);
  return lease;
}

// Complete and Fail as the coordinator does them: Prepare, then Commit.
absl::Status Finish(LeaseBook& book, uint64_t worker, uint64_t lease_id,
                    paramd::v1::Completion done, absl::Time now) {
  absl::StatusOr<paramd::v1::Completion> prepared =
      book.Prepare(worker, lease_id, std::move(done), now);
  if (!prepared.ok()) return prepared.status();
  book.Commit(lease_id, *prepared);
  return absl::OkStatus();
}

absl::Status Complete(LeaseBook& book, uint64_t worker, uint64_t lease_id,
                      uint64_t examples, double loss_sum, int64_t clock,
                      absl::Time now) {
  return Finish(book, worker, lease_id,
                LeaseBook::Completed(examples, loss_sum, clock), now);
}

absl::Status Fail(LeaseBook& book, uint64_t worker, uint64_t lease_id,
                  const std::string& error, absl::Time now) {
  return Finish(book, worker, lease_id, LeaseBook::Failed(error), now);
}

TEST(LeaseBookTest, HandsOutShardsInOrderToAlternatingWorkers) {
  LeaseBook book(4, 1, kTimeout);
  std::vector<int32_t> shards;
  std::set<uint64_t> ids;
  for (int i = 0; i < 4; ++i) {
    const uint64_t worker = 1 + i % 2;
    const LeaseInfo lease = MustAcquire(book, worker, T(i));
    EXPECT_EQ(lease.epoch, 0);
    EXPECT_EQ(lease.deadline, T(i) + kTimeout);
    shards.push_back(lease.shard);
    ids.insert(lease.lease_id);
  }
  EXPECT_EQ(shards, (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(ids.size(), 4u) << "lease ids must be unique";
  ASSERT_EQ(book.leases().size(), 4u);
  for (const auto& [id, lease] : book.leases()) {
    EXPECT_EQ(id, lease.lease_id);
    EXPECT_EQ(lease.worker_id, 1 + static_cast<uint64_t>(lease.shard) % 2);
  }
}

TEST(LeaseBookTest, WaitsWhenEveryShardIsLeased) {
  LeaseBook book(2, 1, kTimeout);
  MustAcquire(book, 1, T(0));
  MustAcquire(book, 2, T(0));
  LeaseInfo lease;
  EXPECT_EQ(book.Acquire(3, T(1), &lease), Grant::kWait);
  EXPECT_EQ(book.Acquire(1, T(9.9), &lease), Grant::kWait);
  EXPECT_EQ(book.leases().size(), 2u);
  EXPECT_FALSE(book.done());
}

TEST(LeaseBookTest, ExpiredLeaseGoesToTheFrontOfTheQueue) {
  LeaseBook book(4, 1, kTimeout);
  const LeaseInfo first = MustAcquire(book, 1, T(0));   // shard 0
  const LeaseInfo second = MustAcquire(book, 2, T(5));  // shard 1
  ASSERT_EQ(first.shard, 0);
  ASSERT_EQ(second.shard, 1);
  // At T(10) the first lease's deadline has come; the second's has not.
  const LeaseInfo retry = MustAcquire(book, 3, T(10));
  EXPECT_EQ(retry.shard, 0) << "the expired shard comes before shard 2";
  EXPECT_NE(retry.lease_id, first.lease_id);
  EXPECT_EQ(book.expired(), 1);
  EXPECT_EQ(book.leases().count(first.lease_id), 0u);
  EXPECT_EQ(book.leases().count(second.lease_id), 1u);
  EXPECT_EQ(MustAcquire(book, 2, T(10)).shard, 2);
}

TEST(LeaseBookTest, ExpireReturnsHowManyAndRequeuesThem) {
  LeaseBook book(3, 1, kTimeout);
  MustAcquire(book, 1, T(0));
  MustAcquire(book, 2, T(0));
  MustAcquire(book, 3, T(0));
  EXPECT_EQ(book.Expire(T(9)), 0);
  EXPECT_EQ(book.leases().size(), 3u);
  EXPECT_EQ(book.Expire(T(10)), 3);
  EXPECT_EQ(book.expired(), 3);
  EXPECT_TRUE(book.leases().empty());
  std::set<int32_t> again;
  for (uint64_t w = 4; w <= 6; ++w)
    again.insert(MustAcquire(book, w, T(11)).shard);
  EXPECT_EQ(again, (std::set<int32_t>{0, 1, 2}));
}

TEST(LeaseBookTest, RenewExtendsTheWorkersLeases) {
  LeaseBook book(3, 1, kTimeout);
  const LeaseInfo a = MustAcquire(book, 1, T(0));
  const LeaseInfo b = MustAcquire(book, 1, T(0));
  const LeaseInfo other = MustAcquire(book, 2, T(0));
  book.Renew(1, {a.lease_id, b.lease_id, other.lease_id}, T(8));
  EXPECT_EQ(book.leases().at(a.lease_id).deadline, T(18));
  EXPECT_EQ(book.leases().at(b.lease_id).deadline, T(18));
  EXPECT_EQ(book.leases().at(other.lease_id).deadline, T(10));
  // At T(15) only worker 2's lease has expired.
  EXPECT_EQ(book.Expire(T(15)), 1);
  EXPECT_EQ(book.leases().count(a.lease_id), 1u);
  EXPECT_EQ(book.leases().count(other.lease_id), 0u);
  EXPECT_TRUE(Complete(book, 1, a.lease_id, 10, 1.0, /*clock=*/0, T(15)).ok());
  EXPECT_EQ(book.ledger()[0].completions[a.shard], 1);
}

// Prepare says what Complete would record and records nothing; Commit
// records it: the coordinator saves a completion in between.
TEST(LeaseBookTest, PrepareRecordsNothingUntilCommit) {
  LeaseBook book(2, 1, kTimeout);
  const LeaseInfo lease = MustAcquire(book, 1, T(0));
  absl::StatusOr<paramd::v1::Completion> done = book.Prepare(
      1, lease.lease_id, LeaseBook::Completed(10, 2.0, /*clock=*/4), T(1));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->shard(), lease.shard);
  EXPECT_EQ(done->epoch(), 0);
  EXPECT_EQ(done->worker_id(), 1u);
  EXPECT_EQ(done->examples(), 10u);
  EXPECT_EQ(done->clock(), 4);
  EXPECT_TRUE(book.log().empty());
  EXPECT_EQ(book.leases().count(lease.lease_id), 1u);
  // Not the worker's lease: refused.
  EXPECT_EQ(book.Prepare(2, lease.lease_id, LeaseBook::Failed(""), T(1))
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  book.Commit(lease.lease_id, *done);
  EXPECT_EQ(book.log().size(), 1u);
  EXPECT_EQ(book.leases().count(lease.lease_id), 0u);
  EXPECT_EQ(book.ledger()[0].shards_done, 1);
  EXPECT_EQ(LeaseBook::Failed("").error(), "unreadable");
}

TEST(LeaseBookTest, RenewSkipsALeaseTheWorkerDoesNotKnowOf) {
  LeaseBook book(2, 1, kTimeout);
  const LeaseInfo known = MustAcquire(book, 1, T(0));
  // Granted, but the reply was lost: the worker never lists it.
  const LeaseInfo lost = MustAcquire(book, 1, T(0));
  for (int t = 5; t <= 10; t += 5) book.Renew(1, {known.lease_id}, T(t));
  EXPECT_EQ(book.Expire(T(11)), 1);
  EXPECT_EQ(book.leases().count(known.lease_id), 1u);
  EXPECT_EQ(book.leases().count(lost.lease_id), 0u);
  // Its shard goes to the next worker that asks.
  EXPECT_EQ(MustAcquire(book, 2, T(11)).shard, lost.shard);
}

TEST(LeaseBookTest, RenewDoesNotReviveAnOverdueLease) {
  LeaseBook book(1, 1, kTimeout);
  const LeaseInfo lease = MustAcquire(book, 1, T(0));
  book.Renew(1, {lease.lease_id}, T(11));  // too late: the deadline was T(10)
  absl::Status status =
      Complete(book, 1, lease.lease_id, 5, 1.0, /*clock=*/0, T(11));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(book.ledger()[0].completions[0], 0);
}

TEST(LeaseBookTest, CompletingAnExpiredLeaseFailsAndIsNotCounted) {
  LeaseBook book(2, 1, kTimeout);
  const LeaseInfo stale = MustAcquire(book, 1, T(0));
  // Worker 1 hangs; its shard goes to worker 2.
  const LeaseInfo fresh = MustAcquire(book, 2, T(12));
  ASSERT_EQ(fresh.shard, stale.shard);
  absl::Status late =
      Complete(book, 1, stale.lease_id, 100, 50.0, /*clock=*/0, T(13));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition) << late;
  EXPECT_EQ(book.ledger()[0].completions[stale.shard], 0);
  EXPECT_EQ(book.ledger()[0].shards_done, 0);
  EXPECT_EQ(book.ledger()[0].examples, 0u);
  EXPECT_DOUBLE_EQ(book.ledger()[0].loss_sum, 0.0);
  // The new holder's completion counts once.
  ASSERT_TRUE(
      Complete(book, 2, fresh.lease_id, 7, 3.5, /*clock=*/0, T(14)).ok());
  EXPECT_EQ(book.ledger()[0].completions[stale.shard], 1);
  EXPECT_EQ(book.ledger()[0].examples, 7u);
  EXPECT_DOUBLE_EQ(book.ledger()[0].loss_sum, 3.5);
}

TEST(LeaseBookTest, CompleteExpiresOverdueLeaseEvenWithoutAcquire) {
  LeaseBook book(1, 1, kTimeout);
  const LeaseInfo lease = MustAcquire(book, 1, T(0));
  absl::Status status =
      Complete(book, 1, lease.lease_id, 1, 0.0, /*clock=*/0, T(10));
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_EQ(book.ledger()[0].shards_done, 0);
  EXPECT_EQ(book.expired(), 1);
}

TEST(LeaseBookTest, CompleteRejectsAnotherWorkersLeaseAndDoubleCompletion) {
  LeaseBook book(2, 1, kTimeout);
  const LeaseInfo lease = MustAcquire(book, 1, T(0));
  EXPECT_EQ(Complete(book, 2, lease.lease_id, 1, 0, /*clock=*/0, T(1)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Complete(book, 1, 999, 1, 0, /*clock=*/0, T(1)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(book.leases().count(lease.lease_id), 1u) << "lease was dropped";
  ASSERT_TRUE(Complete(book, 1, lease.lease_id, 1, 0, /*clock=*/0, T(1)).ok());
  EXPECT_EQ(Complete(book, 1, lease.lease_id, 1, 0, /*clock=*/0, T(1)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(book.ledger()[0].completions[lease.shard], 1);
  EXPECT_EQ(book.ledger()[0].examples, 1u);
}

TEST(LeaseBookTest, EpochsAdvanceAndEndInDone) {
  LeaseBook book(2, 2, kTimeout);
  EXPECT_EQ(book.epochs(), 2);
  EXPECT_EQ(book.num_shards(), 2);
  for (int32_t epoch = 0; epoch < 2; ++epoch) {
    EXPECT_EQ(book.epoch(), epoch);
    EXPECT_FALSE(book.done());
    const LeaseInfo a = MustAcquire(book, 1, T(epoch));
    const LeaseInfo b = MustAcquire(book, 2, T(epoch));
    EXPECT_EQ(a.epoch, epoch);
    EXPECT_EQ(b.epoch, epoch);
    EXPECT_EQ(a.shard, 0);
    EXPECT_EQ(b.shard, 1);
    ASSERT_TRUE(
        Complete(book, 2, b.lease_id, 10, 2.0, /*clock=*/0, T(epoch)).ok());
    EXPECT_EQ(book.epoch(), epoch) << "advanced with a shard outstanding";
    ASSERT_TRUE(
        Complete(book, 1, a.lease_id, 20, 4.0, /*clock=*/0, T(epoch)).ok());
  }
  EXPECT_EQ(book.epoch(), 2);
  EXPECT_TRUE(book.done());
  LeaseInfo lease;
  EXPECT_EQ(book.Acquire(1, T(5), &lease), Grant::kDone);
  EXPECT_EQ(book.Acquire(2, T(6), &lease), Grant::kDone);
  ASSERT_EQ(book.ledger().size(), 2u);
  for (const EpochLedger& ledger : book.ledger()) {
    EXPECT_EQ(ledger.completions, (std::vector<int32_t>{1, 1}));
    EXPECT_EQ(ledger.shards_done, 2);
    EXPECT_EQ(ledger.examples, 30u);
    EXPECT_DOUBLE_EQ(ledger.loss_sum, 6.0);
  }
}

TEST(LeaseBookTest, WaitThenNextEpochOnceTheLastShardCompletes) {
  LeaseBook book(1, 2, kTimeout);
  const LeaseInfo lease = MustAcquire(book, 1, T(0));
  LeaseInfo none;
  EXPECT_EQ(book.Acquire(2, T(1), &none), Grant::kWait);
  ASSERT_TRUE(Complete(book, 1, lease.lease_id, 1, 0, /*clock=*/0, T(2)).ok());
  const LeaseInfo next = MustAcquire(book, 2, T(3));
  EXPECT_EQ(next.epoch, 1);
  EXPECT_EQ(next.shard, 0);
}

TEST(LeaseBookTest, ZeroEpochsIsDoneAtOnce) {
  LeaseBook book(3, 0, kTimeout);
  EXPECT_TRUE(book.done());
  LeaseInfo lease;
  EXPECT_EQ(book.Acquire(1, T(0), &lease), Grant::kDone);
}

// Workers that die or hang mid-shard: each shard is still completed exactly
// once per epoch, and every epoch is finished.
TEST(LeaseBookTest, EveryShardCompletesExactlyOncePerEpochDespiteExpiries) {
  constexpr int32_t kShards = 5;
  constexpr int32_t kEpochs = 3;
  LeaseBook book(kShards, kEpochs, kTimeout);
  double now = 0;
  int acquisitions = 0;
  int refused = 0;
  while (!book.done()) {
    ASSERT_LT(acquisitions, 1000) << "no progress";
    const uint64_t worker = 1 + acquisitions % 3;
    LeaseInfo lease;
    const Grant grant = book.Acquire(worker, T(now), &lease);
    if (grant == Grant::kWait) {
      now += 1;
      continue;
    }
    ASSERT_EQ(grant, Grant::kLeased);
    ++acquisitions;
    if (acquisitions % 3 == 0) {
      // This worker hangs past its deadline; its late completion is refused.
      now += 11;
      EXPECT_FALSE(
          Complete(book, worker, lease.lease_id, 1, 1, /*clock=*/0, T(now))
              .ok());
      ++refused;
      continue;
    }
    now += 1;
    ASSERT_TRUE(
        Complete(book, worker, lease.lease_id, 1, 1, /*clock=*/0, T(now)).ok());
  }
  EXPECT_GT(refused, 0);
  EXPECT_EQ(book.expired(), refused);
  ASSERT_EQ(book.ledger().size(), static_cast<size_t>(kEpochs));
  for (const EpochLedger& ledger : book.ledger()) {
    EXPECT_EQ(ledger.completions, std::vector<int32_t>(kShards, 1));
    EXPECT_EQ(ledger.shards_done, kShards);
    EXPECT_EQ(ledger.examples, static_cast<uint64_t>(kShards));
  }
  EXPECT_EQ(acquisitions, kShards * kEpochs + refused);
}

TEST(LeaseBookTest, ReleaseReturnsADeadWorkersLeases) {
  LeaseBook book(4, 1, kTimeout);
  const LeaseInfo a = MustAcquire(book, 1, T(0));  // shard 0
  MustAcquire(book, 2, T(0));                      // shard 1
  const LeaseInfo c = MustAcquire(book, 1, T(0));  // shard 2
  book.Release(1);
  EXPECT_EQ(book.leases().size(), 1u);
  EXPECT_EQ(book.leases().count(a.lease_id), 0u);
  EXPECT_EQ(book.leases().count(c.lease_id), 0u);
  // The released shards come back before shard 3.
  std::set<int32_t> back = {MustAcquire(book, 2, T(1)).shard,
                            MustAcquire(book, 3, T(1)).shard};
  EXPECT_EQ(back, (std::set<int32_t>{0, 2}));
  EXPECT_EQ(MustAcquire(book, 3, T(1)).shard, 3);
  // The dead worker's old lease can no longer complete.
  EXPECT_EQ(Complete(book, 1, a.lease_id, 1, 0, /*clock=*/0, T(2)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(book.ledger()[0].completions[0], 0);
}

TEST(LeaseBookTest, ReleaseOfAWorkerWithoutLeasesChangesNothing) {
  LeaseBook book(2, 1, kTimeout);
  const LeaseInfo lease = MustAcquire(book, 1, T(0));
  book.Release(7);
  EXPECT_EQ(book.leases().size(), 1u);
  EXPECT_EQ(book.leases().count(lease.lease_id), 1u);
  EXPECT_EQ(MustAcquire(book, 2, T(0)).shard, 1);
}

TEST(LeaseBookTest, RebuildFromTheLogRestoresEpochLedgerAndQueue) {
  LeaseBook book(3, 2, kTimeout);
  for (int i = 0; i < 4; ++i) {
    const LeaseInfo lease = MustAcquire(book, 1, T(i));
    ASSERT_TRUE(Complete(book, 1, lease.lease_id, 10, 5.0, 100 + i, T(i)).ok());
  }
  const LeaseInfo open = MustAcquire(book, 2, T(5));  // epoch 2, shard 1
  ASSERT_EQ(book.log().size(), 4u);
  EXPECT_EQ(book.log()[3].clock(), 103);

  LeaseBook restored(3, 2, kTimeout);
  ASSERT_TRUE(restored.Rebuild(book.log()).ok());
  EXPECT_EQ(restored.epoch(), 1);
  EXPECT_EQ(restored.ledger()[0].shards_done, 3);
  EXPECT_EQ(restored.ledger()[1].shards_done, 1);
  EXPECT_EQ(restored.ledger()[1].examples, 10u);
  EXPECT_TRUE(restored.leases().empty());
  // The open shard is queued again, next in line.
  EXPECT_EQ(MustAcquire(restored, 3, T(6)).shard, open.shard);

  // Keeping only a prefix undoes the rest (a rollback).
  ASSERT_TRUE(book.Rebuild({book.log().begin(), book.log().begin() + 2}).ok());
  EXPECT_EQ(book.epoch(), 0);
  EXPECT_EQ(book.ledger()[0].shards_done, 2);
  EXPECT_TRUE(book.leases().empty()) << "every lease revoked";
  EXPECT_EQ(MustAcquire(book, 1, T(7)).shard, 2);
}

TEST(LeaseBookTest, AFailedShardIsSkippedInTheLaterEpochs) {
  LeaseBook book(3, 3, kTimeout);
  LeaseInfo bad = MustAcquire(book, 1, T(0));  // shard 0
  ASSERT_TRUE(Fail(book, 1, bad.lease_id, "train-0.svm:3: bad", T(0)).ok());
  for (int i = 1; i < 3; ++i) {
    const LeaseInfo lease = MustAcquire(book, 1, T(i));
    ASSERT_TRUE(Complete(book, 1, lease.lease_id, 10, 1.0, i, T(i)).ok());
  }
  EXPECT_EQ(book.skipped(), (std::set<int32_t>{0}));
  // Epochs 2 and 3 lease shards 1 and 2 only; shard 0 counts done, failed.
  for (int epoch = 1; epoch < 3; ++epoch) {
    ASSERT_EQ(book.epoch(), epoch);
    EXPECT_EQ(book.ledger()[epoch].shards_done, 1);
    EXPECT_EQ(book.ledger()[epoch].failed, 1);
    EXPECT_EQ(book.remaining(), 2);
    for (int32_t shard : {1, 2}) {
      const LeaseInfo lease = MustAcquire(book, 2, T(10 * epoch));
      EXPECT_EQ(lease.shard, shard);
      ASSERT_TRUE(Complete(book, 2, lease.lease_id, 10, 1.0, 0, T(10)).ok());
    }
  }
  EXPECT_TRUE(book.done());
  EXPECT_TRUE(book.failure().empty());

  // A coordinator restarting from the log skips the same shard.
  LeaseBook restored(3, 3, kTimeout);
  ASSERT_TRUE(
      restored.Rebuild({book.log().begin(), book.log().begin() + 3}).ok());
  EXPECT_EQ(restored.epoch(), 1);
  EXPECT_EQ(MustAcquire(restored, 1, T(50)).shard, 1);
}

TEST(LeaseBookTest, RebuildRefusesACompletionOfASkippedShard) {
  // As an older coordinator, which leased failed shards again, may log.
  std::vector<paramd::v1::Completion> log(3);
  log[0].set_shard(0);
  log[0].set_error("train-0.svm:1: bad");
  log[1].set_shard(1);
  log[2].set_epoch(1);
  log[2].set_shard(0);
  LeaseBook book(2, 2, kTimeout);
  const absl::Status rebuilt = book.Rebuild(log);
  EXPECT_TRUE(absl::IsDataLoss(rebuilt)) << rebuilt;
  EXPECT_EQ(book.epoch(), 0) << "unchanged";
}

TEST(LeaseBookTest, AnEpochOfSkippedShardsOnlyEndsAtOnce) {
  LeaseBook book(1, 3, kTimeout);
  const LeaseInfo bad = MustAcquire(book, 1, T(0));
  ASSERT_TRUE(Fail(book, 1, bad.lease_id, "unreadable", T(0)).ok());
  EXPECT_TRUE(book.done());
  ASSERT_EQ(book.ledger().size(), 3u);
  EXPECT_EQ(book.ledger()[2].failed, 1);
}

TEST(LeaseBookTest, AFailedShardFailsTheJobUnderFailJob) {
  LeaseBook book(3, 2, kTimeout, LeaseBook::BadShards::kFailJob);
  const LeaseInfo bad = MustAcquire(book, 1, T(0));
  const LeaseInfo other = MustAcquire(book, 2, T(0));
  ASSERT_TRUE(Fail(book, 1, bad.lease_id, "train-0.svm:3: bad", T(1)).ok());
  EXPECT_EQ(book.failure(),
            "shard 0 of epoch 1 cannot be read: "
            "train-0.svm:3: bad");
  LeaseInfo lease;
  EXPECT_EQ(book.Acquire(1, T(2), &lease), Grant::kFailed);
  EXPECT_FALSE(book.done());
  // A shard in flight may still complete; nothing more is leased.
  EXPECT_TRUE(Complete(book, 2, other.lease_id, 10, 1.0, 0, T(2)).ok());
  EXPECT_EQ(book.Acquire(2, T(3), &lease), Grant::kFailed);

  LeaseBook restored(3, 2, kTimeout, LeaseBook::BadShards::kFailJob);
  ASSERT_TRUE(restored.Rebuild(book.log()).ok());
  EXPECT_EQ(restored.failure(), book.failure());
}

TEST(LeaseBookTest, RebuildRefusesALogThatDoesNotFollow) {
  LeaseBook book(2, 1, kTimeout);
  const LeaseInfo lease = MustAcquire(book, 1, T(0));
  ASSERT_TRUE(Complete(book, 1, lease.lease_id, 1, 0, 1, T(0)).ok());
  std::vector<paramd::v1::Completion> log = book.log();
  log.push_back(log[0]);  // the same shard twice in one epoch
  absl::Status status = book.Rebuild(log);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_EQ(book.ledger()[0].shards_done, 1) << "unchanged";
  log[1].set_shard(7);
  EXPECT_EQ(book.Rebuild(log).code(), absl::StatusCode::kDataLoss);
}

TEST(LeaseBookTest, ReclaimKeepsAQueuedShardWithTheSameLeaseId) {
  LeaseBook book(3, 1, kTimeout);
  LeaseInfo held;
  held.lease_id = 41;
  held.shard = 2;
  held.epoch = 0;
  EXPECT_TRUE(book.Reclaim(9, held, T(0)));
  ASSERT_EQ(book.leases().count(41), 1u);
  EXPECT_EQ(book.leases().at(41).worker_id, 9u);
  EXPECT_FALSE(book.Reclaim(8, held, T(0))) << "already held";
  LeaseInfo wrong_epoch = held;
  wrong_epoch.lease_id = 42;
  wrong_epoch.epoch = 1;
  EXPECT_FALSE(book.Reclaim(8, wrong_epoch, T(0)));
  // New leases skip the reclaimed shard and its id.
  const LeaseInfo next = MustAcquire(book, 1, T(1));
  EXPECT_EQ(next.shard, 0);
  EXPECT_GT(next.lease_id, 41u);
  EXPECT_TRUE(Complete(book, 9, 41, 5, 1.0, 3, T(2)).ok());
}

TEST(LeaseBookTest, ReturnPutsTheShardBackAtTheFront) {
  LeaseBook book(3, 1, kTimeout);
  const LeaseInfo first = MustAcquire(book, 1, T(0));
  EXPECT_EQ(book.Return(2, first.lease_id).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(book.Return(1, first.lease_id).ok());
  EXPECT_EQ(book.expired(), 0) << "a return is not a lapse";
  EXPECT_EQ(MustAcquire(book, 2, T(1)).shard, first.shard);
}

TEST(LeaseBookTest, ReclaimRefusesALeaseIdThatWouldWrapLaterGrants) {
  LeaseBook book(2, 1, kTimeout);
  LeaseInfo held;
  held.lease_id = UINT64_MAX - 1;
  held.shard = 0;
  held.epoch = 0;
  EXPECT_FALSE(book.Reclaim(1, held, T(0)));
  EXPECT_EQ(book.next_lease_id(), 1u);
  held.lease_id = 9;
  EXPECT_TRUE(book.Reclaim(1, held, T(0)));
  EXPECT_EQ(MustAcquire(book, 2, T(0)).lease_id, 10u);
}

}  // namespace
}  // namespace paramd
