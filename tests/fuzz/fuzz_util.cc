#include "tests/fuzz/fuzz_util.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace paramd {
namespace testing {

FuzzFile::FuzzFile(absl::string_view tag) {
  const char* tmp = std::getenv("TMPDIR");
  path_ = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp",
                       "/paramd-fuzz-", tag, "-", getpid());
}

FuzzFile::~FuzzFile() { std::remove(path_.c_str()); }

void FuzzFile::Write(absl::string_view bytes) {
  std::FILE* f = std::fopen(path_.c_str(), "wb");
  ABSL_RAW_CHECK(f != nullptr, "fuzz: cannot create the scratch file");
  const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), f);
  ABSL_RAW_CHECK(std::fclose(f) == 0 && written == bytes.size(),
                 "fuzz: cannot write the scratch file");
}

JobConfig MustParseJob(const std::string& yaml) {
  absl::StatusOr<JobConfig> job = ParseJobConfig(yaml, "fuzz.yaml", "/fuzz");
  if (!job.ok()) {
    std::fprintf(stderr, "fuzz: bad built-in job: %s\n",
                 job.status().ToString().c_str());
    std::abort();
  }
  return *std::move(job);
}

namespace {

// Parameters for what `request` names, every value 0.01.
Params ConstantParams(const JobConfig& job, const ParamRequest& request) {
  constexpr float kValue = 0.01f;
  Params params;
  for (const std::string& name : request.dense) {
    const TableConfig* table = job.FindTable(name);
    ABSL_RAW_CHECK(table != nullptr && !table->sparse,
                   "fuzz: model needs an unknown dense table");
    params.dense[name].assign(table->size(), kValue);
  }
  for (const auto& [name, keys] : request.sparse) {
    const TableConfig* table = job.FindTable(name);
    ABSL_RAW_CHECK(table != nullptr && table->sparse,
                   "fuzz: model needs an unknown sparse table");
    SparseRows& rows = params.sparse[name];
    rows = SparseRows(table->width);
    for (uint64_t key : keys) rows.Add(key);
    rows.values().assign(rows.values().size(), kValue);
  }
  return params;
}

}  // namespace

void TrainOnData(const JobConfig& job, const Model& model, Dataset& data,
                 uint64_t seed, int64_t batch_size, int64_t max_batches) {
  data.Shuffle(seed);
  const int64_t size = data.size();
  for (int64_t b = 0; b < max_batches && b * batch_size < size; ++b) {
    const int64_t begin = b * batch_size;
    const int64_t end = std::min(size, begin + batch_size);
    ParamRequest request;
    model.Needs(data, begin, end, &request);
    const Params params = ConstantParams(job, request);
    Params grads = params.ZerosLike();
    const BatchStats stats = model.Compute(data, begin, end, params, &grads);
    ABSL_RAW_CHECK(stats.examples == end - begin,
                   "fuzz: Compute() counted the wrong number of examples");
  }
}

DataReaderFuzzer::DataReaderFuzzer(const std::string& job_yaml,
                                   absl::string_view tag, int64_t batch_size,
                                   int64_t max_batches)
    : job_(MustParseJob(job_yaml)),
      model_(CreateModel(job_).value()),
      file_(tag),
      batch_size_(batch_size),
      max_batches_(max_batches) {}

void DataReaderFuzzer::Run(const uint8_t* data, size_t size) {
  file_.Write(AsText(data, size));
  absl::StatusOr<std::unique_ptr<Dataset>> dataset =
      model_->ReadData(file_.path());
  if (!dataset.ok()) return;
  TrainOnData(job_, *model_, **dataset, /*seed=*/size, batch_size_,
              max_batches_);
}

}  // namespace testing
}  // namespace paramd
