// The cluster YAML: one file describes a whole job.
#ifndef PARAMD_COMMON_CONFIG_H_
#define PARAMD_COMMON_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/rpc_security.h"

namespace paramd {

// How a table's values start. Rows of sparse tables draw from a generator
// seeded by (seed, table name, key), so a value never depends on the shard.
struct InitializerConfig {
  std::string kind = "zeros";  // zeros | constant | uniform | normal
  double value = 0.0;          // constant: the value
  double scale = 0.0;          // uniform: half-width a; normal: stddev
  uint64_t seed = 1;
};

// A server-side optimizer. Weight decay is L2: grad += weight_decay * w.
// The learning rate at update t (0-based) is
// learning_rate / (1 + lr_decay * t).
struct OptimizerConfig {
  std::string kind = "sgd";  // sgd | momentum | adagrad | adam
  double learning_rate = 0.01;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double momentum = 0.9;             // momentum
  double initial_accumulator = 0.0;  // adagrad
  double beta1 = 0.9;                // adam
  double beta2 = 0.999;              // adam
  double epsilon = 1e-8;             // adagrad, adam
};

struct TableConfig {
  std::string name;
  bool sparse = false;
  std::vector<int64_t> shape;  // dense: dimensions, row-major
  int64_t width = 0;           // sparse: floats per row
  InitializerConfig init;
  OptimizerConfig optimizer;

  // Dense: product of the shape. Sparse: 0.
  int64_t size() const;

  // The loader refuses larger tables: a dense table holds at most 2^31
  // floats (8 GiB), and a sparse row at most 2^20 floats (4 MiB).
  static constexpr int64_t kMaxDenseElements = int64_t{1} << 31;
  static constexpr int64_t kMaxSparseWidth = int64_t{1} << 20;
};

enum class Consistency { kAsp, kBsp, kSsp };

// When and where the cluster writes consistent checkpoints.
struct CheckpointConfig {
  std::string dir;          // empty: no checkpoints; relative to the YAML
  double every_s = 0;       // coordinator asks every this many seconds; 0 off
  int64_t every_steps = 0;  // ... or every this many steps (versions); 0 off
  int keep = 3;             // newest checkpoints kept per daemon
};

// Who may talk to the cluster's daemons (rpc_security.h). YAML:
// security: {tls_cert, tls_key, tls_ca, mutual_tls, tokens, worker_token,
// server_token, admin_token}, paths relative to the YAML. Files only: the
// YAML never holds a secret.
struct SecurityConfig {
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  bool mutual_tls = false;
  std::string tokens;  // the tokens the coordinator and servers accept
  // Each role's own token, for the daemons `paramctl launch` starts (admin:
  // for paramctl itself).
  std::string worker_token;
  std::string server_token;
  std::string admin_token;

  // What a process of `role` uses; `accepts`: it serves calls that need
  // tokens (the coordinator and the servers).
  RpcSecurity For(Role role, bool accepts) const;
};

struct ModelConfig {
  std::string type;                      // logreg | nplm
  std::map<std::string, double> params;  // model-specific numbers
};

struct JobConfig {
  std::string name;
  std::string source;    // file name the config came from, for messages
  std::string base_dir;  // folder relative data paths resolve against
  ModelConfig model;
  Consistency consistency = Consistency::kBsp;
  int staleness = 0;    // ssp: clocks a worker may run ahead of the slowest
  bool average = true;  // bsp: average the workers' gradients (else sum)
  int epochs = 1;
  int batch_size = 32;
  bool shuffle = true;  // train each shard's examples in a seeded random order
  double lease_timeout_s = 10;
  double heartbeat_interval_s = 1;
  double eval_interval_s = 5;  // also at every epoch end; 0: only then
  std::string train_glob;      // absolute or relative to the YAML's folder
  std::string eval_path;       // held-out data; empty for none
  std::string test_path;       // final test data; empty for none
  // A malformed line of a training shard: skipped (logged and counted), or
  // the whole shard fails for this epoch (reported to the coordinator) and
  // the job moves on. YAML: data.bad_lines: skip | fail (default).
  bool skip_bad_lines = false;
  // A training shard that cannot be read (or has a malformed line under
  // bad_lines: fail) is marked failed, and then either left out of the
  // later epochs or ends the whole job with its error. YAML:
  // data.bad_shards: skip (default) | fail.
  bool fail_on_bad_shard = false;
  int num_servers = 1;
  int num_workers = 1;  // how many trainers `paramctl launch` starts
  std::vector<TableConfig> tables;
  CheckpointConfig checkpoint;
  SecurityConfig security;

  // Returns the table with this name, or nullptr.
  const TableConfig* FindTable(const std::string& name) const;
};

// Parses and validates YAML text. Relative data paths are resolved against
// `base_dir`. Errors are InvalidArgument, worded
// "<source>:<line>: <field path>: <what is wrong>" with a 1-based line.
absl::StatusOr<JobConfig> ParseJobConfig(const std::string& yaml,
                                         const std::string& source,
                                         const std::string& base_dir);

// Reads and parses a YAML file; relative paths resolve against its folder.
// Fails as ParseJobConfig does, with `path` as the source, and also with
// NotFound if the file cannot be opened, or InvalidArgument ("<path>: ...")
// for a folder or a file over 1 MiB. If `text` is set, the file's text goes
// there.
absl::StatusOr<JobConfig> LoadJobConfig(const std::string& path,
                                        std::string* text = nullptr);

// Returns the training shard files matching the job's glob, sorted, or an
// error if none match.
absl::StatusOr<std::vector<std::string>> ListTrainShards(const JobConfig& job);

}  // namespace paramd

#endif  // PARAMD_COMMON_CONFIG_H_
