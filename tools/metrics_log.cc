#include "tools/metrics_log.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/status_format.h"

namespace paramd {
namespace {

std::string Cell(const paramd::v1::GetStatusResponse& status, const char* key) {
  auto it = status.eval().find(key);
  return it == status.eval().end() ? "" : absl::StrFormat("%.6g", it->second);
}

}  // namespace

absl::Status MetricsLog::Open(const std::string& path, bool resume) {
  std::string last_row;
  if (resume) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) last_row = line;
    }
  }
  if (absl::SimpleAtod(last_row.substr(0, last_row.find(',')),
                       &time_offset_s_)) {
    out_.open(path, std::ios::app);
  } else {
    time_offset_s_ = 0;
    out_.open(path, std::ios::trunc);
    out_ << "time_s,examples,epoch,train_loss,eval_examples,eval_loss,"
            "eval_accuracy,eval_perplexity\n";
  }
  if (!out_.flush()) {
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

void MetricsLog::Append(const paramd::v1::GetStatusResponse& status,
                        double elapsed_s) {
  std::string train_loss;
  const uint64_t trained = status.loss_examples() - last_loss_examples_;
  if (status.loss_examples() > last_loss_examples_) {
    train_loss =
        absl::StrFormat("%.6g", (status.loss_sum() - last_loss_sum_) / trained);
    last_loss_sum_ = status.loss_sum();
    last_loss_examples_ = status.loss_examples();
  }
  std::string eval = ",,,";
  auto seen = status.eval().find("examples_seen");
  if (seen != status.eval().end() && seen->second != last_eval_examples_) {
    last_eval_examples_ = seen->second;
    eval = absl::StrCat(seen->second, ",", Cell(status, "eval_loss"), ",",
                        Cell(status, "eval_accuracy"), ",",
                        Cell(status, "eval_perplexity"));
  }
  out_ << absl::StrFormat("%.3f,%d,%.4f,", time_offset_s_ + elapsed_s,
                          status.examples(),
                          FractionDone(status) * status.epochs())
       << train_loss << "," << eval << "\n";
  out_.flush();
}

}  // namespace paramd
