#include "tools/saved_model.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/small_file.h"
#include "common/status_macros.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tools/npy.h"

namespace paramd {
namespace {

constexpr size_t kMaxSmallFile = size_t{1} << 20;

// Reads `path` as a float32 array of `shape`.
absl::StatusOr<NpyArray> ReadTable(const std::string& path,
                                   const std::vector<int64_t>& shape,
                                   NpyType type) {
  PARAMD_ASSIGN_OR_RETURN(NpyArray array, ReadNpy(path));
  if (array.type != type || array.shape != shape) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": holds ", type == array.type ? "" : "another type, ", "shape [",
        absl::StrJoin(array.shape, ", "), "]; the job's table needs [",
        absl::StrJoin(shape, ", "), "]"));
  }
  return array;
}

absl::Status LoadTable(const std::string& dir, const TableConfig& table,
                       Params* params) {
  const std::string values = absl::StrCat(dir, "/", table.name, ".npy");
  if (!table.sparse) {
    PARAMD_ASSIGN_OR_RETURN(NpyArray array,
                            ReadTable(values, table.shape, NpyType::kFloat32));
    params->dense[table.name] = std::move(array.floats);
    return absl::OkStatus();
  }
  const std::string keys_path = absl::StrCat(dir, "/", table.name, ".keys.npy");
  PARAMD_ASSIGN_OR_RETURN(NpyArray keys, ReadNpy(keys_path));
  if (keys.type != NpyType::kUint64 || keys.shape.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(keys_path, ": not a list of uint64 keys"));
  }
  PARAMD_ASSIGN_OR_RETURN(
      NpyArray rows,
      ReadTable(values, {keys.shape[0], table.width}, NpyType::kFloat32));
  SparseRows& out = params->sparse[table.name] = SparseRows(table.width);
  for (size_t i = 0; i < keys.uint64s.size(); ++i) {
    absl::Span<float> row = out.RowAt(out.Add(keys.uint64s[i]));
    std::copy_n(rows.floats.begin() + i * table.width, table.width,
                row.begin());
  }
  return absl::OkStatus();
}

// Whether meta.json in `dir` says the data was lowercased.
absl::StatusOr<bool> Lowercased(const std::string& dir) {
  const std::string path = dir + "/meta.json";
  if (!std::filesystem::exists(path)) return false;
  PARAMD_ASSIGN_OR_RETURN(const std::string text,
                          ReadSmallFile(path, "meta.json", kMaxSmallFile));
  google::protobuf::Struct meta;
  if (!google::protobuf::util::JsonStringToMessage(text, &meta).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not JSON"));
  }
  auto it = meta.fields().find("lowercase");
  return it != meta.fields().end() && it->second.bool_value();
}

}  // namespace

absl::StatusOr<SavedModel> LoadSavedModel(const std::string& dir) {
  const std::string config = dir + "/job.yaml";
  if (!std::filesystem::exists(config)) {
    return absl::NotFoundError(
        absl::StrCat(config, ": missing; is ", dir,
                     " a model that `paramctl export` wrote? (exports before "
                     "job.yaml was added need exporting again)"));
  }
  SavedModel saved;
  PARAMD_ASSIGN_OR_RETURN(saved.job, LoadJobConfig(config));
  PARAMD_ASSIGN_OR_RETURN(saved.model, CreateModel(saved.job));
  for (const TableConfig& table : saved.job.tables) {
    PARAMD_RETURN_IF_ERROR(LoadTable(dir, table, &saved.params));
  }
  std::ifstream vocab(dir + "/vocab.txt");
  for (std::string token; std::getline(vocab, token);) {
    saved.vocab.push_back(token);
  }
  PARAMD_ASSIGN_OR_RETURN(saved.lowercase, Lowercased(dir));
  return saved;
}

}  // namespace paramd
