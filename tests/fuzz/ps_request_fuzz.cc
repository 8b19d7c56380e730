// Fuzzes the parameter server's request handling below gRPC: a sequence of
// Pull and Push requests (parsed from fuzz bytes by protobuf) goes through
// the path PsService takes, DecodeSlices, ShardStore::Validate and the
// UpdateGate, against shard 0 of 2 of a job with a dense and a sparse
// table. Afterwards every value the shard holds must still be finite.
//
// Input: byte 0 picks the consistency model (asp, bsp, ssp with staleness
// 1); then records of [op byte][uint16 little-endian length][length bytes]:
// op % 3 == 0 a PullRequest, 1 a PushRequest, 2 the live workers (one id a
// byte), as the coordinator's heartbeat reply sets them (until the first
// list, no worker is live).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/config.h"
#include "common/tensor.h"
#include "paramd/v1/checkpoint.pb.h"
#include "paramd/v1/ps.pb.h"
#include "server/request_decoder.h"
#include "server/shard_store.h"
#include "server/update_gate.h"
#include "tests/fuzz/fuzz_util.h"

namespace paramd {
namespace {

constexpr char kJob[] = R"(job: {name: ps-fuzz}
data: {train: "*.txt"}
model: {type: logreg}
cluster: {num_servers: 2}
tables:
  - name: d
    type: dense
    shape: [3, 4]
    init: {kind: uniform, scale: 0.5, seed: 2}
    optimizer: {kind: adam, learning_rate: 0.1}
  - name: e
    type: sparse
    width: 3
    init: {kind: normal, scale: 0.1, seed: 3}
    optimizer: {kind: adagrad, learning_rate: 0.5, weight_decay: 0.01}
)";

// As PsService::Pull: decode, validate, wait for the gate, read.
void Pull(ShardStore& store, UpdateGate& gate,
          const paramd::v1::PullRequest& request) {
  auto decoded = std::make_shared<DecodedSlices>();
  absl::Status status = CheckClock(request.clock(), /*push=*/false);
  if (status.ok()) {
    status = DecodeSlices(request.slices(), false, decoded.get());
  }
  if (status.ok()) status = store.Validate(decoded->slices, false);
  if (!status.ok()) return;
  gate.WhenReadable(
      request.worker_id(), request.generation(), request.clock(),
      absl::InfiniteFuture(), [&store, decoded](UpdateGate::PullState state) {
        if (state != UpdateGate::PullState::kReady) return;
        for (const Slice& slice : decoded->slices) {
          std::vector<float> values(slice.NumValues(store.Width(slice.table)));
          store.Read(slice, absl::MakeSpan(values));
        }
      });
}

// As PsService::Push.
void Push(ShardStore& store, UpdateGate& gate,
          const paramd::v1::PushRequest& request) {
  if (!CheckClock(request.clock(), /*push=*/true).ok()) return;
  if (request.leave()) {
    if (request.slices_size() == 0) {
      gate.Leave(request.worker_id()).IgnoreError();
    }
    return;
  }
  DecodedSlices decoded;
  absl::Status status = DecodeSlices(request.slices(), true, &decoded);
  if (status.ok()) status = store.Validate(decoded.slices, true);
  if (!status.ok()) return;
  gate.Push(request.worker_id(), request.generation(), request.clock(),
            decoded.slices)
      .status()
      .IgnoreError();
}

void SetLive(UpdateGate& gate, absl::string_view ids) {
  std::set<uint64_t> live;
  for (char id : ids) live.insert(static_cast<unsigned char>(id));
  gate.SetLiveWorkers(live);
}

void RunRecord(ShardStore& store, UpdateGate& gate, uint8_t op,
               absl::string_view bytes) {
  switch (op % 3) {
    case 0: {
      paramd::v1::PullRequest request;
      if (request.ParseFromArray(bytes.data(), bytes.size())) {
        Pull(store, gate, request);
      }
      break;
    }
    case 1: {
      paramd::v1::PushRequest request;
      if (request.ParseFromArray(bytes.data(), bytes.size())) {
        Push(store, gate, request);
      }
      break;
    }
    default:
      SetLive(gate, bytes);
  }
}

// Aborts unless every value and optimizer state `store` holds is finite.
void CheckAllFinite(const ShardStore& store) {
  const paramd::v1::ShardCheckpoint saved = store.Save(0);
  for (const paramd::v1::TableState& table : saved.tables()) {
    for (const std::string* bytes : {&table.values(), &table.state()}) {
      std::vector<float> values(bytes->size() / sizeof(float));
      CopyFloats(*bytes, absl::MakeSpan(values));
      for (float v : values) {
        ABSL_RAW_CHECK(std::isfinite(v), "a table holds a non-finite value");
      }
    }
  }
}

}  // namespace
}  // namespace paramd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using paramd::Consistency;
  if (size == 0) return 0;
  static const paramd::JobConfig job =
      paramd::testing::MustParseJob(paramd::kJob);
  std::unique_ptr<paramd::ShardStore> store =
      paramd::ShardStore::Create(job, 0, job.num_servers).value();
  constexpr Consistency kModels[] = {Consistency::kAsp, Consistency::kBsp,
                                     Consistency::kSsp};
  const Consistency consistency = kModels[data[0] % 3];
  paramd::UpdateGate gate(store.get(), consistency, /*average=*/true,
                          consistency == Consistency::kSsp ? 1 : 0);
  size_t at = 1;
  while (at + 3 <= size) {
    const uint8_t op = data[at];
    const size_t length = data[at + 1] | (size_t{data[at + 2]} << 8);
    at += 3;
    const size_t n = std::min(length, size - at);
    paramd::RunRecord(*store, gate, op, paramd::testing::AsText(data + at, n));
    at += n;
  }
  // Pulls still waiting time out, as the service's timer would do.
  gate.ExpireWaiters(absl::InfiniteFuture());
  paramd::CheckAllFinite(*store);
  return 0;
}
