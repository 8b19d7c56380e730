#include "server/optimizer.h"

#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace paramd {
namespace {

// The update loops below are branch-free integer and float arithmetic,
// so that gcc vectorizes them: no float comparison (it may trap on NaN)
// and no conditional store.

// 1 if `x` is finite, else 0. Infinities and NaNs have every exponent bit
// set, so adding one to the exponent carries into the sign bit for them.
inline uint32_t Finite(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return 1u - (((bits & 0x7f800000u) + 0x00800000u) >> 31);
}

// ok ? a : b, for ok 0 or 1.
inline float Pick(uint32_t ok, float a, float b) {
  uint32_t x, y;
  std::memcpy(&x, &a, sizeof(x));
  std::memcpy(&y, &b, sizeof(y));
  const uint32_t mask = 0u - ok;
  const uint32_t bits = (x & mask) | (y & ~mask);
  float out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

absl::Status NonNegative(const char* field, double value) {
  if (std::isfinite(value) && value >= 0.0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "optimizer.", field, " must be non-negative and finite, got ", value));
}

// Accepts [0, 1); rejects NaN.
absl::Status InUnitInterval(const char* field, double value) {
  if (value >= 0.0 && value < 1.0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("optimizer.", field, " must be in [0, 1), got ", value));
}

absl::Status Validate(const OptimizerConfig& config) {
  if (config.kind != "sgd" && config.kind != "momentum" &&
      config.kind != "adagrad" && config.kind != "adam") {
    return absl::InvalidArgumentError(
        absl::StrCat("optimizer.kind must be sgd, momentum, adagrad or adam, "
                     "got \"",
                     config.kind, "\""));
  }
  if (!(std::isfinite(config.learning_rate) && config.learning_rate > 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("optimizer.learning_rate must be positive and finite, "
                     "got ",
                     config.learning_rate));
  }
  PARAMD_RETURN_IF_ERROR(NonNegative("lr_decay", config.lr_decay));
  PARAMD_RETURN_IF_ERROR(NonNegative("weight_decay", config.weight_decay));
  PARAMD_RETURN_IF_ERROR(NonNegative("epsilon", config.epsilon));
  PARAMD_RETURN_IF_ERROR(
      NonNegative("initial_accumulator", config.initial_accumulator));
  PARAMD_RETURN_IF_ERROR(InUnitInterval("momentum", config.momentum));
  PARAMD_RETURN_IF_ERROR(InUnitInterval("beta1", config.beta1));
  PARAMD_RETURN_IF_ERROR(InUnitInterval("beta2", config.beta2));
  return absl::OkStatus();
}

// Holds the validated config and what every kind shares: the schedule and
// the precondition check.
class OptimizerBase : public Optimizer {
 public:
  // Public so that subclasses inheriting it can be built by make_unique.
  // REQUIRES: Validate(config) is OK.
  explicit OptimizerBase(const OptimizerConfig& config)
      : config_(config),
        weight_decay_(static_cast<float>(config.weight_decay)) {}

 protected:
  // lr_t = learning_rate / (1 + lr_decay * step), computed in double.
  double LearningRate(int64_t step) const {
    return config_.learning_rate /
           (1.0 + config_.lr_decay * static_cast<double>(step));
  }

  void CheckSizes([[maybe_unused]] int64_t step,
                  [[maybe_unused]] absl::Span<const float> grad,
                  [[maybe_unused]] absl::Span<float> params,
                  [[maybe_unused]] absl::Span<float> state) const {
    assert(step >= 0);
    assert(grad.size() == params.size());
    assert(state.size() == static_cast<size_t>(slots()) * params.size());
  }

  const OptimizerConfig config_;
  const float weight_decay_;
};

class SgdOptimizer final : public OptimizerBase {
 public:
  using OptimizerBase::OptimizerBase;

  int slots() const override { return 0; }
  std::vector<float> InitialState() const override { return {}; }

  int64_t Apply(int64_t step, absl::Span<const float> grad,
                absl::Span<float> params,
                absl::Span<float> state) const override {
    CheckSizes(step, grad, params, state);
    const float lr = static_cast<float>(LearningRate(step));
    const float wd = weight_decay_;
    const float* g = grad.data();
    float* w = params.data();
    const size_t n = params.size();
    uint32_t refused = 0;  // n < 2^32; 32 bits keep the loop vectorized
    for (size_t i = 0; i < n; ++i) {
      const float nw = w[i] - lr * (g[i] + wd * w[i]);
      const uint32_t ok = Finite(nw);
      w[i] = Pick(ok, nw, w[i]);
      refused += 1u - ok;
    }
    return refused;
  }
};

class MomentumOptimizer final : public OptimizerBase {
 public:
  using OptimizerBase::OptimizerBase;

  int slots() const override { return 1; }
  std::vector<float> InitialState() const override { return {0.0f}; }

  int64_t Apply(int64_t step, absl::Span<const float> grad,
                absl::Span<float> params,
                absl::Span<float> state) const override {
    CheckSizes(step, grad, params, state);
    const float lr = static_cast<float>(LearningRate(step));
    const float wd = weight_decay_;
    const float mu = static_cast<float>(config_.momentum);
    const float* g = grad.data();
    float* w = params.data();
    float* v = state.data();
    const size_t n = params.size();
    uint32_t refused = 0;  // n < 2^32; 32 bits keep the loop vectorized
    for (size_t i = 0; i < n; ++i) {
      const float nv = mu * v[i] + (g[i] + wd * w[i]);
      const float nw = w[i] - lr * nv;
      const uint32_t ok = Finite(nv) & Finite(nw);
      v[i] = Pick(ok, nv, v[i]);
      w[i] = Pick(ok, nw, w[i]);
      refused += 1u - ok;
    }
    return refused;
  }
};

class AdagradOptimizer final : public OptimizerBase {
 public:
  using OptimizerBase::OptimizerBase;

  int slots() const override { return 1; }
  std::vector<float> InitialState() const override {
    return {static_cast<float>(config_.initial_accumulator)};
  }

  int64_t Apply(int64_t step, absl::Span<const float> grad,
                absl::Span<float> params,
                absl::Span<float> state) const override {
    CheckSizes(step, grad, params, state);
    const float lr = static_cast<float>(LearningRate(step));
    const float wd = weight_decay_;
    const float eps = static_cast<float>(config_.epsilon);
    const float* g = grad.data();
    float* w = params.data();
    float* a = state.data();
    const size_t n = params.size();
    uint32_t refused = 0;  // n < 2^32; 32 bits keep the loop vectorized
    for (size_t i = 0; i < n; ++i) {
      const float gi = g[i] + wd * w[i];
      const float na = a[i] + gi * gi;
      const float nw = w[i] - lr * gi / (std::sqrt(na) + eps);
      const uint32_t ok = Finite(na) & Finite(nw);
      a[i] = Pick(ok, na, a[i]);
      w[i] = Pick(ok, nw, w[i]);
      refused += 1u - ok;
    }
    return refused;
  }
};

class AdamOptimizer final : public OptimizerBase {
 public:
  using OptimizerBase::OptimizerBase;

  int slots() const override { return 2; }
  std::vector<float> InitialState() const override { return {0.0f, 0.0f}; }

  // Uses lr_t * mhat / (sqrt(vhat) + eps)
  //   = (lr_t / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),
  // with bc_k = 1 - beta_k^(t+1), so the loop does no per-element division
  // by the bias corrections.
  int64_t Apply(int64_t step, absl::Span<const float> grad,
                absl::Span<float> params,
                absl::Span<float> state) const override {
    CheckSizes(step, grad, params, state);
    const double t1 = static_cast<double>(step) + 1.0;
    const double bc1 = 1.0 - std::pow(config_.beta1, t1);
    const double bc2 = 1.0 - std::pow(config_.beta2, t1);
    const float step_size = static_cast<float>(LearningRate(step) / bc1);
    const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
    const float wd = weight_decay_;
    const float b1 = static_cast<float>(config_.beta1);
    const float b2 = static_cast<float>(config_.beta2);
    // 1 - beta in double: 1.0f - 0.999f would be off by 1e-5 relative.
    const float one_minus_b1 = static_cast<float>(1.0 - config_.beta1);
    const float one_minus_b2 = static_cast<float>(1.0 - config_.beta2);
    const float eps = static_cast<float>(config_.epsilon);
    const size_t n = params.size();
    const float* g = grad.data();
    float* w = params.data();
    float* m = state.data();
    float* v = state.data() + n;
    uint32_t refused = 0;  // n < 2^32; 32 bits keep the loop vectorized
    for (size_t i = 0; i < n; ++i) {
      const float gi = g[i] + wd * w[i];
      const float nm = b1 * m[i] + one_minus_b1 * gi;
      const float nv = b2 * v[i] + one_minus_b2 * gi * gi;
      const float nw =
          w[i] - step_size * nm / (std::sqrt(nv) * inv_sqrt_bc2 + eps);
      const uint32_t ok = Finite(nm) & Finite(nv) & Finite(nw);
      m[i] = Pick(ok, nm, m[i]);
      v[i] = Pick(ok, nv, v[i]);
      w[i] = Pick(ok, nw, w[i]);
      refused += 1u - ok;
    }
    return refused;
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<Optimizer>> Optimizer::Create(
    const OptimizerConfig& config) {
  PARAMD_RETURN_IF_ERROR(Validate(config));
  if (config.kind == "sgd") return std::make_unique<SgdOptimizer>(config);
  if (config.kind == "momentum") {
    return std::make_unique<MomentumOptimizer>(config);
  }
  if (config.kind == "adagrad") {
    return std::make_unique<AdagradOptimizer>(config);
  }
  return std::make_unique<AdamOptimizer>(config);  // Validate() checked kind.
}

}  // namespace paramd
