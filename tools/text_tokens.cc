#include "tools/text_tokens.h"

#include "absl/strings/ascii.h"

namespace paramd {
namespace {

bool IsWord(unsigned char c) {
  return absl::ascii_isalnum(c) || c == '_' || c >= 0x80;
}

}  // namespace

std::vector<std::string> Tokenize(absl::string_view text, bool lowercase) {
  std::vector<std::string> tokens;
  size_t i = 0;
  const auto at = [&text](size_t k) {
    return static_cast<unsigned char>(text[k]);
  };
  while (i < text.size()) {
    if (absl::ascii_isspace(at(i))) {
      ++i;
      continue;
    }
    const size_t start = i;
    if (!IsWord(at(i))) {
      ++i;
    } else {
      while (i < text.size() && IsWord(at(i))) ++i;
      while (i + 1 < text.size() && (text[i] == '\'' || text[i] == '-') &&
             IsWord(at(i + 1))) {
        ++i;
        while (i < text.size() && IsWord(at(i))) ++i;
      }
    }
    std::string token(text.substr(start, i - start));
    if (lowercase) absl::AsciiStrToLower(&token);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

}  // namespace paramd
