#include "common/yaml_edit.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "yaml-cpp/yaml.h"

namespace paramd {

absl::StatusOr<std::string> SetYamlScalar(const std::string& text,
                                          const std::string& source,
                                          const std::vector<std::string>& path,
                                          const std::string& value) {
  const std::string field = absl::StrJoin(path, ".");
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": cannot set ", field, ": not a YAML map"));
    }
    // Node assignment rebinds; walk with references into the tree instead.
    YAML::Node node = root;
    for (size_t i = 0; i + 1 < path.size(); ++i) {
      YAML::Node child = node[path[i]];
      if (child.IsDefined() && !child.IsNull() && !child.IsMap()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": cannot set ", field, ": ",
                         absl::StrJoin(path.begin(), path.begin() + i + 1, "."),
                         " is not a map"));
      }
      if (!child.IsMap()) {
        node[path[i]] = YAML::Node(YAML::NodeType::Map);
      }
      node.reset(node[path[i]]);
    }
    node[path.back()] = value;
    YAML::Emitter out;
    out << root;
    if (!out.good()) {
      return absl::InternalError(
          absl::StrCat(source, ": ", out.GetLastError()));
    }
    return std::string(out.c_str());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": cannot set ", field, ": ", e.what()));
  }
}

}  // namespace paramd
