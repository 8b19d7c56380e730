// A parameter server that hangs while the evaluator reads from it, and is
// then killed and restarted on a new port: the evaluator gives up on the
// dead address as soon as its cluster view names the new one, scores
// again, and the job ends with its final evaluation.
#include <signal.h>

#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/cluster/fault_job.h"
#include "tests/cluster/test_cluster.h"

namespace paramd {
namespace {

using ::paramd::testing::TestCluster;
namespace v1 = ::paramd::v1;

TEST(EvaluatorRestartTest, EvaluatorFollowsAServerRestartedMidRead) {
  auto options = testing::FaultJob("eval-restart");
  // Scoring back to back, so a read is in flight when the server hangs.
  options.config_yaml =
      absl::StrReplaceAll(options.config_yaml,
                          {{"eval_interval_s: 0\n", "eval_interval_s: 0.1\n"}});
  auto cluster = TestCluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto trained = (*cluster)->WaitFor(
      [](const v1::GetStatusResponse& s) {
        return s.checkpoints_size() >= 1 && s.eval().count("eval_loss") > 0 &&
               !s.done();
      },
      absl::Seconds(90));
  ASSERT_TRUE(trained.ok()) << trained.status();

  Subprocess* server = (*cluster)->cluster().servers()[1].get();
  server->Signal(SIGSTOP);  // reads from it now hang
  absl::SleepFor(absl::Seconds(2));
  const absl::Time killed = absl::Now();
  auto restarted = (*cluster)->CrashAndRestart(server);
  ASSERT_TRUE(restarted.ok()) << restarted.status();

  // Well inside the evaluator's retry budget (120 s) for one address.
  auto status = (*cluster)->WaitForJob(absl::Seconds(90));
  ASSERT_TRUE(status.ok()) << status.status();
  testing::ExpectExactLedger(*status);
  EXPECT_TRUE(status->eval_final());
  std::cout << "job done with its final evaluation "
            << absl::FormatDuration(absl::Now() - killed)
            << " after the server was killed" << std::endl;

  Subprocess* evaluator = nullptr;
  for (const auto& worker : (*cluster)->cluster().workers()) {
    if (absl::StrContains(worker->log_path(), "/evaluator")) {
      evaluator = worker.get();
    }
  }
  ASSERT_NE(evaluator, nullptr);
  EXPECT_EQ(evaluator->Wait(absl::Seconds(20)), 0) << evaluator->log_path();
  const std::string log = testing::ReadFileOrEmpty(evaluator->log_path());
  EXPECT_TRUE(absl::StrContains(log, "moved while scoring")) << log;
}

}  // namespace
}  // namespace paramd
