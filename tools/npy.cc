#include "tools/npy.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace paramd {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              ".npy files are written little-endian straight from memory");

constexpr absl::string_view kMagic("\x93NUMPY", 6);
constexpr size_t kMaxDims = 32;
constexpr size_t kAlign = 64;

const char* Descr(NpyType type) {
  return type == NpyType::kFloat32 ? "<f4" : "<u8";
}

size_t ItemSize(NpyType type) { return type == NpyType::kFloat32 ? 4 : 8; }

// Python's tuple syntax: "()", "(5,)", "(3, 5)".
std::string ShapeTuple(absl::Span<const int64_t> shape) {
  if (shape.size() == 1) return absl::StrCat("(", shape[0], ",)");
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

// Returns the number of elements of `shape`, or InvalidArgument naming
// `path` if a dimension is negative, there are too many, or it overflows.
absl::StatusOr<int64_t> NumElements(absl::Span<const int64_t> shape,
                                    const std::string& path) {
  if (shape.size() > kMaxDims) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", shape.size(), " dimensions, at most ", kMaxDims));
  }
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && n > std::numeric_limits<int64_t>::max() / d)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": bad shape ", ShapeTuple(shape)));
    }
    n *= d;
  }
  return n;
}

template <typename T>
absl::Status WriteArray(const std::string& path, NpyType type,
                        absl::Span<const int64_t> shape,
                        absl::Span<const T> values) {
  PARAMD_ASSIGN_OR_RETURN(int64_t n, NumElements(shape, path));
  if (n != static_cast<int64_t>(values.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": shape ", ShapeTuple(shape), " holds ", n,
                     " elements, got ", values.size(), " values"));
  }
  const std::string header = NpyHeader(type, shape);
  const absl::string_view data(reinterpret_cast<const char*>(values.data()),
                               values.size() * sizeof(T));
  return WriteFileAtomically(path, {header, data});
}

absl::Status Malformed(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": not a valid .npy file: ", what));
}

// Returns the text after "'key':" in a header dict, spaces skipped.
absl::StatusOr<absl::string_view> ValueOf(absl::string_view dict,
                                          absl::string_view key,
                                          const std::string& path) {
  size_t at = dict.find(absl::StrCat("'", key, "'"));
  if (at == absl::string_view::npos) {
    at = dict.find(absl::StrCat("\"", key, "\""));
  }
  if (at == absl::string_view::npos) {
    return Malformed(path, absl::StrCat("the header has no '", key, "'"));
  }
  absl::string_view rest =
      absl::StripLeadingAsciiWhitespace(dict.substr(at + key.size() + 2));
  if (!absl::ConsumePrefix(&rest, ":")) {
    return Malformed(path, absl::StrCat("no ':' after '", key, "'"));
  }
  return absl::StripLeadingAsciiWhitespace(rest);
}

absl::StatusOr<NpyType> ParseDescr(absl::string_view dict,
                                   const std::string& path) {
  PARAMD_ASSIGN_OR_RETURN(absl::string_view value,
                          ValueOf(dict, "descr", path));
  const size_t end = value.empty() ? 0 : value.find(value[0], 1);
  if (value.empty() || (value[0] != '\'' && value[0] != '"') ||
      end == absl::string_view::npos) {
    return Malformed(path, "'descr' is not a quoted string");
  }
  const absl::string_view descr = value.substr(1, end - 1);
  if (descr == "<f4") return NpyType::kFloat32;
  if (descr == "<u8") return NpyType::kUint64;
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": dtype '", descr,
                   "' is not supported (only float32 '<f4' and uint64 '<u8')"));
}

absl::Status ParseFortranOrder(absl::string_view dict,
                               const std::string& path) {
  PARAMD_ASSIGN_OR_RETURN(absl::string_view value,
                          ValueOf(dict, "fortran_order", path));
  if (absl::StartsWith(value, "False")) return absl::OkStatus();
  if (absl::StartsWith(value, "True")) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": Fortran-ordered arrays are not supported"));
  }
  return Malformed(path, "'fortran_order' is neither True nor False");
}

absl::StatusOr<std::vector<int64_t>> ParseShape(absl::string_view dict,
                                                const std::string& path) {
  PARAMD_ASSIGN_OR_RETURN(absl::string_view value,
                          ValueOf(dict, "shape", path));
  const size_t end = value.find(')');
  if (!absl::ConsumePrefix(&value, "(") || end == absl::string_view::npos) {
    return Malformed(path, "'shape' is not a tuple");
  }
  std::vector<int64_t> shape;
  for (absl::string_view dim : absl::StrSplit(value.substr(0, end - 1), ',')) {
    dim = absl::StripAsciiWhitespace(dim);
    if (dim.empty()) continue;
    int64_t d = 0;
    if (!absl::SimpleAtoi(dim, &d) || d < 0) {
      return Malformed(path, absl::StrCat("bad shape dimension '", dim, "'"));
    }
    shape.push_back(d);
  }
  return shape;
}

// Splits a file into its header dict and data, checking the preamble.
absl::Status SplitFile(absl::string_view file, const std::string& path,
                       absl::string_view* dict, absl::string_view* data) {
  if (file.size() < 10 || !absl::StartsWith(file, kMagic)) {
    return Malformed(path, "it does not start with the \\x93NUMPY magic");
  }
  const int major = static_cast<uint8_t>(file[6]);
  const int minor = static_cast<uint8_t>(file[7]);
  if (major < 1 || major > 3 || (major > 1 && file.size() < 12)) {
    return Malformed(
        path, absl::StrCat("unsupported format version ", major, ".", minor));
  }
  size_t length = static_cast<uint8_t>(file[8]) |
                  static_cast<size_t>(static_cast<uint8_t>(file[9])) << 8;
  size_t begin = 10;
  if (major > 1) {
    length |= static_cast<size_t>(static_cast<uint8_t>(file[10])) << 16 |
              static_cast<size_t>(static_cast<uint8_t>(file[11])) << 24;
    begin = 12;
  }
  if (length > file.size() - begin) {
    return Malformed(path, absl::StrCat("the ", length,
                                        "-byte header runs past the end of "
                                        "the ",
                                        file.size(), "-byte file"));
  }
  *dict = file.substr(begin, length);
  *data = file.substr(begin + length);
  if (dict->empty() || dict->back() != '\n' || (*dict)[0] != '{') {
    return Malformed(path, "the header is not a dict ended by a newline");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  std::string contents(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  if (!in.read(contents.data(), contents.size())) {
    return absl::DataLossError(absl::StrCat("cannot read ", path));
  }
  return contents;
}

}  // namespace

std::string NpyHeader(NpyType type, absl::Span<const int64_t> shape) {
  std::string dict =
      absl::StrCat("{'descr': '", Descr(type), "', 'fortran_order': False, ",
                   "'shape': ", ShapeTuple(shape), ", }");
  const size_t unpadded = kMagic.size() + 4 + dict.size() + 1;
  dict.append((kAlign - unpadded % kAlign) % kAlign, ' ');
  dict.push_back('\n');
  std::string out(kMagic);
  out.push_back('\x01');  // format version 1.0
  out.push_back('\x00');
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>(dict.size() >> 8));
  return out + dict;
}

absl::Status WriteNpy(const std::string& path, absl::Span<const int64_t> shape,
                      absl::Span<const float> values) {
  return WriteArray(path, NpyType::kFloat32, shape, values);
}

absl::Status WriteNpy(const std::string& path, absl::Span<const int64_t> shape,
                      absl::Span<const uint64_t> values) {
  return WriteArray(path, NpyType::kUint64, shape, values);
}

absl::StatusOr<NpyArray> ReadNpy(const std::string& path) {
  PARAMD_ASSIGN_OR_RETURN(const std::string file, ReadWholeFile(path));
  absl::string_view dict, data;
  PARAMD_RETURN_IF_ERROR(SplitFile(file, path, &dict, &data));
  NpyArray array;
  PARAMD_ASSIGN_OR_RETURN(array.type, ParseDescr(dict, path));
  PARAMD_RETURN_IF_ERROR(ParseFortranOrder(dict, path));
  PARAMD_ASSIGN_OR_RETURN(array.shape, ParseShape(dict, path));
  PARAMD_ASSIGN_OR_RETURN(int64_t n, NumElements(array.shape, path));
  const size_t item = ItemSize(array.type);
  const bool truncated = static_cast<uint64_t>(n) > data.size() / item;
  if (truncated || data.size() != n * item) {
    return Malformed(
        path, absl::StrCat(truncated ? "truncated: " : "trailing bytes: ",
                           "shape ", ShapeTuple(array.shape), " needs ", n,
                           " elements of ", item, " bytes, but ", data.size(),
                           " bytes of data follow the header"));
  }
  // memcpy's pointers must not be null, even for 0 bytes.
  if (n == 0) return array;
  if (array.type == NpyType::kFloat32) {
    array.floats.resize(n);
    std::memcpy(array.floats.data(), data.data(), data.size());
  } else {
    array.uint64s.resize(n);
    std::memcpy(array.uint64s.data(), data.data(), data.size());
  }
  return array;
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::Span<const absl::string_view> parts) {
  const std::string temp = absl::StrCat(path, ".tmp.", getpid());
  const int fd =
      open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", temp));
  }
  for (absl::string_view part : parts) {
    while (!part.empty()) {
      const ssize_t n = write(fd, part.data(), part.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int error = errno;
        close(fd);
        unlink(temp.c_str());
        return absl::ErrnoToStatus(error, absl::StrCat("cannot write ", temp));
      }
      part.remove_prefix(n);
    }
  }
  const bool synced = fsync(fd) == 0;
  const int error = errno;
  if (close(fd) != 0 || !synced) {
    unlink(temp.c_str());
    return absl::ErrnoToStatus(synced ? errno : error,
                               absl::StrCat("cannot flush ", temp));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(temp.c_str());
    return absl::ErrnoToStatus(
        error, absl::StrCat("cannot rename ", temp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace paramd
