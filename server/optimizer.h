// Server-side optimizers: the update rules a table applies to its values
// when gradients arrive.
#ifndef PARAMD_SERVER_OPTIMIZER_H_
#define PARAMD_SERVER_OPTIMIZER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/config.h"

namespace paramd {

// Applies gradients to parameters in place. Stateless itself: per-parameter
// state (momentum, accumulators) lives beside the parameters, owned by the
// table. Thread-safe (const).
//
// Every kind computes, for the update numbered t (t = 0 for the first update
// of that parameter or row):
//   g' = g + weight_decay * w                  (L2 folded into the gradient)
//   lr_t = learning_rate / (1 + lr_decay * t)
// and then:
//   sgd:      w -= lr_t * g'
//   momentum: v = momentum * v + g';  w -= lr_t * v
//             (heavy ball, PyTorch convention; v starts at 0)
//   adagrad:  a += g'^2;  w -= lr_t * g' / (sqrt(a) + epsilon)
//             (a starts at initial_accumulator)
//   adam:     m = beta1 * m + (1 - beta1) * g'
//             v = beta2 * v + (1 - beta2) * g'^2      (m, v start at 0)
//             mhat = m / (1 - beta1^(t+1));  vhat = v / (1 - beta2^(t+1))
//             w -= lr_t * mhat / (sqrt(vhat) + epsilon)
// Element arithmetic is float; the schedule and the bias corrections are
// computed once per call in double.
class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // Returns the optimizer `config.kind` names. Fails with InvalidArgument,
  // naming the field and its value, on an unknown kind, a learning_rate that
  // is not positive and finite, a negative or non-finite weight_decay,
  // lr_decay, epsilon or initial_accumulator, or momentum, beta1 or beta2
  // outside [0, 1). All fields are checked whatever the kind.
  static absl::StatusOr<std::unique_ptr<Optimizer>> Create(
      const OptimizerConfig& config);

  // Floats of state per parameter: 0 sgd, 1 momentum, 1 adagrad, 2 adam.
  virtual int slots() const = 0;

  // Initial value of each state slot (adagrad: initial_accumulator; others
  // 0). Size slots().
  virtual std::vector<float> InitialState() const = 0;

  // Applies one update. `step` is how many updates these parameters had
  // before (0 for the first). `state` holds slots() consecutive blocks of
  // params.size() floats: slot k of element i is state[k * n + i].
  // An element whose new value or state would not be finite (an overflow,
  // or an infinite sum of finite gradients) keeps its old value and state.
  // Returns how many elements did so.
  // REQUIRES: grad.size() == params.size(),
  //           state.size() == slots() * params.size(), step >= 0.
  virtual int64_t Apply(int64_t step, absl::Span<const float> grad,
                        absl::Span<float> params,
                        absl::Span<float> state) const = 0;
};

}  // namespace paramd

#endif  // PARAMD_SERVER_OPTIMIZER_H_
