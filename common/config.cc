#include "common/config.h"

#include <glob.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "yaml-cpp/yaml.h"

namespace paramd {
namespace {

// Reads fields of one YAML map and turns every problem into a Status that
// names the file and the dotted field path. yaml-cpp throws; we catch here.
class Reader {
 public:
  Reader(const std::string& source, const YAML::Node& node, std::string path)
      : source_(source), node_(node), path_(std::move(path)) {}

  absl::Status Error(const std::string& field, const std::string& what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": ", Field(field), ": ", what));
  }

  std::string Field(const std::string& field) const {
    return path_.empty() ? field : absl::StrCat(path_, ".", field);
  }

  bool Has(const std::string& field) const {
    return node_.IsMap() && node_[field].IsDefined() && !node_[field].IsNull();
  }

  // The map under `field`, or an empty node when it is absent.
  Reader Child(const std::string& field) const {
    return Reader(source_, Has(field) ? node_[field] : YAML::Node(),
                  Field(field));
  }

  // Reads a scalar into `out` if present; fails if present with a bad type.
  template <typename T>
  absl::Status Get(const std::string& field, T* out) const {
    if (!Has(field)) return absl::OkStatus();
    try {
      *out = node_[field].as<T>();
    } catch (const std::exception&) {
      return Error(field, absl::StrCat("expected a ", TypeName(out), ", got '",
                                       Text(node_[field]), "'"));
    }
    return absl::OkStatus();
  }

  absl::Status Require(const std::string& field) const {
    if (!Has(field)) return Error(field, "is required");
    return absl::OkStatus();
  }

  // Fails on keys outside `allowed`, which catches typos.
  absl::Status OnlyKeys(const std::set<std::string>& allowed) const {
    if (!node_.IsDefined() || node_.IsNull()) return absl::OkStatus();
    if (!node_.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_, ": ", path_.empty() ? "top level" : path_,
                       ": expected a map"));
    }
    for (const auto& kv : node_) {
      const std::string key = kv.first.as<std::string>();
      if (!allowed.count(key)) {
        return Error(key, absl::StrCat("unknown field (allowed: ",
                                       absl::StrJoin(allowed, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }

  const YAML::Node& node() const { return node_; }

 private:
  static const char* TypeName(const std::string*) { return "string"; }
  static const char* TypeName(const double*) { return "number"; }
  static const char* TypeName(const int*) { return "integer"; }
  static const char* TypeName(const int64_t*) { return "integer"; }
  static const char* TypeName(const uint64_t*) {
    return "non-negative integer";
  }
  static const char* TypeName(const bool*) { return "boolean"; }
  static const char* TypeName(const std::vector<int64_t>*) {
    return "list of integers";
  }
  static std::string Text(const YAML::Node& n) {
    std::stringstream out;
    out << n;
    return out.str();
  }

  const std::string& source_;
  YAML::Node node_;
  std::string path_;
};

absl::Status ReadInitializer(const Reader& r, InitializerConfig* init) {
  PARAMD_RETURN_IF_ERROR(r.OnlyKeys({"kind", "value", "scale", "seed"}));
  PARAMD_RETURN_IF_ERROR(r.Get("kind", &init->kind));
  PARAMD_RETURN_IF_ERROR(r.Get("value", &init->value));
  PARAMD_RETURN_IF_ERROR(r.Get("scale", &init->scale));
  PARAMD_RETURN_IF_ERROR(r.Get("seed", &init->seed));
  static const std::set<std::string> kKinds = {"zeros", "constant", "uniform",
                                               "normal"};
  if (!kKinds.count(init->kind)) {
    return r.Error("kind", absl::StrCat("unknown initializer '", init->kind,
                                        "' (expected zeros, constant, "
                                        "uniform or normal)"));
  }
  if (!(init->scale >= 0) || !std::isfinite(init->scale)) {
    return r.Error("scale", "must be a finite number >= 0");
  }
  return absl::OkStatus();
}

absl::Status ReadOptimizer(const Reader& r, OptimizerConfig* opt) {
  PARAMD_RETURN_IF_ERROR(r.OnlyKeys(
      {"kind", "learning_rate", "lr_decay", "weight_decay", "momentum",
       "initial_accumulator", "beta1", "beta2", "epsilon"}));
  PARAMD_RETURN_IF_ERROR(r.Get("kind", &opt->kind));
  PARAMD_RETURN_IF_ERROR(r.Get("learning_rate", &opt->learning_rate));
  PARAMD_RETURN_IF_ERROR(r.Get("lr_decay", &opt->lr_decay));
  PARAMD_RETURN_IF_ERROR(r.Get("weight_decay", &opt->weight_decay));
  PARAMD_RETURN_IF_ERROR(r.Get("momentum", &opt->momentum));
  PARAMD_RETURN_IF_ERROR(
      r.Get("initial_accumulator", &opt->initial_accumulator));
  PARAMD_RETURN_IF_ERROR(r.Get("beta1", &opt->beta1));
  PARAMD_RETURN_IF_ERROR(r.Get("beta2", &opt->beta2));
  PARAMD_RETURN_IF_ERROR(r.Get("epsilon", &opt->epsilon));
  static const std::set<std::string> kKinds = {"sgd", "momentum", "adagrad",
                                               "adam"};
  if (!kKinds.count(opt->kind)) {
    return r.Error("kind", absl::StrCat("unknown optimizer '", opt->kind,
                                        "' (expected sgd, momentum, adagrad "
                                        "or adam)"));
  }
  if (!(opt->learning_rate > 0) || !std::isfinite(opt->learning_rate)) {
    return r.Error("learning_rate", "must be a finite number > 0");
  }
  return absl::OkStatus();
}

absl::Status ReadTable(const Reader& r, const OptimizerConfig& default_opt,
                       TableConfig* table) {
  PARAMD_RETURN_IF_ERROR(
      r.OnlyKeys({"name", "type", "shape", "width", "init", "optimizer"}));
  PARAMD_RETURN_IF_ERROR(r.Require("name"));
  PARAMD_RETURN_IF_ERROR(r.Get("name", &table->name));
  std::string type = "dense";
  PARAMD_RETURN_IF_ERROR(r.Get("type", &type));
  if (type != "dense" && type != "sparse") {
    return r.Error("type",
                   absl::StrCat("must be dense or sparse, got '", type, "'"));
  }
  table->sparse = type == "sparse";
  if (table->sparse) {
    PARAMD_RETURN_IF_ERROR(r.Require("width"));
    PARAMD_RETURN_IF_ERROR(r.Get("width", &table->width));
    if (table->width <= 0) return r.Error("width", "must be positive");
  } else {
    PARAMD_RETURN_IF_ERROR(r.Require("shape"));
    PARAMD_RETURN_IF_ERROR(r.Get("shape", &table->shape));
    if (table->shape.empty()) return r.Error("shape", "must not be empty");
    for (int64_t d : table->shape) {
      if (d <= 0) return r.Error("shape", "dimensions must be positive");
    }
  }
  PARAMD_RETURN_IF_ERROR(ReadInitializer(r.Child("init"), &table->init));
  table->optimizer = default_opt;
  return ReadOptimizer(r.Child("optimizer"), &table->optimizer);
}

absl::Status ReadJob(const Reader& r, JobConfig* job) {
  PARAMD_RETURN_IF_ERROR(
      r.OnlyKeys({"name", "consistency", "combine", "epochs", "batch_size",
                  "lease_timeout_s", "heartbeat_interval_s", "eval_interval_s",
                  "shuffle", "staleness"}));
  PARAMD_RETURN_IF_ERROR(r.Get("name", &job->name));
  std::string consistency = "bsp";
  PARAMD_RETURN_IF_ERROR(r.Get("consistency", &consistency));
  if (consistency == "bsp") {
    job->consistency = Consistency::kBsp;
  } else if (consistency == "asp") {
    job->consistency = Consistency::kAsp;
  } else if (consistency == "ssp") {
    job->consistency = Consistency::kSsp;
    PARAMD_RETURN_IF_ERROR(r.Require("staleness"));
  } else {
    return r.Error("consistency", absl::StrCat("must be bsp, asp or ssp, got '",
                                               consistency, "'"));
  }
  PARAMD_RETURN_IF_ERROR(r.Get("staleness", &job->staleness));
  if (job->staleness < 0) return r.Error("staleness", "must be >= 0");
  if (job->staleness > 0 && job->consistency != Consistency::kSsp) {
    return r.Error("staleness", "applies to consistency: ssp only");
  }
  std::string combine = "mean";
  PARAMD_RETURN_IF_ERROR(r.Get("combine", &combine));
  if (combine != "mean" && combine != "sum") {
    return r.Error("combine",
                   absl::StrCat("must be mean or sum, got '", combine, "'"));
  }
  job->average = combine == "mean";
  PARAMD_RETURN_IF_ERROR(r.Get("epochs", &job->epochs));
  PARAMD_RETURN_IF_ERROR(r.Get("batch_size", &job->batch_size));
  PARAMD_RETURN_IF_ERROR(r.Get("shuffle", &job->shuffle));
  PARAMD_RETURN_IF_ERROR(r.Get("lease_timeout_s", &job->lease_timeout_s));
  PARAMD_RETURN_IF_ERROR(
      r.Get("heartbeat_interval_s", &job->heartbeat_interval_s));
  PARAMD_RETURN_IF_ERROR(r.Get("eval_interval_s", &job->eval_interval_s));
  if (job->epochs <= 0) return r.Error("epochs", "must be positive");
  if (job->batch_size <= 0) return r.Error("batch_size", "must be positive");
  if (!(job->heartbeat_interval_s > 0)) {
    return r.Error("heartbeat_interval_s", "must be positive");
  }
  if (!(job->lease_timeout_s > job->heartbeat_interval_s)) {
    return r.Error("lease_timeout_s",
                   "must be longer than heartbeat_interval_s");
  }
  if (!(job->eval_interval_s >= 0)) {
    return r.Error("eval_interval_s", "must be >= 0 (0: at epoch ends only)");
  }
  return absl::OkStatus();
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

absl::Status ReadData(const Reader& r, const std::string& base_dir,
                      JobConfig* job) {
  PARAMD_RETURN_IF_ERROR(r.OnlyKeys({"train", "eval", "test"}));
  PARAMD_RETURN_IF_ERROR(r.Require("train"));
  PARAMD_RETURN_IF_ERROR(r.Get("train", &job->train_glob));
  PARAMD_RETURN_IF_ERROR(r.Get("eval", &job->eval_path));
  PARAMD_RETURN_IF_ERROR(r.Get("test", &job->test_path));
  job->train_glob = Resolve(base_dir, job->train_glob);
  job->eval_path = Resolve(base_dir, job->eval_path);
  job->test_path = Resolve(base_dir, job->test_path);
  return absl::OkStatus();
}

absl::Status ReadCheckpoint(const Reader& r, const std::string& base_dir,
                            CheckpointConfig* checkpoint) {
  PARAMD_RETURN_IF_ERROR(r.OnlyKeys({"dir", "every_s", "every_steps", "keep"}));
  PARAMD_RETURN_IF_ERROR(r.Get("dir", &checkpoint->dir));
  PARAMD_RETURN_IF_ERROR(r.Get("every_s", &checkpoint->every_s));
  PARAMD_RETURN_IF_ERROR(r.Get("every_steps", &checkpoint->every_steps));
  PARAMD_RETURN_IF_ERROR(r.Get("keep", &checkpoint->keep));
  if (!(checkpoint->every_s >= 0)) return r.Error("every_s", "must be >= 0");
  if (checkpoint->every_steps < 0) {
    return r.Error("every_steps", "must be >= 0");
  }
  if (checkpoint->keep < 1) return r.Error("keep", "must be at least 1");
  if (checkpoint->dir.empty() &&
      (checkpoint->every_s > 0 || checkpoint->every_steps > 0)) {
    return r.Error("dir", "is required to take checkpoints");
  }
  checkpoint->dir = Resolve(base_dir, checkpoint->dir);
  return absl::OkStatus();
}

absl::Status ReadModel(const Reader& r, ModelConfig* model) {
  PARAMD_RETURN_IF_ERROR(r.Require("type"));
  PARAMD_RETURN_IF_ERROR(r.Get("type", &model->type));
  for (const auto& kv : r.node()) {
    const std::string key = kv.first.as<std::string>();
    if (key == "type") continue;
    PARAMD_RETURN_IF_ERROR(r.Get(key, &model->params[key]));
  }
  return absl::OkStatus();
}

absl::Status ReadCluster(const Reader& r, JobConfig* job) {
  PARAMD_RETURN_IF_ERROR(r.OnlyKeys({"num_servers", "num_workers"}));
  PARAMD_RETURN_IF_ERROR(r.Get("num_servers", &job->num_servers));
  PARAMD_RETURN_IF_ERROR(r.Get("num_workers", &job->num_workers));
  if (job->num_servers <= 0 || job->num_servers > 1024) {
    return r.Error("num_servers", "must be between 1 and 1024");
  }
  if (job->num_workers <= 0) return r.Error("num_workers", "must be positive");
  return absl::OkStatus();
}

absl::Status ReadTables(const Reader& r, JobConfig* job) {
  PARAMD_RETURN_IF_ERROR(r.Require("tables"));
  const YAML::Node& list = r.node()["tables"];
  if (!list.IsSequence() || list.size() == 0) {
    return r.Error("tables", "must be a non-empty list");
  }
  OptimizerConfig default_opt;
  PARAMD_RETURN_IF_ERROR(ReadOptimizer(r.Child("optimizer"), &default_opt));
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    Reader table_reader(job->source, list[i], absl::StrCat("tables[", i, "]"));
    TableConfig table;
    PARAMD_RETURN_IF_ERROR(ReadTable(table_reader, default_opt, &table));
    if (!names.insert(table.name).second) {
      return table_reader.Error(
          "name", absl::StrCat("duplicate table '", table.name, "'"));
    }
    job->tables.push_back(std::move(table));
  }
  return absl::OkStatus();
}

absl::Status ReadAll(const Reader& r, const std::string& base_dir,
                     JobConfig* job) {
  PARAMD_RETURN_IF_ERROR(r.OnlyKeys({"job", "cluster", "data", "model",
                                     "optimizer", "tables", "checkpoint"}));
  PARAMD_RETURN_IF_ERROR(r.Require("job"));
  PARAMD_RETURN_IF_ERROR(r.Require("data"));
  PARAMD_RETURN_IF_ERROR(r.Require("model"));
  PARAMD_RETURN_IF_ERROR(ReadJob(r.Child("job"), job));
  PARAMD_RETURN_IF_ERROR(ReadCluster(r.Child("cluster"), job));
  PARAMD_RETURN_IF_ERROR(ReadData(r.Child("data"), base_dir, job));
  PARAMD_RETURN_IF_ERROR(ReadModel(r.Child("model"), &job->model));
  PARAMD_RETURN_IF_ERROR(
      ReadCheckpoint(r.Child("checkpoint"), base_dir, &job->checkpoint));
  return ReadTables(r, job);
}

}  // namespace

int64_t TableConfig::size() const {
  if (sparse) return 0;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const TableConfig* JobConfig::FindTable(const std::string& name) const {
  for (const TableConfig& t : tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<JobConfig> ParseJobConfig(const std::string& yaml,
                                         const std::string& source,
                                         const std::string& base_dir) {
  JobConfig job;
  job.source = source;
  job.base_dir = base_dir;
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not valid YAML: ", e.what()));
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected a YAML map at the top level"));
  }
  try {
    PARAMD_RETURN_IF_ERROR(
        ReadAll(Reader(job.source, root, ""), base_dir, &job));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": malformed YAML structure: ", e.what()));
  }
  return job;
}

absl::StatusOr<JobConfig> LoadJobConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open config"));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::error_code error;
  const std::filesystem::path dir =
      std::filesystem::absolute(path, error).parent_path();
  return ParseJobConfig(text.str(), path, dir.string());
}

absl::StatusOr<std::vector<std::string>> ListTrainShards(const JobConfig& job) {
  glob_t matches;
  const int rc = glob(job.train_glob.c_str(), 0, nullptr, &matches);
  std::vector<std::string> files;
  if (rc == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) {
      files.push_back(matches.gl_pathv[i]);
    }
  }
  globfree(&matches);
  if (files.empty()) {
    return absl::NotFoundError(absl::StrCat(
        job.source, ": data.train: no files match '", job.train_glob, "'"));
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace paramd
