#include "tools/export.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/grpc_status.h"
#include "common/rpc_util.h"
#include "common/status_macros.h"
#include "common/tensor.h"
#include "paramd/v1/coordinator.grpc.pb.h"
#include "paramd/v1/ps.grpc.pb.h"
#include "tools/npy.h"
#include "worker/ps_client.h"

namespace paramd {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::paramd::v1;

constexpr char kIndexFile[] = "index.json";
constexpr char kVocabFile[] = "vocab.txt";
constexpr char kMetaFile[] = "meta.json";
constexpr char kConfigFile[] = "job.yaml";

// One table's entry in index.json.
struct IndexEntry {
  std::string name;
  bool sparse = false;
  std::vector<int64_t> shape;
  std::string file;
  std::string keys_file;  // sparse tables only
};

// `text` as a JSON string literal.
std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\", std::string(1, c));
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", c));
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

// `files` maps index.json's keys for the copied files to their names in the
// export ("" for none).
std::string IndexJson(
    const JobConfig& job, const std::vector<IndexEntry>& entries,
    const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<std::string> tables;
  for (const IndexEntry& e : entries) {
    std::string table = absl::StrCat(
        "{\"name\": ", JsonString(e.name), ", \"kind\": \"",
        e.sparse ? "sparse" : "dense", "\", \"shape\": [",
        absl::StrJoin(e.shape, ", "),
        "], \"dtype\": \"float32\", \"file\": ", JsonString(e.file));
    if (e.sparse) {
      absl::StrAppend(&table, ", \"keys_file\": ", JsonString(e.keys_file),
                      ", \"keys_dtype\": \"uint64\"");
    }
    tables.push_back(table + "}");
  }
  std::string json = absl::StrCat("{\n  \"job\": ", JsonString(job.name),
                                  ",\n  \"tables\": [\n    ",
                                  absl::StrJoin(tables, ",\n    "), "\n  ]");
  for (const auto& [key, file] : files) {
    absl::StrAppend(&json, ",\n  \"", key,
                    "\": ", file.empty() ? "null" : JsonString(file));
  }
  return json + "\n}\n";
}

std::string ValuesFile(const TableConfig& table) {
  return absl::StrCat(table.name, ".npy");
}

std::string KeysFile(const TableConfig& table) {
  return absl::StrCat(table.name, ".keys.npy");
}

// Returns InvalidArgument if a table's name cannot name a file, or two
// tables would write the same file.
absl::Status CheckFileNames(const JobConfig& job) {
  std::set<std::string> files = {kIndexFile, kVocabFile, kMetaFile,
                                 kConfigFile};
  for (const TableConfig& table : job.tables) {
    const std::string& name = table.name;
    if (name.empty() || name[0] == '.' ||
        name.find_first_of(std::string("/\\\0", 3)) != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("table '", name, "' cannot be exported: its name is ",
                       "not a plain file name"));
    }
    for (const std::string& file :
         {ValuesFile(table), table.sparse ? KeysFile(table) : ""}) {
      if (!file.empty() && !files.insert(file).second) {
        return absl::InvalidArgumentError(absl::StrCat(
            "table '", name, "' cannot be exported: another table also ",
            "writes ", file));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string text(std::istreambuf_iterator<char>(in), {});
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return text;
}

// Reads a whole job's tables from its parameter servers into files.
// Thread-compatible.
class Exporter {
 public:
  Exporter(const JobConfig& job, const std::vector<std::string>& servers,
           const std::string& out_dir, const ExportOptions& options);

  absl::Status Run();

 private:
  using Call = std::function<grpc::Status(v1::ParameterServer::Stub*,
                                          grpc::ClientContext*)>;

  // Runs `call` on the server of `shard` with retries; errors name it.
  absl::Status CallShard(int32_t shard, const Call& call);
  // Checks every server is up, holds its shard and has the job's tables.
  absl::Status CheckServers();
  absl::Status Pull(const std::string& table, const ParamRequest& request,
                    Params* params);
  absl::StatusOr<std::vector<uint64_t>> ListKeys(const std::string& table);
  absl::Status ExportDense(const TableConfig& table, IndexEntry* entry);
  absl::Status ExportSparse(const TableConfig& table, IndexEntry* entry);
  // Copies `name` (vocab.txt, meta.json) from the job's data folder, if it
  // is there; returns its name in out_dir or "".
  absl::StatusOr<std::string> CopyDataFile(const std::string& name);
  // Copies the job's YAML, if it came from a file, as job.yaml; returns
  // that name or "".
  absl::StatusOr<std::string> CopyConfig();
  std::string Path(const std::string& file) const;
  bool stopped() const { return options_.stop != nullptr && *options_.stop; }

  const JobConfig& job_;
  const std::vector<std::string>& servers_;
  const std::string out_dir_;
  const ExportOptions options_;
  std::vector<std::unique_ptr<v1::ParameterServer::Stub>> stubs_;
  PsClient client_;
};

Exporter::Exporter(const JobConfig& job,
                   const std::vector<std::string>& servers,
                   const std::string& out_dir, const ExportOptions& options)
    : job_(job),
      servers_(servers),
      out_dir_(out_dir),
      options_(options),
      client_(job, servers, /*worker_id=*/0, options.rpc_timeout,
              options.retry_budget, [this] { return stopped(); }) {
  for (const std::string& address : servers) {
    stubs_.push_back(v1::ParameterServer::NewStub(MakeChannel(address)));
  }
}

std::string Exporter::Path(const std::string& file) const {
  return (fs::path(out_dir_) / file).string();
}

absl::Status Exporter::CallShard(int32_t shard, const Call& call) {
  absl::Status status = Retry(
      [&] {
        grpc::ClientContext context;
        SetTimeout(&context, options_.rpc_timeout);
        return FromGrpcStatus(call(stubs_[shard].get(), &context));
      },
      options_.retry_budget, options_.stop);
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat("parameter server ", shard, " at ",
                                   servers_[shard], ": ", status.message()));
}

absl::Status Exporter::CheckServers() {
  const int32_t n = static_cast<int32_t>(servers_.size());
  for (int32_t s = 0; s < n; ++s) {
    v1::ServerInfoResponse info;
    PARAMD_RETURN_IF_ERROR(CallShard(s, [&](auto* stub, auto* context) {
      info.Clear();
      return stub->GetServerInfo(context, v1::ServerInfoRequest(), &info);
    }));
    if (info.shard() != s || info.num_shards() != n) {
      return absl::FailedPreconditionError(absl::StrCat(
          "parameter server at ", servers_[s], " holds shard ", info.shard(),
          " of ", info.num_shards(), ", expected shard ", s, " of ", n));
    }
    for (const TableConfig& table : job_.tables) {
      if (info.table_sizes().count(table.name) == 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "parameter server ", s, " at ", servers_[s], " has no table '",
            table.name, "': is ", job_.source, " the running job's config?"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Exporter::Pull(const std::string& table,
                            const ParamRequest& request, Params* params) {
  absl::StatusOr<int64_t> clock = client_.Pull(-1, request, params);
  if (clock.ok()) return absl::OkStatus();
  return absl::Status(
      clock.status().code(),
      absl::StrCat("pulling table '", table, "': ", clock.status().message()));
}

absl::StatusOr<std::vector<uint64_t>> Exporter::ListKeys(
    const std::string& table) {
  std::vector<uint64_t> keys;
  for (int32_t s = 0; s < static_cast<int32_t>(servers_.size()); ++s) {
    v1::ListKeysRequest request;
    request.set_table(table);
    v1::ListKeysResponse response;
    PARAMD_RETURN_IF_ERROR(CallShard(s, [&](auto* stub, auto* context) {
      return stub->ListKeys(context, request, &response);
    }));
    int64_t count = 0;
    PARAMD_RETURN_IF_ERROR(CountKeys(response.keys(), "listed keys", &count));
    const std::vector<uint64_t> shard_keys = DecodeKeys(response.keys());
    keys.insert(keys.end(), shard_keys.begin(), shard_keys.end());
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

absl::Status Exporter::ExportDense(const TableConfig& table,
                                   IndexEntry* entry) {
  ParamRequest request;
  request.dense.insert(table.name);
  Params params;
  PARAMD_RETURN_IF_ERROR(Pull(table.name, request, &params));
  entry->shape = table.shape;
  entry->file = ValuesFile(table);
  return WriteNpy(Path(entry->file), entry->shape, params.dense[table.name]);
}

absl::Status Exporter::ExportSparse(const TableConfig& table,
                                    IndexEntry* entry) {
  PARAMD_ASSIGN_OR_RETURN(const std::vector<uint64_t> keys,
                          ListKeys(table.name));
  const int64_t width = table.width;
  // Whole rows per pull, and at most a quarter of the message limit.
  const int64_t fit = kMaxMessageBytes / 4 / (width * sizeof(float));
  const size_t chunk = static_cast<size_t>(
      std::max<int64_t>(1, std::min(options_.keys_per_pull, fit)));
  std::vector<float> values(keys.size() * width);
  for (size_t begin = 0; begin < keys.size(); begin += chunk) {
    ParamRequest request;
    std::vector<uint64_t>& part = request.sparse[table.name];
    part.assign(keys.begin() + begin,
                keys.begin() + std::min(keys.size(), begin + chunk));
    Params params;
    PARAMD_RETURN_IF_ERROR(Pull(table.name, request, &params));
    const SparseRows& rows = params.sparse[table.name];
    for (size_t i = 0; i < part.size(); ++i) {
      absl::Span<const float> row = rows.Row(part[i]);
      if (static_cast<int64_t>(row.size()) != width) {
        return absl::DataLossError(absl::StrCat(
            "table '", table.name, "': no row came back for key ", part[i]));
      }
      std::copy(row.begin(), row.end(), values.begin() + (begin + i) * width);
    }
  }
  entry->shape = {static_cast<int64_t>(keys.size()), width};
  entry->file = ValuesFile(table);
  entry->keys_file = KeysFile(table);
  const int64_t num_keys = static_cast<int64_t>(keys.size());
  PARAMD_RETURN_IF_ERROR(WriteNpy(Path(entry->keys_file), {num_keys}, keys));
  return WriteNpy(Path(entry->file), entry->shape, values);
}

absl::StatusOr<std::string> Exporter::CopyDataFile(const std::string& name) {
  if (job_.train_glob.empty()) return std::string();
  const fs::path source = fs::path(job_.train_glob).parent_path() / name;
  std::error_code error;
  if (!fs::is_regular_file(source, error)) return std::string();
  PARAMD_ASSIGN_OR_RETURN(const std::string text, ReadFile(source.string()));
  PARAMD_RETURN_IF_ERROR(WriteFileAtomically(Path(name), {text}));
  return name;
}

absl::StatusOr<std::string> Exporter::CopyConfig() {
  std::error_code error;
  if (!fs::is_regular_file(job_.source, error)) return std::string();
  PARAMD_ASSIGN_OR_RETURN(const std::string text, ReadFile(job_.source));
  PARAMD_RETURN_IF_ERROR(WriteFileAtomically(Path(kConfigFile), {text}));
  return std::string(kConfigFile);
}

absl::Status Exporter::Run() {
  if (servers_.empty()) {
    return absl::InvalidArgumentError("no parameter servers to export from");
  }
  PARAMD_RETURN_IF_ERROR(CheckFileNames(job_));
  PARAMD_RETURN_IF_ERROR(CheckServers());
  std::error_code error;
  fs::create_directories(out_dir_, error);
  if (error) {
    return absl::ErrnoToStatus(error.value(),
                               absl::StrCat("cannot create ", out_dir_));
  }
  std::vector<IndexEntry> entries;
  for (const TableConfig& table : job_.tables) {
    if (stopped()) return absl::CancelledError("export interrupted");
    IndexEntry entry;
    entry.name = table.name;
    entry.sparse = table.sparse;
    PARAMD_RETURN_IF_ERROR(table.sparse ? ExportSparse(table, &entry)
                                        : ExportDense(table, &entry));
    entries.push_back(std::move(entry));
  }
  PARAMD_ASSIGN_OR_RETURN(const std::string vocab, CopyDataFile(kVocabFile));
  PARAMD_ASSIGN_OR_RETURN(const std::string meta, CopyDataFile(kMetaFile));
  PARAMD_ASSIGN_OR_RETURN(const std::string config, CopyConfig());
  const std::string json = IndexJson(
      job_, entries, {{"vocab", vocab}, {"meta", meta}, {"config", config}});
  return WriteFileAtomically(Path(kIndexFile), {json});
}

// Returns Unavailable naming the first server not registered yet, if any.
absl::Status CheckRegistered(const v1::GetStatusResponse& status) {
  for (int s = 0; s < status.servers_size(); ++s) {
    if (status.servers(s).empty()) {
      return absl::UnavailableError(
          absl::StrCat("parameter server ", s, " has not registered yet"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> FetchServers(
    const std::string& coordinator, const JobConfig& job,
    const ExportOptions& options) {
  auto stub = v1::Coordinator::NewStub(MakeChannel(coordinator));
  v1::GetStatusResponse status;
  absl::Status rpc = Retry(
      [&] {
        grpc::ClientContext context;
        SetTimeout(&context, options.rpc_timeout);
        status.Clear();
        PARAMD_RETURN_IF_ERROR(FromGrpcStatus(
            stub->GetStatus(&context, v1::GetStatusRequest(), &status)));
        return CheckRegistered(status);
      },
      options.retry_budget, options.stop);
  if (!rpc.ok()) {
    return absl::Status(
        rpc.code(), absl::StrCat("cannot get the parameter servers from the "
                                 "coordinator at ",
                                 coordinator, ": ", rpc.message()));
  }
  if (status.job() != job.name || status.servers_size() != job.num_servers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the coordinator at ", coordinator, " runs job '", status.job(),
        "' on ", status.servers_size(), " servers, but ", job.source,
        " describes job '", job.name, "' on ", job.num_servers));
  }
  return std::vector<std::string>(status.servers().begin(),
                                  status.servers().end());
}

absl::Status ExportModel(const JobConfig& job,
                         const std::vector<std::string>& servers,
                         const std::string& out_dir,
                         const ExportOptions& options) {
  return Exporter(job, servers, out_dir, options).Run();
}

}  // namespace paramd
