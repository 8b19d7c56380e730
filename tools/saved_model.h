// A model written by `paramctl export` (or at the end of `paramctl launch`),
// loaded back into this process to score data or sample text.
#ifndef PARAMD_TOOLS_SAVED_MODEL_H_
#define PARAMD_TOOLS_SAVED_MODEL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "worker/models/model.h"
#include "worker/params.h"

namespace paramd {

struct SavedModel {
  JobConfig job;  // from the export's job.yaml
  std::unique_ptr<Model> model;
  Params params;                   // every table, whole
  std::vector<std::string> vocab;  // token of each id, if vocab.txt is there
  bool lowercase =
      false;  // the data was lowercased (meta.json), so prompts are
};

// Loads the export in `dir`. Fails with NotFound naming a missing file (an
// export without job.yaml predates it: export again), InvalidArgument if a
// table's file does not hold the shape the job declares, and as
// CreateModel() if the job's model is not one this build knows.
absl::StatusOr<SavedModel> LoadSavedModel(const std::string& dir);

}  // namespace paramd

#endif  // PARAMD_TOOLS_SAVED_MODEL_H_
