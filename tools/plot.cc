#include "tools/plot.h"

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"
#include "tools/subprocess.h"

namespace paramd {
namespace {

constexpr char kGnuplot[] = "/usr/bin/gnuplot";

// Column 8 is eval perplexity, 7 eval accuracy: plot perplexity when any
// row has one above 1.5 (a language model), accuracy otherwise.
bool HasPerplexity(const std::string& csv) {
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(',') + 1), &value) &&
        value > 1.5) {
      return true;
    }
  }
  return false;
}

std::string Script(const std::string& csv, const std::string& png,
                   const std::string& title, bool perplexity) {
  const std::string eval_col = perplexity ? "8" : "7";
  const std::string eval_name =
      perplexity ? "eval perplexity" : "eval accuracy";
  std::string script = R"(
set terminal pngcairo size 1200,800
set output 'PNG'
set datafile separator comma
set key top right
set grid
set multiplot layout 2,2 title 'TITLE'
set xlabel 'examples'
set ylabel 'training loss'
plot 'CSV' every ::1 using 2:4 with lines title 'train loss'
set ylabel 'EVALNAME'
EVALSCALE
plot 'CSV' every ::1 using 5:EVALCOL with linespoints title 'EVALNAME'
unset logscale y
set xlabel 'seconds'
set ylabel 'training loss'
plot 'CSV' every ::1 using 1:4 with lines title 'train loss'
set ylabel 'EVALNAME'
EVALSCALE
plot 'CSV' every ::1 using 1:EVALCOL with linespoints title 'EVALNAME'
unset multiplot
)";
  return absl::StrReplaceAll(script,
                             {{"PNG", png},
                              {"CSV", csv},
                              {"TITLE", title},
                              {"EVALCOL", eval_col},
                              {"EVALSCALE", perplexity ? "set logscale y" : ""},
                              {"EVALNAME", eval_name}});
}

}  // namespace

absl::Status PlotCurves(const std::string& csv, const std::string& png,
                        const std::string& title) {
  if (!std::ifstream(csv)) {
    return absl::NotFoundError(absl::StrCat(csv, ": cannot open"));
  }
  const std::string script_path = png + ".gnuplot";
  std::ofstream(script_path) << Script(csv, png, title, HasPerplexity(csv));
  PARAMD_ASSIGN_OR_RETURN(
      std::unique_ptr<Subprocess> gnuplot,
      Subprocess::Start({kGnuplot, script_path}, png + ".log"));
  std::optional<int> code = gnuplot->Wait(absl::Seconds(60));
  if (!code || *code != 0) {
    return absl::InternalError(
        absl::StrCat("gnuplot failed; see ", png, ".log"));
  }
  return absl::OkStatus();
}

}  // namespace paramd
