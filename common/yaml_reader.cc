#include "common/yaml_reader.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <map>
#include <sstream>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "yaml-cpp/depthguard.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace paramd {
namespace {

constexpr char kTopLevel[] = "top level";

// "<source>:<line>: <field>: <what>". `line` is 0-based, as yaml-cpp counts;
// a negative line (unknown) is left out.
absl::Status Invalid(const std::string& source, int line,
                     const std::string& field, const std::string& what) {
  const std::string where =
      line >= 0 ? absl::StrCat(source, ":", line + 1) : source;
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": ", field, ": ", what));
}

// The node's 0-based line, or `fallback` if it has none (absent or built).
int LineOf(const YAML::Node& node, int fallback) {
  if (!node.IsDefined()) return fallback;
  const int line = node.Mark().line;
  return line >= 0 ? line : fallback;
}

// Text for a message: quoted, escaped and cut to 40 characters.
std::string Quote(const std::string& text) {
  constexpr size_t kMaxShown = 40;
  if (text.size() <= kMaxShown) {
    return absl::StrCat("'", absl::CHexEscape(text), "'");
  }
  return absl::StrCat("'", absl::CHexEscape(text.substr(0, kMaxShown)), "...'");
}

// What a node holds, for "expected X, got Y".
std::string Describe(const YAML::Node& node) {
  if (node.IsScalar()) return Quote(node.Scalar());
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  return "nothing";
}

// Converts without throwing: false if `node` does not hold a T.
template <typename T>
bool Convert(const YAML::Node& node, T* out) {
  try {
    *out = node.as<T>();
    return true;
  } catch (const YAML::Exception&) {
    return false;
  }
}

const char* TypeName(const std::string*) { return "a string"; }
const char* TypeName(const double*) { return "a number"; }
const char* TypeName(const int*) { return "an integer"; }
const char* TypeName(const int64_t*) { return "an integer"; }
const char* TypeName(const uint64_t*) { return "a non-negative integer"; }
const char* TypeName(const bool*) { return "a boolean (true or false)"; }

// Why `node` is not a T: the wrong kind of value, or a number that does not
// fit.
template <typename T>
std::string BadValue(const YAML::Node& node, const T* out) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using Limits = std::numeric_limits<T>;
    double number;
    if (Convert(node, &number) &&
        (number < static_cast<double>(Limits::min()) ||
         number >= std::ldexp(1.0, Limits::digits))) {  // max + 1
      return absl::StrCat("out of range: expected ", TypeName(out), " from ",
                          Limits::min(), " to ", Limits::max(), ", got ",
                          Describe(node));
    }
  }
  return absl::StrCat("expected ", TypeName(out), ", got ", Describe(node));
}

// The offset where 0-based line `line` of `text` starts (npos past the end).
size_t LineStart(const std::string& text, int line) {
  size_t start = 0;
  for (int i = 0; i < line && start != std::string::npos; ++i) {
    start = text.find('\n', start);
    if (start != std::string::npos) ++start;
  }
  return start;
}

// A yaml-cpp parse error at the line likely at fault, which for an unclosed
// [ or { is the last line that opens one. The field is the key on that line.
absl::Status SyntaxError(const std::string& source, const std::string& text,
                         const YAML::Exception& e) {
  int at = e.mark.line;
  std::string what = absl::StrCat(e.msg, " at column ", e.mark.column + 1);
  const char* opener = e.msg == YAML::ErrorMsg::END_OF_SEQ_FLOW   ? "["
                       : e.msg == YAML::ErrorMsg::END_OF_MAP_FLOW ? "{"
                                                                  : nullptr;
  if (dynamic_cast<const YAML::DeepRecursion*>(&e) != nullptr) {
    what = "nested too deeply";
  }
  size_t start = LineStart(text, at);
  if (opener != nullptr) {
    const size_t open = text.rfind(opener[0], text.find('\n', start));
    if (open != std::string::npos) {
      at = std::count(text.begin(), text.begin() + open, '\n');
      start = LineStart(text, at);
      what = absl::StrCat("this '", opener, "' is never closed");
    }
  }
  const std::string line =
      start >= text.size() ? ""
                           : text.substr(start, text.find('\n', start) - start);
  const size_t indent = std::min(line.find_first_not_of(" \t-"), line.size());
  std::string key = line.substr(indent, line.find(':', indent) - indent);
  if (key.empty() || key.size() == line.size() - indent ||
      key.find_first_not_of("abcdefghijklmnopqrstuvwxyz_0123456789") !=
          std::string::npos) {
    key = "YAML";
  }
  if (line.substr(0, indent).find('\t') != std::string::npos) {
    what = "a tab in the indentation (YAML indents with spaces only)";
  }
  return Invalid(source, at, key,
                 absl::StrCat("not valid YAML: ", what, " in ", Quote(line)));
}

// The one YAML document in `text`, which must be a map (`expected` says
// what it should hold).
// Notes where each document starts; ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;

  void OnDocumentStart(const YAML::Mark& mark) override {
    starts.push_back(mark);
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// Returns how many documents `text` holds (0 or 1), or why it is refused:
// a second document. yaml-cpp 0.7 finds endless empty documents at a stray
// ',' (YAML::LoadAll then grows without end), so documents are counted
// here, stopping at the second. Throws what yaml-cpp throws.
absl::StatusOr<int> CountDocuments(const std::string& text,
                                   const std::string& source) {
  std::stringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts handler;
  int count = 0;
  while (count < 2 && parser.HandleNextDocument(handler)) ++count;
  if (count < 2) return count;
  // A second document: refused here, as LoadAll might never return. One
  // that is not opened by "---" is yaml-cpp's endless empty document.
  const YAML::Mark& at = handler.starts[1];
  const size_t pos =
      std::min(static_cast<size_t>(std::max(at.pos, 0)), text.size());
  if (text.compare(pos, 3, "---") == 0) {
    return Invalid(source, at.line, kTopLevel,
                   "a second YAML document (after ---); a config is one");
  }
  return Invalid(
      source, at.line, kTopLevel,
      absl::StrCat("not valid YAML: unexpected ", Quote(text.substr(pos, 1)),
                   " at column ", at.column + 1));
}

absl::StatusOr<YAML::Node> LoadDocument(const std::string& text,
                                        const std::string& source,
                                        const std::string& expected) {
  const size_t nul = text.find('\0');
  if (nul != std::string::npos) {
    return Invalid(source, std::count(text.begin(), text.begin() + nul, '\n'),
                   kTopLevel, "binary data (a NUL byte), not a YAML text file");
  }
  std::vector<YAML::Node> docs;
  try {
    PARAMD_ASSIGN_OR_RETURN(const int count, CountDocuments(text, source));
    if (count == 1) docs.push_back(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    return SyntaxError(source, text, e);
  }
  if (docs.empty()) {
    return Invalid(source, 0, kTopLevel,
                   absl::StrCat("the file is empty; expected ", expected));
  }
  if (!docs[0].IsMap()) {
    return Invalid(
        source, LineOf(docs[0], 0), kTopLevel,
        absl::StrCat("expected ", expected, ", got ", Describe(docs[0])));
  }
  return docs[0];
}

}  // namespace

absl::Status YamlReader::ReadDocument(
    const std::string& text, const std::string& source,
    const std::string& expected,
    absl::FunctionRef<absl::Status(const YamlReader&)> read) {
  try {
    PARAMD_ASSIGN_OR_RETURN(const YAML::Node root,
                            LoadDocument(text, source, expected));
    return read(YamlReader(source, root, "", LineOf(root, 0)));
  } catch (const YAML::Exception& e) {
    // YamlReader converts without throwing; these are safety nets.
    return Invalid(source, e.mark.line, kTopLevel,
                   absl::StrCat("malformed YAML structure: ", e.msg));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(source, ": ", e.what()));
  }
}

YamlReader::YamlReader(std::string source, const YAML::Node& node,
                       std::string path, int line)
    : source_(std::move(source)),
      node_(std::make_unique<const YAML::Node>(node)),
      path_(std::move(path)),
      line_(line) {}

YamlReader::YamlReader(YamlReader&& other) noexcept = default;
YamlReader& YamlReader::operator=(YamlReader&& other) noexcept = default;
YamlReader::~YamlReader() = default;

absl::Status YamlReader::Error(const std::string& field,
                               const std::string& what) const {
  return Invalid(source_, LineOf(Value(field), line_), Field(field), what);
}

absl::Status YamlReader::ItemError(const std::string& field, size_t i,
                                   const std::string& what) const {
  const YAML::Node list = Value(field);
  const int line = LineOf(list, line_);
  return Invalid(source_, list.IsSequence() ? LineOf(list[i], line) : line,
                 absl::StrCat(Field(field), "[", i, "]"), what);
}

bool YamlReader::Has(const std::string& field) const {
  const YAML::Node value = Value(field);
  return value.IsDefined() && !value.IsNull();
}

YamlReader YamlReader::Child(const std::string& field) const {
  return YamlReader(source_, Has(field) ? Value(field) : YAML::Node(),
                    Field(field), KeyLine(field));
}

template <typename T>
absl::Status YamlReader::GetScalar(const std::string& field, T* out) const {
  if (!Has(field)) return absl::OkStatus();
  const YAML::Node value = Value(field);
  if (!Convert(value, out)) return Error(field, BadValue(value, out));
  if constexpr (std::is_same_v<T, double>) {
    if (!std::isfinite(*out)) {
      return Error(field, absl::StrCat("must be a finite number, got ",
                                       Describe(value)));
    }
  }
  return absl::OkStatus();
}

absl::Status YamlReader::Get(const std::string& field, std::string* out) const {
  return GetScalar(field, out);
}

absl::Status YamlReader::Get(const std::string& field, double* out) const {
  return GetScalar(field, out);
}

absl::Status YamlReader::Get(const std::string& field, int* out) const {
  return GetScalar(field, out);
}

absl::Status YamlReader::Get(const std::string& field, int64_t* out) const {
  return GetScalar(field, out);
}

absl::Status YamlReader::Get(const std::string& field, uint64_t* out) const {
  return GetScalar(field, out);
}

absl::Status YamlReader::Get(const std::string& field, bool* out) const {
  return GetScalar(field, out);
}

absl::Status YamlReader::Get(const std::string& field,
                             std::vector<int64_t>* out) const {
  if (!Has(field)) return absl::OkStatus();
  const YAML::Node list = Value(field);
  if (!list.IsSequence()) {
    return Error(field, absl::StrCat("expected a list of integers, got ",
                                     Describe(list)));
  }
  out->assign(list.size(), 0);
  for (size_t i = 0; i < list.size(); ++i) {
    if (!Convert(list[i], &(*out)[i])) {
      return ItemError(field, i, BadValue(list[i], &(*out)[i]));
    }
  }
  return absl::OkStatus();
}

absl::Status YamlReader::GetList(const std::string& field,
                                 std::vector<YamlReader>* items) const {
  if (!Has(field)) return absl::OkStatus();
  const YAML::Node list = Value(field);
  if (!list.IsSequence() || list.size() == 0) {
    return Error(field,
                 absl::StrCat("must be a non-empty list, got ",
                              list.IsSequence() ? "[]" : Describe(list)));
  }
  const int list_line = LineOf(list, line_);
  items->clear();
  for (size_t i = 0; i < list.size(); ++i) {
    items->push_back(YamlReader(source_, list[i],
                                absl::StrCat(Field(field), "[", i, "]"),
                                LineOf(list[i], list_line)));
  }
  return absl::OkStatus();
}

absl::Status YamlReader::Require(const std::string& field) const {
  if (!Has(field)) return Error(field, "is required");
  return absl::OkStatus();
}

absl::Status YamlReader::OnlyKeys(const std::set<std::string>& allowed) const {
  return CheckKeys(&allowed);
}

absl::Status YamlReader::DistinctKeys() const { return CheckKeys(nullptr); }

std::vector<std::string> YamlReader::Keys() const {
  std::vector<std::string> keys;
  for (const auto& kv : *node_) keys.push_back(kv.first.Scalar());
  return keys;
}

std::string YamlReader::Field(const std::string& field) const {
  return path_.empty() ? field : absl::StrCat(path_, ".", field);
}

YAML::Node YamlReader::Value(const std::string& field) const {
  return node_->IsMap() ? (*node_)[field]
                        : YAML::Node(YAML::NodeType::Undefined);
}

int YamlReader::KeyLine(const std::string& field) const {
  if (!node_->IsMap()) return line_;
  for (const auto& kv : *node_) {
    if (kv.first.IsScalar() && kv.first.Scalar() == field) {
      return LineOf(kv.first, line_);
    }
  }
  return line_;
}

absl::Status YamlReader::CheckKeys(const std::set<std::string>* allowed) const {
  if (!node_->IsDefined() || node_->IsNull()) return absl::OkStatus();
  const std::string self = path_.empty() ? kTopLevel : path_;
  if (!node_->IsMap()) {
    return Invalid(source_, line_, self,
                   absl::StrCat("expected a map, got ", Describe(*node_)));
  }
  std::map<std::string, int> seen;  // key -> line
  for (const auto& kv : *node_) {
    const int line = LineOf(kv.first, line_);
    if (!kv.first.IsScalar()) {
      return Invalid(
          source_, line, self,
          absl::StrCat("a key must be a name, got ", Describe(kv.first)));
    }
    const std::string key = kv.first.Scalar();
    if (allowed != nullptr && !allowed->count(key)) {
      return Invalid(source_, line, Field(key),
                     absl::StrCat("unknown field (allowed: ",
                                  absl::StrJoin(*allowed, ", "), ")"));
    }
    const auto [first, fresh] = seen.emplace(key, line);
    if (!fresh) {
      return Invalid(source_, line, Field(key),
                     absl::StrCat("duplicate key (first on line ",
                                  first->second + 1, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace paramd
