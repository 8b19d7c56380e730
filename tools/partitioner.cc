#include "tools/partitioner.h"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/data_manifest.h"
#include "common/file_io.h"
#include "common/shard_map.h"
#include "common/status_macros.h"

namespace paramd {
namespace {

namespace v1 = ::paramd::v1;

constexpr int kMaxShards = 100000;
// Ends a document in "document" records: a line holding only a form feed.
constexpr char kDocumentEnd[] = "\f";

bool Blank(absl::string_view line) {
  return absl::StripAsciiWhitespace(line).empty();
}

// A form feed alone on its line (spaces, tabs and a CR after it allowed).
bool IsDocumentEnd(absl::string_view line) {
  return absl::ConsumePrefix(&line, kDocumentEnd) &&
         line.find_first_not_of(" \t\r") == absl::string_view::npos;
}

// The files `inputs` name, a folder standing for its files by name.
absl::StatusOr<std::vector<std::string>> ExpandInputs(
    const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    std::error_code error;
    if (std::filesystem::is_directory(input, error)) {
      std::vector<std::string> found;
      for (const auto& entry :
           std::filesystem::directory_iterator(input, error)) {
        const std::string name = entry.path().filename().string();
        if (entry.is_regular_file() && name[0] != '.' &&
            name != kManifestFile) {
          found.push_back(entry.path().string());
        }
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (std::filesystem::is_regular_file(input, error)) {
      files.push_back(input);
    } else {
      return absl::NotFoundError(
          absl::StrCat(input, ": no such file or folder"));
    }
  }
  if (files.empty()) {
    return absl::InvalidArgumentError("partition: no input files");
  }
  return files;
}

// Reads the records of files one at a time, each with its line ends and
// the separator that ends it ("\n\n" after a paragraph, "\f\n" after a
// document), so shards can be written by appending records.
class RecordReader {
 public:
  RecordReader(std::vector<std::string> files, std::string kind, bool header)
      : files_(std::move(files)), kind_(std::move(kind)), header_(header) {}

  // Sets *record and returns true, or returns false at the end of the last
  // file or on an error (see status()).
  bool Next(std::string* record) {
    record->clear();
    std::string line;
    while (ReadLine(&line)) {
      if (kind_ == "line") {
        if (line.empty()) continue;
        absl::StrAppend(record, line, "\n");
        return true;
      }
      const bool separator =
          kind_ == "paragraph" ? Blank(line) : IsDocumentEnd(line);
      if (!separator) absl::StrAppend(record, line, "\n");
      // A record ends at its separator or with its file.
      if ((separator || at_end_of_file_) && !record->empty()) {
        absl::StrAppend(record, kind_ == "paragraph" ? "" : kDocumentEnd, "\n");
        return true;
      }
    }
    return false;
  }

  const absl::Status& status() const { return status_; }
  // The first file's header line, with its line end ("" if none).
  const std::string& header() const { return header_line_; }
  // "<file>:<line>" of the line read last.
  std::string where() const {
    return absl::StrCat(files_[std::max<size_t>(next_file_, 1) - 1], ":",
                        line_number_);
  }

 private:
  // The next line of the current file, opening the next file as needed.
  // A record never spans files: at_end_of_file_ says a line was a file's
  // last.
  bool ReadLine(std::string* line) {
    at_end_of_file_ = false;
    while (true) {
      if (in_ != nullptr && std::getline(*in_, *line)) {
        ++line_number_;
        if (in_->peek() == std::char_traits<char>::eof()) {
          at_end_of_file_ = true;
        }
        return true;
      }
      if (in_ != nullptr && in_->bad()) {
        status_ = absl::DataLossError(absl::StrCat(where(), ": read failed"));
        return false;
      }
      if (next_file_ == files_.size()) return false;
      in_ =
          std::make_unique<std::ifstream>(files_[next_file_], std::ios::binary);
      ++next_file_;
      line_number_ = 0;
      if (!*in_) {
        status_ = absl::NotFoundError(
            absl::StrCat(files_[next_file_ - 1], ": cannot open"));
        return false;
      }
      if (header_) {
        std::string first;
        if (std::getline(*in_, first)) {
          ++line_number_;
          if (next_file_ == 1) header_line_ = first + "\n";
        }
      }
    }
  }

  const std::vector<std::string> files_;
  const std::string kind_;
  const bool header_;
  std::unique_ptr<std::ifstream> in_;
  size_t next_file_ = 0;
  int64_t line_number_ = 0;
  bool at_end_of_file_ = false;
  std::string header_line_;
  absl::Status status_;
};

absl::Status CheckOptions(const PartitionOptions& o) {
  if (o.out_dir.empty()) {
    return absl::InvalidArgumentError("partition needs --out=DIR");
  }
  if (o.num_shards < 1 || o.num_shards > kMaxShards) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--shards must be 1 to ", kMaxShards, ", got ", o.num_shards));
  }
  if (o.record != "line" && o.record != "paragraph" && o.record != "document") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--record must be line, paragraph or document, got '", o.record, "'"));
  }
  if (o.by != "hash" && o.by != "key" && o.by != "round_robin" &&
      o.by != "range") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--by must be hash, key, round_robin or range, got '", o.by, "'"));
  }
  if (o.by == "key" && (o.key_column < 0 || o.record != "line")) {
    return absl::InvalidArgumentError(
        "--by=key needs --key_column=K (0-based) and --record=line");
  }
  return absl::OkStatus();
}

// Column `column` of `line` (its line end dropped), or an error naming
// `where`.
absl::StatusOr<absl::string_view> KeyOf(absl::string_view line, int column,
                                        char delimiter,
                                        const std::string& where) {
  absl::ConsumeSuffix(&line, "\n");
  absl::ConsumeSuffix(&line, "\r");
  int i = 0;
  for (absl::string_view cell : absl::StrSplit(line, delimiter)) {
    if (i++ == column) return cell;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": ", i, " column(s); --key_column=", column,
                   " needs ", column + 1));
}

// A shard file being written, with its manifest entry kept current.
struct ShardWriter {
  std::ofstream out;
  v1::ShardManifestEntry entry;

  void Write(absl::string_view bytes, bool is_record) {
    out.write(bytes.data(), bytes.size());
    entry.set_bytes(entry.bytes() + bytes.size());
    entry.set_crc32(Crc32(bytes, entry.crc32()));
    if (is_record) entry.set_records(entry.records() + 1);
  }
};

// Random numbers that are the same on every machine (SplitMix64).
uint64_t NextRandom(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Rewrites the shard at `path` with its records in a seeded random order;
// `header` is the header line it starts with ("" for none).
absl::Status ShuffleShard(const std::string& path, const PartitionOptions& o,
                          const std::string& header, uint64_t seed,
                          ShardWriter* writer) {
  RecordReader reader({path}, o.record, /*header=*/!header.empty());
  std::vector<std::string> records;
  for (std::string record; reader.Next(&record);) {
    records.push_back(std::move(record));
  }
  PARAMD_RETURN_IF_ERROR(reader.status());
  for (size_t i = records.size(); i > 1; --i) {
    std::swap(records[i - 1], records[NextRandom(&seed) % i]);
  }
  const std::string file = writer->entry.file();
  writer->entry.Clear();
  writer->entry.set_file(file);
  writer->out.open(path, std::ios::binary | std::ios::trunc);
  writer->Write(header, /*is_record=*/false);
  for (const std::string& record : records) writer->Write(record, true);
  writer->out.close();
  if (!writer->out) return Errno("cannot write", path);
  return absl::OkStatus();
}

// Every shard file is open at once: lifts the soft limit on open files to
// the hard one, or says what to do if even that is too low.
absl::Status RaiseOpenFileLimit(int num_shards) {
  constexpr rlim_t kSpare = 64;  // stdin/out/err, inputs, the manifest
  struct rlimit limit = {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return absl::OkStatus();
  const rlim_t needed = static_cast<rlim_t>(num_shards) + kSpare;
  if (limit.rlim_cur >= needed) return absl::OkStatus();
  if (limit.rlim_max < needed) {
    return absl::InvalidArgumentError(
        absl::StrCat("--shards=", num_shards, " needs ", needed,
                     " open files; this process may open ", limit.rlim_max,
                     " (raise it with ulimit -n, or write fewer shards)"));
  }
  limit.rlim_cur = needed;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return Errno("cannot raise the open-file limit for", "--shards");
  }
  return absl::OkStatus();
}

// Writes the shards of `files` into options.out_dir, each named in
// manifest->shards() as soon as it is created.
absl::Status WriteShards(const PartitionOptions& options,
                         const std::vector<std::string>& files, uint64_t total,
                         v1::DataManifest* manifest) {
  for (const std::string& input : options.inputs) manifest->add_inputs(input);
  manifest->set_record(options.record);
  manifest->set_by(options.by);
  if (options.by == "key") {
    manifest->set_key_column(options.key_column);
    manifest->set_delimiter(std::string(1, options.delimiter));
  }
  manifest->set_shuffle_seed(options.shuffle_seed);
  const std::string extension =
      std::filesystem::path(files[0]).extension().string();
  std::vector<ShardWriter> shards(options.num_shards);
  for (int s = 0; s < options.num_shards; ++s) {
    shards[s].entry.set_file(absl::StrFormat("part-%05d%s", s, extension));
    manifest->add_shards()->set_file(shards[s].entry.file());
    const std::string path = options.out_dir + "/" + shards[s].entry.file();
    shards[s].out.open(path, std::ios::binary | std::ios::trunc);
    if (!shards[s].out) return Errno("cannot create", path);
  }
  RecordReader reader(files, options.record, options.header);
  uint64_t index = 0;
  bool headers_written = false;
  for (std::string record; reader.Next(&record); ++index) {
    if (!headers_written) {
      for (ShardWriter& shard : shards) shard.Write(reader.header(), false);
      headers_written = true;
    }
    int32_t shard = 0;
    if (options.by == "hash") {
      shard = JumpHash(Fnv1a64(record), options.num_shards);
    } else if (options.by == "key") {
      PARAMD_ASSIGN_OR_RETURN(
          absl::string_view key,
          KeyOf(record, options.key_column, options.delimiter, reader.where()));
      shard = JumpHash(Fnv1a64(key), options.num_shards);
    } else if (options.by == "round_robin") {
      shard = static_cast<int32_t>(index % options.num_shards);
    } else {
      // min(): an input that grew since it was counted.
      shard = static_cast<int32_t>(std::min<unsigned __int128>(
          static_cast<unsigned __int128>(index) * options.num_shards / total,
          options.num_shards - 1));
    }
    shards[shard].Write(record, /*is_record=*/true);
  }
  PARAMD_RETURN_IF_ERROR(reader.status());
  if (index == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "partition: no ", options.record, " records in the input"));
  }
  for (int s = 0; s < options.num_shards; ++s) {
    ShardWriter& shard = shards[s];
    const std::string path = options.out_dir + "/" + shard.entry.file();
    shard.out.close();
    if (!shard.out) return Errno("cannot write", path);
    if (options.shuffle_seed != 0) {
      PARAMD_RETURN_IF_ERROR(ShuffleShard(
          path, options, reader.header(),
          options.shuffle_seed ^ Fnv1a64(shard.entry.file()), &shard));
    }
    *manifest->mutable_shards(s) = shard.entry;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::DataManifest> Partition(const PartitionOptions& options) {
  PARAMD_RETURN_IF_ERROR(CheckOptions(options));
  PARAMD_ASSIGN_OR_RETURN(const std::vector<std::string> files,
                          ExpandInputs(options.inputs));
  for (const std::string& file : files) {
    std::error_code error;
    if (std::filesystem::equivalent(std::filesystem::path(file).parent_path(),
                                    options.out_dir, error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          file, " is in --out=", options.out_dir,
          ": the shards would overwrite their input; write them elsewhere"));
    }
  }
  std::error_code error;
  std::filesystem::create_directories(options.out_dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", options.out_dir, ": ", error.message()));
  }
  // "range" cuts by position: count first.
  uint64_t total = 0;
  if (options.by == "range") {
    RecordReader counter(files, options.record, options.header);
    for (std::string record; counter.Next(&record);) ++total;
    PARAMD_RETURN_IF_ERROR(counter.status());
  }
  // An earlier partition's shards and manifest go first, so no stale shard
  // matches a glob and no stale manifest describes a half-written set.
  PARAMD_ASSIGN_OR_RETURN(std::optional<v1::DataManifest> earlier,
                          ReadManifest(options.out_dir));
  if (earlier.has_value()) {
    for (const v1::ShardManifestEntry& entry : earlier->shards()) {
      std::filesystem::remove(options.out_dir + "/" + entry.file(), error);
    }
    std::filesystem::remove(options.out_dir + "/" + kManifestFile, error);
  }
  PARAMD_RETURN_IF_ERROR(RaiseOpenFileLimit(options.num_shards));
  v1::DataManifest manifest;
  const absl::Status written = WriteShards(options, files, total, &manifest);
  if (!written.ok()) {
    for (const v1::ShardManifestEntry& entry : manifest.shards()) {
      std::filesystem::remove(options.out_dir + "/" + entry.file(), error);
    }
    return written;
  }
  PARAMD_RETURN_IF_ERROR(WriteManifest(options.out_dir, manifest));
  return manifest;
}

}  // namespace paramd
