#include "server/applied_clocks.h"

namespace paramd {

AppliedClocks::Arrival AppliedClocks::Insert(int64_t clock) {
  for (const auto& [first, last] : given_up_) {
    if (first <= clock && clock <= last) return Arrival::kTooLate;
  }
  if (clock <= watermark_ || ahead_.contains(clock)) return Arrival::kRepeat;
  ahead_.insert(clock);
  if (static_cast<int>(ahead_.size()) > kMaxAhead) {
    // Give up on the oldest gap.
    given_up_.emplace_back(watermark_ + 1, *ahead_.begin() - 1);
    if (static_cast<int>(given_up_.size()) > kMaxGaps) given_up_.pop_front();
    watermark_ = *ahead_.begin() - 1;
  }
  while (!ahead_.empty() && *ahead_.begin() == watermark_ + 1) {
    watermark_ = *ahead_.begin();
    ahead_.erase(ahead_.begin());
  }
  return Arrival::kNew;
}

int64_t AppliedClocks::highest() const {
  return ahead_.empty() ? watermark_ : *ahead_.rbegin();
}

}  // namespace paramd
