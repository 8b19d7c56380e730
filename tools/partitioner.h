// `paramctl partition`: split a line-oriented data set into shard files that
// workers lease, with a manifest they check each shard against.
#ifndef PARAMD_TOOLS_PARTITIONER_H_
#define PARAMD_TOOLS_PARTITIONER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "paramd/v1/manifest.pb.h"

namespace paramd {

struct PartitionOptions {
  // Input files, read in this order; a folder stands for its files, by name.
  std::vector<std::string> inputs;
  std::string out_dir;
  int num_shards = 0;
  // What one record is: "line" (empty lines are dropped), "paragraph"
  // (lines up to a blank line) or "document" (lines up to a line holding
  // only a form feed, or the end of an input file).
  std::string record = "line";
  // Where a record goes: "hash" (FNV-1a 64 of its bytes, then jump hash),
  // "key" (the same of one column of a line: CSV, TSV), "round_robin", or
  // "range" (contiguous runs of equal size, in input order).
  std::string by = "hash";
  int key_column = -1;   // "key": 0-based
  char delimiter = ',';  // "key": between columns
  // The first line of each input is a header: copied to the top of every
  // shard, not a record.
  bool header = false;
  // If not 0, each shard's records are shuffled with this seed (the same
  // order on every machine). A shard is held in memory to shuffle it.
  uint64_t shuffle_seed = 0;
};

// Writes out_dir/part-NNNNN<ext> (the first input's extension) and
// out_dir/paramd-manifest.json, reading the inputs as a stream (twice for
// "range"), and returns the manifest. Shard files of an earlier partition
// into out_dir that its manifest lists are removed first. Fails with
// InvalidArgument for bad options or a line without the key column (naming
// the file and line), NotFound for a missing input, and Internal if a
// file cannot be written.
absl::StatusOr<paramd::v1::DataManifest> Partition(
    const PartitionOptions& options);

}  // namespace paramd

#endif  // PARAMD_TOOLS_PARTITIONER_H_
