// How paramd cuts plain text into tokens (`paramctl data text`, and prompts
// of `paramctl generate`): the same rule in tools/data/prepare_text.py.
#ifndef PARAMD_TOOLS_TEXT_TOKENS_H_
#define PARAMD_TOOLS_TEXT_TOKENS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace paramd {

// Words are runs of ASCII letters, digits, '_' and non-ASCII characters,
// joined inside by single ' or - ("don't", "well-known"); every other
// character but ASCII whitespace is a token on its own. With `lowercase`,
// ASCII letters are lowercased.
std::vector<std::string> Tokenize(absl::string_view text, bool lowercase);

}  // namespace paramd

#endif  // PARAMD_TOOLS_TEXT_TOKENS_H_
