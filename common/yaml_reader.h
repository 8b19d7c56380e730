// Generic YAML reading for config files: parses one document and reads typed
// fields from its maps, turning every problem into an InvalidArgument status
// worded "<source>:<line>: <field path>: <what is wrong>" (1-based line).
// yaml-cpp stays behind this interface: nothing declared here throws.
#ifndef PARAMD_COMMON_YAML_READER_H_
#define PARAMD_COMMON_YAML_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace YAML {
class Node;
}  // namespace YAML

namespace paramd {

// Reads the fields of one YAML map, or of nothing for an absent section, and
// names the file, the line and the dotted field path in every error, e.g.
// "job.yaml:7: tables[1].shape: expected a list of integers, got 'x'".
// A field that is absent (or null) is not an error unless Require()d, and the
// Get() methods leave their output alone for it. Readers come from
// ReadDocument() and then from Child() and GetList() of another reader.
//
// Thread-compatible: the readers of one document share its nodes, so use them
// from one thread at a time. Readers of different documents are independent,
// and ReadDocument() may run on many threads at once.
class YamlReader {
 public:
  // Parses `text`, which must hold exactly one YAML document whose top level
  // is a map, and returns what `read` returns for a reader of that map.
  // `source` names the text in messages; `expected` describes the top level
  // for the message when it is not a map ("expected <expected>, got ...").
  // Returns InvalidArgument if the text holds a NUL byte, is not valid YAML,
  // is empty, holds a second document or its top level is not a map. An
  // exception thrown while `read` runs is returned as InvalidArgument if
  // yaml-cpp threw it and as Internal otherwise. Never throws.
  static absl::Status ReadDocument(
      const std::string& text, const std::string& source,
      const std::string& expected,
      absl::FunctionRef<absl::Status(const YamlReader&)> read);

  YamlReader(YamlReader&& other) noexcept;
  YamlReader& operator=(YamlReader&& other) noexcept;
  ~YamlReader();

  // Returns an InvalidArgument error about `field`, at the line of its value,
  // or at this map's line if the field is absent.
  absl::Status Error(const std::string& field, const std::string& what) const;

  // Returns an InvalidArgument error about item `i` of the list under
  // `field`, named "<field>[<i>]", at the item's line.
  absl::Status ItemError(const std::string& field, size_t i,
                         const std::string& what) const;

  // Returns true if `field` is present with a value other than null.
  bool Has(const std::string& field) const;

  // Returns a reader of the map under `field`, named by the field's path, or
  // of nothing if the field is absent. Errors about its absent fields point
  // at the line of `field`'s key.
  YamlReader Child(const std::string& field) const;

  // Reads the scalar under `field` into `*out` if it is present. Returns OK
  // if it is absent or was read, and InvalidArgument if it is not of the
  // type, is an integer out of the type's range, or is a number that is not
  // finite.
  absl::Status Get(const std::string& field, std::string* out) const;
  absl::Status Get(const std::string& field, double* out) const;
  absl::Status Get(const std::string& field, int* out) const;
  absl::Status Get(const std::string& field, int64_t* out) const;
  absl::Status Get(const std::string& field, uint64_t* out) const;
  absl::Status Get(const std::string& field, bool* out) const;

  // Reads the list of integers under `field` into `*out` if it is present.
  // Returns OK if it is absent or was read, and InvalidArgument, naming the
  // item at fault, if it is not a list of integers.
  absl::Status Get(const std::string& field, std::vector<int64_t>* out) const;

  // Sets `*items` to one reader per item of the list under `field`, each
  // named "<field>[<i>]", if the field is present. Returns OK if it is absent
  // or was read, and InvalidArgument if it is not a non-empty list.
  absl::Status GetList(const std::string& field,
                       std::vector<YamlReader>* items) const;

  // Returns OK if `field` is present (see Has()), else InvalidArgument.
  absl::Status Require(const std::string& field) const;

  // Returns OK if this is a map (or nothing) whose keys are distinct names in
  // `allowed`, else InvalidArgument. This catches typos, and duplicate keys,
  // which yaml-cpp would silently shadow.
  absl::Status OnlyKeys(const std::set<std::string>& allowed) const;

  // As OnlyKeys(), but any names are allowed.
  absl::Status DistinctKeys() const;

  // Returns the keys of this map in file order, or none if this is not a map.
  // REQUIRES: DistinctKeys() or OnlyKeys() returned OK.
  std::vector<std::string> Keys() const;

 private:
  // `line` (0-based) is where the map starts in the file (its key's line),
  // where errors about absent fields point.
  YamlReader(std::string source, const YAML::Node& node, std::string path,
             int line);

  template <typename T>
  absl::Status GetScalar(const std::string& field, T* out) const;

  // The dotted path of `field` in this map, e.g. "job.epochs".
  std::string Field(const std::string& field) const;

  // The value under `field`; undefined if absent or this is not a map.
  YAML::Node Value(const std::string& field) const;

  // The line of `field`'s key, or this map's line if it has no such key.
  int KeyLine(const std::string& field) const;

  absl::Status CheckKeys(const std::set<std::string>* allowed) const;

  std::string source_;
  std::unique_ptr<const YAML::Node> node_;  // Null only once moved from.
  std::string path_;
  int line_;
};

}  // namespace paramd

#endif  // PARAMD_COMMON_YAML_READER_H_
