#include "bench/load_generator.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "common/rpc_util.h"
#include "paramd/v1/ps.grpc.pb.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

constexpr float kGradient = 1e-6f;  // small: a long run keeps values finite

// One outstanding request of a client thread, reused call after call.
struct Slot {
  v1::ParameterServer::Stub* stub = nullptr;
  int32_t shard = 0;
  v1::PushRequest push;
  v1::PullRequest pull;
  v1::PushResponse pushed;
  v1::PullResponse pulled;
  std::unique_ptr<grpc::ClientContext> context;
  absl::Time sent;
};

// Sets `slot`'s pull of `part` and push of `floats` gradients to it.
void FillRequests(v1::TableSlice part, int64_t floats, uint64_t worker,
                  uint64_t generation, Slot* slot) {
  *slot->pull.add_slices() = part;
  slot->pull.set_worker_id(worker);
  slot->pull.set_clock(-1);  // reads at once, joins nothing
  const std::vector<float> gradient(floats, kGradient);
  part.set_values(gradient.data(), gradient.size() * sizeof(float));
  *slot->push.add_slices() = std::move(part);
  slot->push.set_worker_id(worker);
  slot->push.set_generation(generation);
}

// Slots whose call finished, as the callbacks hand them back.
class Completions {
 public:
  void Add(int slot, grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    done_.emplace_back(slot, std::move(status));
  }
  std::pair<int, grpc::Status> Next() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::deque<std::pair<int, grpc::Status>>* d) {
          return !d->empty();
        },
        &done_));
    auto next = std::move(done_.front());
    done_.pop_front();
    return next;
  }

 private:
  absl::Mutex mu_;
  std::deque<std::pair<int, grpc::Status>> done_ ABSL_GUARDED_BY(mu_);
};

// `status` with what was being done in front of its message.
absl::Status Failed(const grpc::Status& status, const std::string& what) {
  const absl::Status s = FromGrpcStatus(status);
  return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
}

// Starts slot `i`'s call: its push at `clock`, or its pull if clock < 0.
void Send(int64_t clock, int i, Slot* slot, Completions* completions) {
  slot->context = std::make_unique<grpc::ClientContext>();
  slot->context->set_deadline(
      absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  slot->sent = absl::Now();
  auto done = [completions, i](grpc::Status status) {
    completions->Add(i, std::move(status));
  };
  if (clock >= 0) {
    slot->push.set_clock(clock);
    slot->stub->async()->Push(slot->context.get(), &slot->push, &slot->pushed,
                              done);
  } else {
    slot->stub->async()->Pull(slot->context.get(), &slot->pull, &slot->pulled,
                              done);
  }
}

double Percentile(std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t i =
      std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()));
  return sorted[i];
}

}  // namespace

struct LoadGenerator::Counters {
  absl::Mutex mu;
  int64_t requests ABSL_GUARDED_BY(mu) = 0;
  std::vector<double> latencies_ms ABSL_GUARDED_BY(mu);
  absl::Status error ABSL_GUARDED_BY(mu);
};

LoadGenerator::LoadGenerator(const JobConfig& job,
                             std::vector<std::string> servers,
                             uint64_t worker_id)
    : job_(job),
      servers_(std::move(servers)),
      worker_id_(worker_id),
      map_(ShardMap::Create(static_cast<int32_t>(servers_.size())).value()),
      clocks_(new std::atomic<int64_t>[servers_.size()]) {
  for (size_t s = 0; s < servers_.size(); ++s) clocks_[s] = 0;
}

absl::StatusOr<std::string> LoadGenerator::TableFor(
    const LoadCell& cell) const {
  const TableConfig* best = nullptr;
  for (const TableConfig& table : job_.tables) {
    if (cell.sparse && table.sparse && table.width == cell.width) {
      return table.name;
    }
    if (!cell.sparse && !table.sparse &&
        (best == nullptr || table.size() > best->size())) {
      best = &table;
    }
  }
  if (cell.sparse || best == nullptr) {
    return absl::NotFoundError(
        cell.sparse ? absl::StrCat("no sparse table of width ", cell.width)
                    : std::string("no dense table"));
  }
  const int64_t part =
      map_.DenseRange(best->size(), map_.num_shards() - 1).size();
  if (cell.bytes % 4 != 0 || cell.bytes / 4 > part) {
    return absl::InvalidArgumentError(
        absl::StrCat(cell.bytes, " bytes do not fit table ", best->name, "'s ",
                     part, "-float part on each server"));
  }
  return best->name;
}

std::string LoadGenerator::KeysOf(int32_t shard, int64_t count) const {
  std::string keys;
  keys.reserve(count * 8);
  for (uint64_t i = 0; static_cast<int64_t>(keys.size()) < count * 8; ++i) {
    const uint64_t key = i * 0x9E3779B97F4A7C15ull;  // spread, reproducible
    if (map_.ShardForKey(key) != shard) continue;
    char bytes[8];
    std::memcpy(bytes, &key, 8);  // little-endian hosts only (x86, arm64)
    keys.append(bytes, 8);
  }
  return keys;
}

absl::StatusOr<LoadGenerator::Totals> LoadGenerator::ServerTotals() const {
  Totals totals;
  for (const std::string& address : servers_) {
    auto stub = v1::ParameterServer::NewStub(MakeChannel(address));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::ServerInfoResponse info;
    grpc::Status status = stub->GetServerInfo(&context, {}, &info);
    if (!status.ok()) {
      return Failed(status, absl::StrCat("server info of ", address));
    }
    totals.cpu_seconds += info.cpu_seconds();
    totals.version += info.version();
  }
  return totals;
}

absl::Status LoadGenerator::WaitUntilAccepted(absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  auto deadline = [] {
    return absl::ToChronoTime(absl::Now() + absl::Seconds(10));
  };
  for (size_t s = 0; s < servers_.size(); ++s) {
    auto stub = v1::ParameterServer::NewStub(MakeChannel(servers_[s]));
    for (;;) {
      grpc::ClientContext info_context;
      info_context.set_deadline(deadline());
      v1::ServerInfoResponse info;
      grpc::Status status = stub->GetServerInfo(&info_context, {}, &info);
      if (status.ok()) {
        generation_ = info.generation();
        grpc::ClientContext context;
        context.set_deadline(deadline());
        v1::PushRequest push;
        push.set_worker_id(worker_id_);
        push.set_generation(generation_);
        push.set_clock(clocks_[s]);
        v1::PushResponse reply;
        status = stub->Push(&context, push, &reply);
      }
      if (status.ok()) {
        ++clocks_[s];  // a clock used only once applied leaves no gap
        break;
      }
      if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
          status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
        return Failed(status,
                      "paramd-bench needs a cluster without role "
                      "tokens: it reads GetServerInfo (an admin "
                      "call) and pushes as a worker");
      }
      if (absl::Now() > give_up) {
        return Failed(status, absl::StrCat(servers_[s], " never took a push"));
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<LoadResult> LoadGenerator::Run(const LoadCell& cell,
                                              absl::Duration duration) {
  absl::StatusOr<std::string> table = TableFor(cell);
  if (!table.ok()) return table.status();
  absl::StatusOr<Totals> before = ServerTotals();
  if (!before.ok()) return before.status();

  Counters counters;
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < cell.threads; ++t) {
    threads.emplace_back(
        [&, t] { RunThread(cell, *table, t, start + duration, &counters); });
  }
  for (std::thread& thread : threads) thread.join();
  const absl::Duration took = absl::Now() - start;

  absl::StatusOr<Totals> after = ServerTotals();
  if (!after.ok()) return after.status();
  absl::MutexLock lock(&counters.mu);
  if (!counters.error.ok()) return counters.error;
  LoadResult result;
  result.requests = counters.requests;
  result.value_bytes = counters.requests * cell.ValueBytes();
  result.keys = cell.sparse ? counters.requests * cell.keys : 0;
  result.seconds = absl::ToDoubleSeconds(took);
  std::sort(counters.latencies_ms.begin(), counters.latencies_ms.end());
  result.p50_ms = Percentile(counters.latencies_ms, 0.50);
  result.p99_ms = Percentile(counters.latencies_ms, 0.99);
  result.server_cpu_seconds = after->cpu_seconds - before->cpu_seconds;
  // Under asp a server's version counts the pushes it applied.
  if (cell.push && after->version - before->version != result.requests) {
    return absl::DataLossError(
        absl::StrCat(result.requests, " pushes were acknowledged but ",
                     after->version - before->version, " applied"));
  }
  return result;
}

void LoadGenerator::RunThread(const LoadCell& cell, const std::string& table,
                              int thread, absl::Time end, Counters* counters) {
  std::vector<std::unique_ptr<v1::ParameterServer::Stub>> stubs;
  for (const std::string& address : servers_) {
    stubs.push_back(v1::ParameterServer::NewStub(
        MakeChannel(address, /*own_connection=*/true)));
  }
  // Every slot's request is built once; a push only changes its clock.
  std::vector<Slot> slots(cell.in_flight);
  for (int i = 0; i < cell.in_flight; ++i) {
    Slot& slot = slots[i];
    slot.shard = (i + thread) % map_.num_shards();
    slot.stub = stubs[slot.shard].get();
    v1::TableSlice part;
    part.set_table(table);
    if (cell.sparse) {
      part.set_keys(KeysOf(slot.shard, cell.keys));
    } else {
      const TableConfig* config = job_.FindTable(table);
      part.set_offset(map_.DenseRange(config->size(), slot.shard).begin);
      part.set_length(cell.bytes / 4);
    }
    FillRequests(std::move(part), cell.ValueBytes() / 4, worker_id_,
                 generation_, &slot);
  }
  Completions completions;
  auto start = [&](int i) {
    Send(cell.push ? clocks_[slots[i].shard]++ : -1, i, &slots[i],
         &completions);
  };
  for (int i = 0; i < cell.in_flight; ++i) start(i);

  int64_t requests = 0;
  std::vector<double> latencies_ms;
  absl::Status error;
  for (int outstanding = cell.in_flight; outstanding > 0; --outstanding) {
    auto [i, status] = completions.Next();
    latencies_ms.push_back(
        absl::ToDoubleMilliseconds(absl::Now() - slots[i].sent));
    if (!status.ok() && error.ok()) {
      error = Failed(status, absl::StrCat(cell.push ? "push to " : "pull from ",
                                          servers_[slots[i].shard]));
    }
    ++requests;
    if (error.ok() && absl::Now() < end) {
      start(i);
      ++outstanding;
    }
  }
  absl::MutexLock lock(&counters->mu);
  counters->requests += requests;
  counters->latencies_ms.insert(counters->latencies_ms.end(),
                                latencies_ms.begin(), latencies_ms.end());
  if (counters->error.ok()) counters->error = error;
}

}  // namespace paramd
