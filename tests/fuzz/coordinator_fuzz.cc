// Fuzzes the coordinator's request handling below gRPC: a sequence of
// Coordinator calls with fuzz-chosen arguments, as CoordinatorService would
// make them for any client, including coordinator restarts that restore the
// state files written so far. Ids and addresses are drawn mostly from small
// ranges so calls meet the servers, workers and leases earlier calls made.
//
// Input (read by FuzzedDataProvider): a job variant (consistency, whether
// checkpoints and state files are on), then calls until the input runs out.
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/config.h"
#include "paramd/v1/coordinator.pb.h"
#include "server/coordinator.h"
#include "server/lease_book.h"
#include "tests/fuzz/fuzz_util.h"

namespace paramd {
namespace {

constexpr int kShards = 3;  // training files
constexpr int kServers = 2;

// A folder for state files and checkpoints, emptied before every input.
// tmpfs when there is one: the coordinator fsyncs every state file.
const std::string& StateDir() {
  static const std::string* dir = [] {
    const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return new std::string(
        absl::StrCat(base, "/paramd-fuzz-coordinator-", getpid()));
  }();
  return *dir;
}

// Job variant `v`: bits 0-1 the consistency, bit 2 checkpoints on.
JobConfig Job(int v) {
  constexpr const char* kConsistency[] = {"bsp", "asp", "ssp, staleness: 1",
                                          "bsp"};
  const std::string checkpoint =
      (v & 4) != 0
          ? absl::StrFormat("checkpoint: {dir: %s, every_steps: 2, keep: 2}\n",
                            StateDir())
          : "";
  return testing::MustParseJob(absl::StrFormat(
      R"(job: {name: coordinator-fuzz, consistency: %s, epochs: 2,
      lease_timeout_s: 10, heartbeat_interval_s: 1}
cluster: {num_servers: %d}
data: {train: "*.txt"}
model: {type: logreg}
tables: [{name: w, type: sparse, width: 1}]
%s)",
      kConsistency[v & 3], kServers, checkpoint));
}

// Mostly a small id (0..max), sometimes any value.
template <typename T>
T SmallOrAny(FuzzedDataProvider& in, T max) {
  if (in.ConsumeIntegralInRange(0, 7) == 0) return in.ConsumeIntegral<T>();
  return in.ConsumeIntegralInRange<T>(0, max);
}

std::string Address(FuzzedDataProvider& in) {
  const int n = in.ConsumeIntegralInRange(0, 4);
  return n == 0 ? "" : absl::StrCat("127.0.0.1:", 7000 + n);
}

void ServerHeartbeat(Coordinator& c, FuzzedDataProvider& in) {
  paramd::v1::ServerHeartbeatRequest report;
  report.set_shard(in.ConsumeIntegralInRange(-1, kServers));
  report.set_address(Address(in));
  report.set_generation(SmallOrAny<uint64_t>(in, 3));
  report.set_version(SmallOrAny<int64_t>(in, 12));
  for (int i = in.ConsumeIntegralInRange(0, 3); i > 0; --i) {
    report.add_checkpoints(SmallOrAny<int64_t>(in, 12));
  }
  report.set_checkpoint_id(SmallOrAny<uint64_t>(in, 4));
  report.set_checkpoint_missed(in.ConsumeBool());
  if (in.ConsumeIntegralInRange(0, 7) == 0) report.set_restore_error("bad");
  report.set_checkpoint_version(SmallOrAny<int64_t>(in, 12));
  paramd::v1::ServerHeartbeatResponse response;
  c.ServerHeartbeat(report, &response).IgnoreError();
}

void RegisterWorker(Coordinator& c, FuzzedDataProvider& in) {
  constexpr const char* kRoles[] = {"trainer", "trainer", "evaluator", "x"};
  const std::string role = kRoles[in.ConsumeIntegralInRange(0, 3)];
  const uint64_t old_id = SmallOrAny<uint64_t>(in, 6);
  const uint64_t request_id = SmallOrAny<uint64_t>(in, 4);
  std::optional<LeaseInfo> held;
  if (in.ConsumeBool()) {
    held.emplace();
    held->lease_id = SmallOrAny<uint64_t>(in, 8);
    held->shard = SmallOrAny<int32_t>(in, kShards);
    held->epoch = SmallOrAny<int32_t>(in, 2);
    held->generation = SmallOrAny<uint64_t>(in, 3);
  }
  std::vector<std::string> servers;
  c.RegisterWorker("host", role, old_id, request_id, &held, &servers)
      .status()
      .IgnoreError();
}

void Heartbeat(Coordinator& c, FuzzedDataProvider& in) {
  const uint64_t worker = SmallOrAny<uint64_t>(in, 6);
  const uint64_t examples = SmallOrAny<uint64_t>(in, 100);
  const double loss_sum = in.ConsumeFloatingPoint<double>();
  std::vector<uint64_t> held;
  for (int i = in.ConsumeIntegralInRange(0, 3); i > 0; --i) {
    held.push_back(SmallOrAny<uint64_t>(in, 8));
  }
  paramd::v1::HeartbeatResponse response;
  c.Heartbeat(worker, examples, loss_sum, held, &response).IgnoreError();
}

void AcquireShard(Coordinator& c, FuzzedDataProvider& in) {
  const uint64_t worker = SmallOrAny<uint64_t>(in, 6);
  const uint64_t request_id = SmallOrAny<uint64_t>(in, 4);
  LeaseInfo lease;
  std::string path;
  std::vector<std::string> servers;
  c.AcquireShard(worker, request_id, &lease, &path, &servers)
      .status()
      .IgnoreError();
}

void CompleteShard(Coordinator& c, FuzzedDataProvider& in) {
  const uint64_t worker = SmallOrAny<uint64_t>(in, 6);
  const uint64_t lease = SmallOrAny<uint64_t>(in, 8);
  const uint64_t examples = SmallOrAny<uint64_t>(in, 100);
  const double loss_sum = in.ConsumeFloatingPoint<double>();
  const int64_t clock = SmallOrAny<int64_t>(in, 12);
  c.CompleteShard(worker, lease, examples, loss_sum, clock).IgnoreError();
}

void ReportEval(Coordinator& c, FuzzedDataProvider& in) {
  const uint64_t worker = SmallOrAny<uint64_t>(in, 6);
  std::map<std::string, double> metrics;
  metrics["perplexity"] = in.ConsumeFloatingPoint<double>();
  const uint64_t seen = in.ConsumeIntegral<uint64_t>();
  c.ReportEval(worker, metrics, seen, in.ConsumeBool()).IgnoreError();
}

// Aborts if the status breaks the lease book's promises.
void CheckStatus(Coordinator& c) {
  const paramd::v1::GetStatusResponse status = c.Status();
  ABSL_RAW_CHECK(status.num_shards() == kShards, "wrong shard count");
  for (const paramd::v1::EpochStatus& epoch : status.epochs_status()) {
    ABSL_RAW_CHECK(epoch.shards_done() >= 0 && epoch.shards_done() <= kShards,
                   "an epoch has more shards done than shards");
    ABSL_RAW_CHECK(epoch.completions() >= epoch.shards_done(),
                   "an epoch has fewer completions than shards done");
  }
  for (const paramd::v1::LeaseStatus& lease : status.leases()) {
    ABSL_RAW_CHECK(
        lease.lease().shard() >= 0 && lease.lease().shard() < kShards,
        "a lease of a shard out of range");
  }
}

std::unique_ptr<Coordinator> Start(const JobConfig& job, bool restore) {
  auto c = std::make_unique<Coordinator>(
      job, "job: {}", std::vector<std::string>{"a.txt", "b.txt", "c.txt"});
  if (restore) c->Restore();
  return c;
}

// Makes one fuzz-chosen call on `*c`; a restart replaces `*c`.
void RunCall(const JobConfig& job, FuzzedDataProvider& in,
             std::unique_ptr<Coordinator>* c) {
  Coordinator& coordinator = **c;
  switch (in.ConsumeIntegralInRange(0, 11)) {
    case 0: {
      const std::string address = Address(in);
      const int32_t shard =
          in.ConsumeBool() ? -1 : SmallOrAny<int32_t>(in, kServers);
      coordinator.RegisterServer(address, shard).status().IgnoreError();
      return;
    }
    case 1:
      return ServerHeartbeat(coordinator, in);
    case 2:
      return RegisterWorker(coordinator, in);
    case 3:
      return Heartbeat(coordinator, in);
    case 4:
      return AcquireShard(coordinator, in);
    case 5:
      return CompleteShard(coordinator, in);
    case 6: {
      const uint64_t worker = SmallOrAny<uint64_t>(in, 6);
      const uint64_t lease = SmallOrAny<uint64_t>(in, 8);
      return coordinator.ReleaseShard(worker, lease).IgnoreError();
    }
    case 7:
      return ReportEval(coordinator, in);
    case 8:
      return coordinator.Checkpoint().status().IgnoreError();
    case 9:
      return coordinator.Tick();
    case 10:
      return CheckStatus(coordinator);
    default:  // the coordinator restarts
      *c = Start(job, true);
  }
}

}  // namespace
}  // namespace paramd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::remove_all(paramd::StateDir(), ec);
  fs::create_directories(paramd::StateDir(), ec);
  FuzzedDataProvider in(data, size);
  static const paramd::JobConfig jobs[] = {
      paramd::Job(0), paramd::Job(1), paramd::Job(2), paramd::Job(3),
      paramd::Job(4), paramd::Job(5), paramd::Job(6), paramd::Job(7)};
  const paramd::JobConfig& job = jobs[in.ConsumeIntegralInRange(0, 7)];
  std::unique_ptr<paramd::Coordinator> c = paramd::Start(job, false);
  while (in.remaining_bytes() > 0) paramd::RunCall(job, in, &c);
  paramd::CheckStatus(*c);
  return 0;
}
