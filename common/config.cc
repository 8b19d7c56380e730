#include "common/config.h"

#include <glob.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/small_file.h"
#include "common/status_macros.h"
#include "common/yaml_reader.h"

namespace paramd {
namespace {

// Longer files are refused unread: a config is a few KiB.
constexpr size_t kMaxConfigBytes = size_t{1} << 20;
constexpr char kTopLevelMap[] = "a map with job, data, model and tables";

absl::Status ReadInitializer(const YamlReader& r, InitializerConfig* init) {
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
  if (!(init->scale >= 0)) {
    return r.Error("scale",
                   absl::StrCat("must be a number >= 0, got ", init->scale));
  }
  return absl::OkStatus();
}

absl::Status ReadOptimizer(const YamlReader& r, OptimizerConfig* opt) {
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
  if (!(opt->learning_rate > 0)) {
    return r.Error(
        "learning_rate",
        absl::StrCat("must be a finite number > 0, got ", opt->learning_rate));
  }
  return absl::OkStatus();
}

// A dense table's shape: positive dimensions whose product stays within
// TableConfig::kMaxDenseElements (checked before it could overflow).
absl::Status ReadShape(const YamlReader& r, std::vector<int64_t>* shape) {
  PARAMD_RETURN_IF_ERROR(r.Require("shape"));
  PARAMD_RETURN_IF_ERROR(r.Get("shape", shape));
  if (shape->empty())
    return r.Error("shape", "must not be empty (a scalar is [1])");
  int64_t elements = 1;
  for (size_t i = 0; i < shape->size(); ++i) {
    const int64_t d = (*shape)[i];
    if (d <= 0) {
      return r.ItemError("shape", i,
                         absl::StrCat("dimensions must be positive, got ", d));
    }
    if (elements > TableConfig::kMaxDenseElements / d) {
      return r.Error(
          "shape",
          absl::StrCat("[", absl::StrJoin(*shape, ", "), "] has more than ",
                       TableConfig::kMaxDenseElements,
                       " elements, the cap for a dense table"));
    }
    elements *= d;
  }
  return absl::OkStatus();
}

absl::Status ReadTable(const YamlReader& r, const OptimizerConfig& default_opt,
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
    if (table->width <= 0 || table->width > TableConfig::kMaxSparseWidth) {
      return r.Error("width", absl::StrCat("must be positive and at most ",
                                           TableConfig::kMaxSparseWidth,
                                           ", got ", table->width));
    }
  } else {
    PARAMD_RETURN_IF_ERROR(ReadShape(r, &table->shape));
  }
  PARAMD_RETURN_IF_ERROR(ReadInitializer(r.Child("init"), &table->init));
  table->optimizer = default_opt;
  return ReadOptimizer(r.Child("optimizer"), &table->optimizer);
}

absl::Status ReadConsistency(const YamlReader& r, JobConfig* job) {
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
  if (job->staleness < 0) {
    return r.Error("staleness",
                   absl::StrCat("must be >= 0, got ", job->staleness));
  }
  if (job->staleness > 0 && job->consistency != Consistency::kSsp) {
    return r.Error("staleness", absl::StrCat("applies to consistency: ssp only "
                                             "(this job is ",
                                             consistency, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckJobNumbers(const YamlReader& r, const JobConfig& job) {
  if (job.epochs <= 0) {
    return r.Error("epochs",
                   absl::StrCat("must be positive, got ", job.epochs));
  }
  if (job.batch_size <= 0) {
    return r.Error("batch_size",
                   absl::StrCat("must be positive, got ", job.batch_size));
  }
  if (!(job.heartbeat_interval_s > 0)) {
    return r.Error("heartbeat_interval_s", "must be positive");
  }
  if (!(job.lease_timeout_s > job.heartbeat_interval_s)) {
    return r.Error("lease_timeout_s",
                   "must be longer than heartbeat_interval_s");
  }
  if (!(job.eval_interval_s >= 0)) {
    return r.Error("eval_interval_s", "must be >= 0 (0: at epoch ends only)");
  }
  return absl::OkStatus();
}

absl::Status ReadJob(const YamlReader& r, JobConfig* job) {
  PARAMD_RETURN_IF_ERROR(
      r.OnlyKeys({"name", "consistency", "combine", "epochs", "batch_size",
                  "lease_timeout_s", "heartbeat_interval_s", "eval_interval_s",
                  "shuffle", "staleness"}));
  PARAMD_RETURN_IF_ERROR(r.Get("name", &job->name));
  PARAMD_RETURN_IF_ERROR(ReadConsistency(r, job));
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
  return CheckJobNumbers(r, *job);
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

absl::Status ReadData(const YamlReader& r, const std::string& base_dir,
                      JobConfig* job) {
  PARAMD_RETURN_IF_ERROR(
      r.OnlyKeys({"train", "eval", "test", "bad_lines", "bad_shards"}));
  PARAMD_RETURN_IF_ERROR(r.Require("train"));
  PARAMD_RETURN_IF_ERROR(r.Get("train", &job->train_glob));
  std::string bad_lines = "fail";
  std::string bad_shards = "skip";
  PARAMD_RETURN_IF_ERROR(r.Get("bad_lines", &bad_lines));
  PARAMD_RETURN_IF_ERROR(r.Get("bad_shards", &bad_shards));
  for (const auto& [key, value] :
       {std::pair<const char*, const std::string&>{"bad_lines", bad_lines},
        {"bad_shards", bad_shards}}) {
    if (value != "fail" && value != "skip") {
      return r.Error(key,
                     absl::StrCat("must be skip or fail, got '", value, "'"));
    }
  }
  job->skip_bad_lines = bad_lines == "skip";
  job->fail_on_bad_shard = bad_shards == "fail";
  PARAMD_RETURN_IF_ERROR(r.Get("eval", &job->eval_path));
  PARAMD_RETURN_IF_ERROR(r.Get("test", &job->test_path));
  job->train_glob = Resolve(base_dir, job->train_glob);
  job->eval_path = Resolve(base_dir, job->eval_path);
  job->test_path = Resolve(base_dir, job->test_path);
  return absl::OkStatus();
}

absl::Status ReadCheckpoint(const YamlReader& r, const std::string& base_dir,
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

absl::Status ReadSecurity(const YamlReader& r, const std::string& base_dir,
                          SecurityConfig* security) {
  PARAMD_RETURN_IF_ERROR(
      r.OnlyKeys({"tls_cert", "tls_key", "tls_ca", "mutual_tls", "tokens",
                  "worker_token", "server_token", "admin_token"}));
  const std::pair<const char*, std::string*> paths[] = {
      {"tls_cert", &security->tls_cert},
      {"tls_key", &security->tls_key},
      {"tls_ca", &security->tls_ca},
      {"tokens", &security->tokens},
      {"worker_token", &security->worker_token},
      {"server_token", &security->server_token},
      {"admin_token", &security->admin_token}};
  for (const auto& [key, path] : paths) {
    PARAMD_RETURN_IF_ERROR(r.Get(key, path));
    *path = Resolve(base_dir, *path);
  }
  PARAMD_RETURN_IF_ERROR(r.Get("mutual_tls", &security->mutual_tls));
  if (security->tls_cert.empty() != security->tls_key.empty()) {
    return security->tls_key.empty() ? r.Error("tls_cert", "needs tls_key too")
                                     : r.Error("tls_key", "needs tls_cert too");
  }
  if (security->mutual_tls &&
      (security->tls_cert.empty() || security->tls_ca.empty())) {
    return r.Error("mutual_tls", "needs tls_cert, tls_key and tls_ca");
  }
  if (security->tokens.empty() &&
      !(security->worker_token + security->server_token + security->admin_token)
           .empty()) {
    return r.Error("tokens", "is required to check the role tokens");
  }
  if (!security->tokens.empty() &&
      (security->worker_token.empty() || security->server_token.empty() ||
       security->admin_token.empty())) {
    return r.Error("tokens",
                   "needs worker_token, server_token and admin_token too, "
                   "for the daemons to present");
  }
  return absl::OkStatus();
}

absl::Status ReadModel(const YamlReader& r, ModelConfig* model) {
  PARAMD_RETURN_IF_ERROR(r.DistinctKeys());
  PARAMD_RETURN_IF_ERROR(r.Require("type"));
  PARAMD_RETURN_IF_ERROR(r.Get("type", &model->type));
  for (const std::string& key : r.Keys()) {
    if (key == "type") continue;
    PARAMD_RETURN_IF_ERROR(r.Get(key, &model->params[key]));
  }
  return absl::OkStatus();
}

absl::Status ReadCluster(const YamlReader& r, JobConfig* job) {
  PARAMD_RETURN_IF_ERROR(r.OnlyKeys({"num_servers", "num_workers"}));
  PARAMD_RETURN_IF_ERROR(r.Get("num_servers", &job->num_servers));
  PARAMD_RETURN_IF_ERROR(r.Get("num_workers", &job->num_workers));
  if (job->num_servers <= 0 || job->num_servers > 1024) {
    return r.Error(
        "num_servers",
        absl::StrCat("must be between 1 and 1024, got ", job->num_servers));
  }
  if (job->num_workers <= 0) {
    return r.Error("num_workers",
                   absl::StrCat("must be positive, got ", job->num_workers));
  }
  return absl::OkStatus();
}

absl::Status ReadTables(const YamlReader& r, JobConfig* job) {
  PARAMD_RETURN_IF_ERROR(r.Require("tables"));
  std::vector<YamlReader> items;
  PARAMD_RETURN_IF_ERROR(r.GetList("tables", &items));
  OptimizerConfig default_opt;
  PARAMD_RETURN_IF_ERROR(ReadOptimizer(r.Child("optimizer"), &default_opt));
  std::set<std::string> names;
  for (const YamlReader& item : items) {
    TableConfig table;
    PARAMD_RETURN_IF_ERROR(ReadTable(item, default_opt, &table));
    if (!names.insert(table.name).second) {
      return item.Error("name",
                        absl::StrCat("duplicate table '", table.name, "'"));
    }
    job->tables.push_back(std::move(table));
  }
  return absl::OkStatus();
}

absl::Status ReadAll(const YamlReader& r, const std::string& base_dir,
                     JobConfig* job) {
  PARAMD_RETURN_IF_ERROR(
      r.OnlyKeys({"job", "cluster", "data", "model", "optimizer", "tables",
                  "checkpoint", "security"}));
  PARAMD_RETURN_IF_ERROR(r.Require("job"));
  PARAMD_RETURN_IF_ERROR(r.Require("data"));
  PARAMD_RETURN_IF_ERROR(r.Require("model"));
  PARAMD_RETURN_IF_ERROR(ReadJob(r.Child("job"), job));
  PARAMD_RETURN_IF_ERROR(ReadCluster(r.Child("cluster"), job));
  PARAMD_RETURN_IF_ERROR(ReadData(r.Child("data"), base_dir, job));
  PARAMD_RETURN_IF_ERROR(ReadModel(r.Child("model"), &job->model));
  PARAMD_RETURN_IF_ERROR(
      ReadCheckpoint(r.Child("checkpoint"), base_dir, &job->checkpoint));
  PARAMD_RETURN_IF_ERROR(
      ReadSecurity(r.Child("security"), base_dir, &job->security));
  return ReadTables(r, job);
}

}  // namespace

RpcSecurity SecurityConfig::For(Role role, bool accepts) const {
  RpcSecurity security;
  security.tls_cert = tls_cert;
  security.tls_key = tls_key;
  security.tls_ca = tls_ca;
  security.mutual_tls = mutual_tls;
  if (accepts) security.tokens_file = tokens;
  switch (role) {
    case Role::kWorker:
      security.token_file = worker_token;
      break;
    case Role::kServer:
      security.token_file = server_token;
      break;
    case Role::kAdmin:
      security.token_file = admin_token;
      break;
  }
  return security;
}

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
  PARAMD_RETURN_IF_ERROR(YamlReader::ReadDocument(
      yaml, source, kTopLevelMap,
      [&](const YamlReader& r) { return ReadAll(r, base_dir, &job); }));
  return job;
}

absl::StatusOr<JobConfig> LoadJobConfig(const std::string& path,
                                        std::string* text) {
  PARAMD_ASSIGN_OR_RETURN(std::string read,
                          ReadSmallFile(path, "config", kMaxConfigBytes));
  std::error_code error;
  const std::filesystem::path dir =
      std::filesystem::absolute(path, error).parent_path();
  absl::StatusOr<JobConfig> job = ParseJobConfig(read, path, dir.string());
  if (text != nullptr) *text = std::move(read);
  return job;
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
