// The clocks of one worker's pushes that a server applied, so that every
// distinct push applies exactly once even when pipelined pushes arrive out
// of order and retries repeat them.
#ifndef PARAMD_SERVER_APPLIED_CLOCKS_H_
#define PARAMD_SERVER_APPLIED_CLOCKS_H_

#include <cstdint>

#include "absl/container/btree_set.h"

namespace paramd {

// A watermark below which every clock counts as applied, and the applied
// clocks above it. The watermark rises over each run of consecutive clocks,
// so the set holds only what arrived ahead of a gap: a few entries for a
// client with a few pushes in flight. A gap still open after kMaxAhead
// later clocks arrived is taken to be a push that will never come (its
// sender died, or started at a later clock after a reset); the watermark
// then moves past it, and a push of that clock arriving after all counts
// as a repeat. So the reordering tolerated is kMaxAhead pushes per worker.
class AppliedClocks {
 public:
  static constexpr int kMaxAhead = 256;

  // Records `clock` (>= 0). Returns false, changing nothing, if it was
  // recorded before.
  bool Insert(int64_t clock);

  // Whether `clock` was recorded (or lies below the watermark).
  bool Contains(int64_t clock) const;

  // The highest clock recorded; -1 if none.
  int64_t highest() const;

 private:
  int64_t watermark_ = -1;  // every clock <= watermark_ counts as applied
  absl::btree_set<int64_t> ahead_;  // applied clocks > watermark_ + 1
};

}  // namespace paramd

#endif  // PARAMD_SERVER_APPLIED_CLOCKS_H_
