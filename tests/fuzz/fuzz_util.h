// Helpers shared by the libFuzzer targets in tests/fuzz/.
#ifndef PARAMD_TESTS_FUZZ_FUZZ_UTIL_H_
#define PARAMD_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "common/config.h"
#include "worker/models/model.h"

namespace paramd {
namespace testing {

// A scratch file, unique to this process, removed when destroyed. Readers
// that take a path are fed fuzz input through it. Thread-compatible.
class FuzzFile {
 public:
  explicit FuzzFile(absl::string_view tag);
  ~FuzzFile();
  FuzzFile(const FuzzFile&) = delete;
  FuzzFile& operator=(const FuzzFile&) = delete;

  // Replaces the file's contents with `bytes`; aborts if it cannot.
  void Write(absl::string_view bytes);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The fuzz input as a string_view.
inline absl::string_view AsText(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

// Parses a job config the fuzz target itself wrote; aborts if it is bad.
JobConfig MustParseJob(const std::string& yaml);

// Trains `model` on up to the first `max_batches` minibatches of
// `batch_size` examples of `data` (shuffled with `seed`), as a worker would:
// Needs(), then Compute() on small constant parameters. Aborts if a batch
// needs a table the job lacks or reports the wrong example count.
void TrainOnData(const JobConfig& job, const Model& model, Dataset& data,
                 uint64_t seed, int64_t batch_size, int64_t max_batches);

// What the data reader targets share: a model's ReadData fed fuzz bytes
// through a file, then trained (TrainOnData) on whatever it accepts.
// Thread-compatible.
class DataReaderFuzzer {
 public:
  // The job is the target's own YAML (aborts if bad); `tag` names its file.
  DataReaderFuzzer(const std::string& job_yaml, absl::string_view tag,
                   int64_t batch_size, int64_t max_batches);

  void Run(const uint8_t* data, size_t size);

 private:
  const JobConfig job_;
  const std::unique_ptr<Model> model_;
  FuzzFile file_;
  const int64_t batch_size_;
  const int64_t max_batches_;
};

}  // namespace testing
}  // namespace paramd

#endif  // PARAMD_TESTS_FUZZ_FUZZ_UTIL_H_
