#include "server/applied_clocks.h"

namespace paramd {

bool AppliedClocks::Insert(int64_t clock) {
  if (Contains(clock)) return false;
  ahead_.insert(clock);
  if (static_cast<int>(ahead_.size()) > kMaxAhead) {
    watermark_ = *ahead_.begin() - 1;  // give up on the oldest gap
  }
  while (!ahead_.empty() && *ahead_.begin() == watermark_ + 1) {
    watermark_ = *ahead_.begin();
    ahead_.erase(ahead_.begin());
  }
  return true;
}

bool AppliedClocks::Contains(int64_t clock) const {
  return clock <= watermark_ || ahead_.contains(clock);
}

int64_t AppliedClocks::highest() const {
  return ahead_.empty() ? watermark_ : *ahead_.rbegin();
}

}  // namespace paramd
