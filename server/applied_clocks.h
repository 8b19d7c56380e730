// The clocks of one worker's pushes that a server applied, so that every
// distinct push applies exactly once even when pipelined pushes arrive out
// of order and retries repeat them.
#ifndef PARAMD_SERVER_APPLIED_CLOCKS_H_
#define PARAMD_SERVER_APPLIED_CLOCKS_H_

#include <cstdint>
#include <deque>
#include <utility>

#include "absl/container/btree_set.h"

namespace paramd {

// A watermark below which every clock is settled, and the applied clocks
// above it. The watermark rises over each run of consecutive clocks, so
// the set holds only what arrived ahead of a gap: a few entries for a
// client with a few pushes in flight. A gap still open after kMaxAhead
// later clocks arrived is taken to be pushes that will never come (their
// sender died, or started at a later clock after a reset); the watermark
// moves past it, and a push of such a clock arriving after all is too late
// (the newest kMaxGaps gaps given up are remembered, so it is refused
// rather than taken for a repeat). So a push may be overtaken by up to
// kMaxAhead later pushes of its worker.
//
// Thread-compatible.
class AppliedClocks {
 public:
  static constexpr int kMaxAhead = 256;
  static constexpr int kMaxGaps = 64;

  enum class Arrival { kNew, kRepeat, kTooLate };

  // Records `clock` (>= 0) if it is new; a repeat or a push too late
  // changes nothing.
  Arrival Insert(int64_t clock);

  // The highest clock recorded; -1 if none.
  int64_t highest() const;

 private:
  int64_t watermark_ = -1;          // every clock <= watermark_ is settled
  absl::btree_set<int64_t> ahead_;  // applied clocks > watermark_ + 1
  std::deque<std::pair<int64_t, int64_t>> given_up_;  // [first, last]
};

}  // namespace paramd

#endif  // PARAMD_SERVER_APPLIED_CLOCKS_H_
