// `paramctl plot`: training curves from a run's metrics CSV, drawn by
// gnuplot into a PNG.
#ifndef PARAMD_TOOLS_PLOT_H_
#define PARAMD_TOOLS_PLOT_H_

#include <string>

#include "absl/status/status.h"

namespace paramd {

// Draws training loss and the evaluation metric (perplexity, or accuracy
// for classifiers) against examples and against time from `csv` (written by
// MetricsLog) into `png`. Fails if gnuplot is missing or fails.
absl::Status PlotCurves(const std::string& csv, const std::string& png,
                        const std::string& title);

}  // namespace paramd

#endif  // PARAMD_TOOLS_PLOT_H_
