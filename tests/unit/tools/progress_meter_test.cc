#include "tools/progress_meter.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

const absl::Time kStart = absl::FromUnixSeconds(1000);

// A job of 2 epochs of 10 shards of 1000 examples each, in epoch `epoch`
// with `shards_done` of its shards completed and `trained` examples
// reported by heartbeats, `leased` shards in flight.
v1::GetStatusResponse Status(int epoch, int shards_done, uint64_t trained,
                             int leased = 2) {
  v1::GetStatusResponse s;
  s.set_epochs(2);
  s.set_num_shards(10);
  s.set_epoch(epoch);
  for (int e = 0; e <= epoch && e < 2; ++e) {
    v1::EpochStatus* out = s.add_epochs_status();
    out->set_epoch(e);
    const int done = e < epoch ? 10 : shards_done;
    out->set_shards_done(done);
    out->set_completions(done);
    out->set_examples(1000 * done);
    out->set_train_loss(0.5);
  }
  for (int i = 0; i < leased; ++i) s.add_leases();
  s.set_examples(trained);
  s.set_loss_examples(trained);
  s.set_done(epoch == 2);
  return s;
}

TEST(ProgressMeterTest, TimeLeftIsUnknownUntilAShardIsDone) {
  ProgressMeter meter;
  meter.Add(Status(0, 0, 0), kStart);
  meter.Add(Status(0, 0, 500), kStart + absl::Seconds(5));
  EXPECT_EQ(meter.ExamplesPerSecond(), 100);
  EXPECT_FALSE(meter.TotalExamples().has_value());
  EXPECT_FALSE(meter.TimeLeft().has_value());
  EXPECT_TRUE(absl::StrContains(meter.Line(0), "time left: measuring"))
      << meter.Line(0);
}

TEST(ProgressMeterTest, TimeLeftFallsSteadilyWhileShardsAreInFlight) {
  ProgressMeter meter;
  // 100 examples/s on two leased shards of 1000 examples; two shards were
  // completed at 2000 examples, and none is for the next 19 s.
  absl::Duration previous = absl::InfiniteDuration();
  for (int t = 20; t <= 39; ++t) {
    const uint64_t trained = 100 * t;
    meter.Add(Status(0, 2, trained), kStart + absl::Seconds(t));
    if (t < 22) continue;
    ASSERT_TRUE(meter.TimeLeft().has_value()) << t;
    EXPECT_LT(*meter.TimeLeft(), previous) << "at " << t << " s";
    previous = *meter.TimeLeft();
  }
  // 20000 examples in all, 3900 trained: 16100 left at 100/s.
  EXPECT_DOUBLE_EQ(meter.ExamplesDone(), 3900);
  EXPECT_EQ(meter.TimeLeft(), absl::Seconds(161));
  // Heartbeats count work redone after a lapse too: never more than the
  // leased shards hold.
  meter.Add(Status(0, 2, 9000), kStart + absl::Seconds(40));
  EXPECT_DOUBLE_EQ(meter.ExamplesDone(), 4000);
}

TEST(ProgressMeterTest, AnEpochDoneGivesTheTotal) {
  ProgressMeter meter;
  v1::GetStatusResponse s = Status(1, 0, 9000, 0);
  s.mutable_epochs_status(0)->set_examples(9000);  // a short last shard
  meter.Add(s, kStart);
  EXPECT_EQ(meter.TotalExamples(), 18000);
  EXPECT_DOUBLE_EQ(meter.ExamplesDone(), 9000);
}

TEST(ProgressMeterTest, TheRateIsOverTheWindowOnly) {
  ProgressMeter meter(absl::Seconds(10));
  meter.Add(Status(0, 1, 0), kStart);
  meter.Add(Status(0, 1, 100), kStart + absl::Seconds(100));  // slow start
  for (int t = 101; t <= 130; ++t) {
    meter.Add(Status(0, 1, 100 + 50 * (t - 100)), kStart + absl::Seconds(t));
  }
  EXPECT_DOUBLE_EQ(*meter.ExamplesPerSecond(), 50);
}

TEST(ProgressMeterTest, ACountThatFallsStartsTheRateOver) {
  ProgressMeter meter;
  meter.Add(Status(0, 1, 5000), kStart);
  meter.Add(Status(0, 1, 1000), kStart + absl::Seconds(2));
  EXPECT_FALSE(meter.ExamplesPerSecond().has_value());
  meter.Add(Status(0, 1, 1200), kStart + absl::Seconds(4));
  EXPECT_DOUBLE_EQ(*meter.ExamplesPerSecond(), 100);
}

TEST(ProgressMeterTest, TheLineShowsBarEpochShardsRateLossAndEval) {
  ProgressMeter meter;
  v1::GetStatusResponse s = Status(0, 5, 5000, 0);
  meter.Add(s, kStart);
  s.set_examples(5500);
  s.set_loss_examples(5500);
  (*s.mutable_eval())["eval_perplexity"] = 245.5;
  (*s.mutable_eval())["epochs_done"] = 0.5;
  meter.Add(s, kStart + absl::Seconds(5));
  // 5000 of 20000 done.
  EXPECT_EQ(meter.Line(8),
            "[##......]  25% | epoch 1/2 | shards 5/10 | 100 ex/s | "
            "loss 0.5000 | eval_perplexity 245.5000 (after 0.5 epochs) | "
            "0:02:30 left");
  (*s.mutable_eval())["epochs_done"] = 1;
  meter.Add(s, kStart + absl::Seconds(6));
  EXPECT_TRUE(absl::StrContains(meter.Line(0), "245.5000 (after epoch 1) |"))
      << meter.Line(0);
}

TEST(ProgressMeterTest, ADoneJobIsFull) {
  ProgressMeter meter;
  meter.Add(Status(2, 0, 20000, 0), kStart);
  EXPECT_EQ(meter.Line(4),
            "[####] 100% | epoch 2/2 | shards 10/10 | loss 0.5000 | done");
}

TEST(ProgressMeterTest, NoStatusNoLine) {
  EXPECT_EQ(ProgressMeter().Line(10), "");
}

}  // namespace
}  // namespace paramd
