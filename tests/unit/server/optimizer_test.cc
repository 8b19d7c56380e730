#include "server/optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/config.h"
#include "gtest/gtest.h"

namespace paramd {
namespace {

// Parameters: float arithmetic checked against exact or double values.
double ParamTol(double expected) {
  return 1e-6 * std::max(1.0, std::fabs(expected));
}

// State (accumulators can be tiny, so the tolerance is relative).
double StateTol(double expected) { return 2e-6 * std::fabs(expected) + 1e-12; }

std::unique_ptr<Optimizer> MustCreate(const OptimizerConfig& config) {
  absl::StatusOr<std::unique_ptr<Optimizer>> opt = Optimizer::Create(config);
  EXPECT_TRUE(opt.ok()) << opt.status();
  return opt.ok() ? std::move(opt).value() : nullptr;
}

// Lays out InitialState() as Apply() wants it: slot k of element i at
// k * n + i.
std::vector<float> NewState(const Optimizer& opt, size_t n) {
  std::vector<float> state;
  for (float init : opt.InitialState()) state.insert(state.end(), n, init);
  return state;
}

// Independent double-precision scalar version of the rules documented in
// optimizer.h, written from the formulas (textbook form, no shared code).
struct RefParam {
  double w = 0.0;
  double s0 = 0.0;  // momentum v, adagrad accumulator, adam m
  double s1 = 0.0;  // adam v
};

void RefUpdate(const OptimizerConfig& c, int64_t t, double g, RefParam* p) {
  const double lr = c.learning_rate / (1.0 + c.lr_decay * t);
  const double gp = g + c.weight_decay * p->w;
  if (c.kind == "sgd") {
    p->w = p->w - lr * gp;
  } else if (c.kind == "momentum") {
    p->s0 = c.momentum * p->s0 + gp;
    p->w = p->w - lr * p->s0;
  } else if (c.kind == "adagrad") {
    p->s0 = p->s0 + gp * gp;
    p->w = p->w - lr * gp / (std::sqrt(p->s0) + c.epsilon);
  } else if (c.kind == "adam") {
    p->s0 = c.beta1 * p->s0 + (1.0 - c.beta1) * gp;
    p->s1 = c.beta2 * p->s1 + (1.0 - c.beta2) * gp * gp;
    const double mhat = p->s0 / (1.0 - std::pow(c.beta1, t + 1));
    const double vhat = p->s1 / (1.0 - std::pow(c.beta2, t + 1));
    p->w = p->w - lr * mhat / (std::sqrt(vhat) + c.epsilon);
  } else {
    ADD_FAILURE() << "no reference for " << c.kind;
  }
}

TEST(OptimizerTest, SlotsAndInitialState) {
  OptimizerConfig config;
  config.initial_accumulator = 0.25;
  const std::vector<std::pair<std::string, std::vector<float>>> cases = {
      {"sgd", {}},
      {"momentum", {0.0f}},
      {"adagrad", {0.25f}},
      {"adam", {0.0f, 0.0f}}};
  for (const auto& [kind, initial] : cases) {
    config.kind = kind;
    std::unique_ptr<Optimizer> opt = MustCreate(config);
    ASSERT_NE(opt, nullptr) << kind;
    EXPECT_EQ(opt->slots(), static_cast<int>(initial.size())) << kind;
    EXPECT_EQ(opt->InitialState(), initial) << kind;
  }
}

TEST(OptimizerTest, SgdAppliesPlainStep) {
  OptimizerConfig config;
  config.kind = "sgd";
  config.learning_rate = 0.1;
  std::unique_ptr<Optimizer> opt = MustCreate(config);
  ASSERT_NE(opt, nullptr);
  std::vector<float> w = {1.0f, -2.0f, 0.5f};
  const std::vector<float> g = {0.5f, 1.0f, -2.0f};
  opt->Apply(0, g, absl::MakeSpan(w), {});
  // w - 0.1 * g.
  EXPECT_NEAR(w[0], 0.95, ParamTol(0.95));
  EXPECT_NEAR(w[1], -2.1, ParamTol(-2.1));
  EXPECT_NEAR(w[2], 0.7, ParamTol(0.7));
  opt->Apply(1, g, absl::MakeSpan(w), {});
  EXPECT_NEAR(w[0], 0.9, ParamTol(0.9));
  EXPECT_NEAR(w[1], -2.2, ParamTol(-2.2));
  EXPECT_NEAR(w[2], 0.9, ParamTol(0.9));
}

TEST(OptimizerTest, SgdAppliesWeightDecay) {
  OptimizerConfig config;
  config.kind = "sgd";
  config.learning_rate = 0.1;
  config.weight_decay = 0.5;
  std::unique_ptr<Optimizer> opt = MustCreate(config);
  ASSERT_NE(opt, nullptr);
  std::vector<float> w = {2.0f};
  const std::vector<float> g = {1.0f};
  // g' = 1 + 0.5 * 2 = 2;        w = 2 - 0.1 * 2 = 1.8
  // g' = 1 + 0.5 * 1.8 = 1.9;    w = 1.8 - 0.19 = 1.61
  // g' = 1 + 0.5 * 1.61 = 1.805; w = 1.61 - 0.1805 = 1.4295
  const double expected[] = {1.8, 1.61, 1.4295};
  for (int t = 0; t < 3; ++t) {
    opt->Apply(t, g, absl::MakeSpan(w), {});
    EXPECT_NEAR(w[0], expected[t], ParamTol(expected[t])) << "step " << t;
  }
}

TEST(OptimizerTest, SgdDecaysLearningRate) {
  OptimizerConfig config;
  config.kind = "sgd";
  config.learning_rate = 0.1;
  config.lr_decay = 0.5;
  std::unique_ptr<Optimizer> opt = MustCreate(config);
  ASSERT_NE(opt, nullptr);
  std::vector<float> w = {1.0f};
  const std::vector<float> g = {1.0f};
  // lr_t = 0.1 / (1 + 0.5 t): 0.1, 0.1 / 1.5 = 0.0666..., 0.1 / 2 = 0.05.
  const double expected[] = {0.9, 0.9 - 0.1 / 1.5, 0.9 - 0.1 / 1.5 - 0.05};
  for (int t = 0; t < 3; ++t) {
    opt->Apply(t, g, absl::MakeSpan(w), {});
    EXPECT_NEAR(w[0], expected[t], ParamTol(expected[t])) << "step " << t;
  }
}

TEST(OptimizerTest, LearningRateFollowsStepArgument) {
  OptimizerConfig config;
  config.kind = "sgd";
  config.learning_rate = 0.6;
  config.lr_decay = 0.5;
  std::unique_ptr<Optimizer> opt = MustCreate(config);
  ASSERT_NE(opt, nullptr);
  std::vector<float> w = {1.0f};
  // A row first touched late still uses its own count: lr = 0.6 / 6 = 0.1.
  opt->Apply(10, std::vector<float>{1.0f}, absl::MakeSpan(w), {});
  EXPECT_NEAR(w[0], 0.9, ParamTol(0.9));
}

TEST(OptimizerTest, MomentumAccumulatesOverThreeSteps) {
  OptimizerConfig config;
  config.kind = "momentum";
  config.learning_rate = 0.1;
  config.momentum = 0.9;
  std::unique_ptr<Optimizer> opt = MustCreate(config);
  ASSERT_NE(opt, nullptr);
  std::vector<float> w = {1.0f, 0.0f};
  std::vector<float> state = NewState(*opt, 2);
  // Element 0, grads 1, 2, -1:
  //   v = 1;                  w = 1 - 0.1 = 0.9
  //   v = 0.9 + 2 = 2.9;      w = 0.9 - 0.29 = 0.61
  //   v = 2.61 - 1 = 1.61;    w = 0.61 - 0.161 = 0.449
  // Element 1, grad 0 each time, stays at 0.
  const float grads[3] = {1.0f, 2.0f, -1.0f};
  const double expected_v[] = {1.0, 2.9, 1.61};
  const double expected_w[] = {0.9, 0.61, 0.449};
  for (int t = 0; t < 3; ++t) {
    opt->Apply(t, std::vector<float>{grads[t], 0.0f}, absl::MakeSpan(w),
               absl::MakeSpan(state));
    EXPECT_NEAR(state[0], expected_v[t], StateTol(expected_v[t])) << t;
    EXPECT_NEAR(w[0], expected_w[t], ParamTol(expected_w[t])) << t;
    EXPECT_EQ(state[1], 0.0f);
    EXPECT_EQ(w[1], 0.0f);
  }
}

TEST(OptimizerTest, MomentumFoldsWeightDecayIntoVelocity) {
  OptimizerConfig config;
  config.kind = "momentum";
  config.learning_rate = 0.1;
  config.momentum = 0.5;
  config.weight_decay = 0.5;
  std::unique_ptr<Optimizer> opt = MustCreate(config);
  ASSERT_NE(opt, nullptr);
  std::vector<float> w = {2.0f};
  std::vector<float> state = NewState(*opt, 1);
  const std::vector<float> g = {1.0f};
  // g' = 1 + 1 = 2;      v = 2;              w = 2 - 0.2 = 1.8
  // g' = 1 + 0.9 = 1.9;  v = 1 + 1.9 = 2.9;  w = 1.8 - 0.29 = 1.51
  opt->Apply(0, g, absl::MakeSpan(w), absl::MakeSpan(state));
  EXPECT_NEAR(w[0], 1.8, ParamTol(1.8));
  opt->Apply(1, g, absl::MakeSpan(w), absl::MakeSpan(state));
  EXPECT_NEAR(state[0], 2.9, StateTol(2.9));
  EXPECT_NEAR(w[0], 1.51, ParamTol(1.51));
}

TEST(OptimizerTest, AdagradStartsFromInitialAccumulator) {
  OptimizerConfig config;
  config.kind = "adagrad";
  config.learning_rate = 0.3;
  config.initial_accumulator = 8.0;
  config.epsilon = 0.0;  // Keeps the hand values exact.
  std::unique_ptr<Optimizer> opt = MustCreate(config);
  ASSERT_NE(opt, nullptr);
  std::vector<float> w = {1.0f};
  std::vector<float> state = NewState(*opt, 1);
  ASSERT_EQ(state, std::vector<float>{8.0f});
  // Grads 1, 4, 12 make the accumulator 8+1 = 9, 9+16 = 25, 25+144 = 169:
  //   w = 1 - 0.3 * 1 / 3 = 0.9
  //   w = 0.9 - 0.3 * 4 / 5 = 0.66
  //   w = 0.66 - 0.3 * 12 / 13 = 0.383076923...
  const float grads[3] = {1.0f, 4.0f, 12.0f};
  const double expected_a[] = {9.0, 25.0, 169.0};
  const double expected_w[] = {0.9, 0.66, 0.66 - 3.6 / 13.0};
  for (int t = 0; t < 3; ++t) {
    opt->Apply(t, std::vector<float>{grads[t]}, absl::MakeSpan(w),
               absl::MakeSpan(state));
    EXPECT_NEAR(state[0], expected_a[t], StateTol(expected_a[t])) << t;
    EXPECT_NEAR(w[0], expected_w[t], ParamTol(expected_w[t])) << t;
  }
}

TEST(OptimizerTest, AdamBiasCorrectionGivesLearningRateStepsForConstantGrad) {
  OptimizerConfig config;
  config.kind = "adam";
  config.learning_rate = 0.01;
  config.epsilon = 0.0;
  std::unique_ptr<Optimizer> opt = MustCreate(config);
  ASSERT_NE(opt, nullptr);
  std::vector<float> w = {1.0f, 1.0f};
  std::vector<float> state = NewState(*opt, 2);
  // With a constant g, m_t = (1 - b1^(t+1)) g and v_t = (1 - b2^(t+1)) g^2,
  // so mhat = g, vhat = g^2 and each step moves w by exactly lr * sign(g).
  const std::vector<float> g = {0.5f, -3.0f};
  for (int t = 0; t < 3; ++t) {
    opt->Apply(t, g, absl::MakeSpan(w), absl::MakeSpan(state));
    EXPECT_NEAR(w[0], 1.0 - 0.01 * (t + 1), ParamTol(1.0)) << t;
    EXPECT_NEAR(w[1], 1.0 + 0.01 * (t + 1), ParamTol(1.0)) << t;
  }
}

TEST(OptimizerTest, AdamMatchesTextbookOverThreeSteps) {
  OptimizerConfig config;
  config.kind = "adam";
  config.learning_rate = 0.01;
  config.beta1 = 0.9;
  config.beta2 = 0.999;
  config.epsilon = 1e-8;
  config.weight_decay = 0.1;
  std::unique_ptr<Optimizer> opt = MustCreate(config);
  ASSERT_NE(opt, nullptr);
  std::vector<float> w = {1.0f, -2.0f};
  std::vector<float> state = NewState(*opt, 2);
  const std::vector<std::vector<float>> grads = {
      {0.5f, -1.0f}, {-0.3f, 0.2f}, {0.8f, 0.05f}};
  // Rows: w0, w1, m0, m1, v0, v1 after each step. Computed with
  // /usr/bin/python3 in double from the textbook formulas in optimizer.h (torch
  // is not installed). Step 0 by hand: g' = 0.6, -1.2; m = 0.06, -0.12; v =
  // 0.00036, 0.00144; mhat / sqrt(vhat) = +-1, so w = 0.99, -1.99.
  const double expected[3][6] = {
      {0.990000000167, -1.99000000008, 0.06, -0.12, 0.00036, 0.00144},
      {0.986011586162, -1.98330562419, 0.0339000000017, -0.107900000001,
       0.000400040999993, 0.001438561},
      {0.979012897048, -1.97738557729, 0.120370115863, -0.111943056243,
       0.00120712500126, 0.00145912439475}};
  for (int t = 0; t < 3; ++t) {
    opt->Apply(t, grads[t], absl::MakeSpan(w), absl::MakeSpan(state));
    const double* e = expected[t];
    EXPECT_NEAR(w[0], e[0], ParamTol(e[0])) << t;
    EXPECT_NEAR(w[1], e[1], ParamTol(e[1])) << t;
    // State layout: m for both elements, then v for both.
    for (int k = 0; k < 4; ++k) {
      EXPECT_NEAR(state[k], e[k + 2], StateTol(e[k + 2])) << t << " " << k;
    }
  }
}

// Every kind with weight decay, lr decay and a non-zero initial accumulator,
// against the double reference above, over several steps and elements.
TEST(OptimizerTest, AllKindsMatchScalarReference) {
  OptimizerConfig config;
  config.learning_rate = 0.05;
  config.lr_decay = 0.2;
  config.weight_decay = 0.01;
  config.momentum = 0.8;
  config.initial_accumulator = 0.1;
  config.beta1 = 0.85;
  config.beta2 = 0.99;
  config.epsilon = 1e-6;
  const std::vector<float> w0 = {0.5f, -1.25f, 2.0f, 0.0f};
  for (const std::string kind : {"sgd", "momentum", "adagrad", "adam"}) {
    config.kind = kind;
    std::unique_ptr<Optimizer> opt = MustCreate(config);
    ASSERT_NE(opt, nullptr) << kind;
    const size_t n = w0.size();
    std::vector<float> w = w0;
    std::vector<float> state = NewState(*opt, n);
    std::vector<RefParam> ref(n);
    for (size_t i = 0; i < n; ++i) {
      ref[i].w = w0[i];
      if (kind == "adagrad") ref[i].s0 = config.initial_accumulator;
    }
    for (int t = 0; t < 6; ++t) {
      std::vector<float> g(n);
      for (size_t i = 0; i < n; ++i) {
        g[i] = 0.25f * static_cast<float>((3 * t + 5 * i) % 7) - 0.75f;
        RefUpdate(config, t, g[i], &ref[i]);
      }
      opt->Apply(t, g, absl::MakeSpan(w), absl::MakeSpan(state));
      for (size_t i = 0; i < n; ++i) {
        EXPECT_NEAR(w[i], ref[i].w, ParamTol(ref[i].w))
            << kind << " step " << t << " element " << i;
        if (opt->slots() >= 1) {
          EXPECT_NEAR(state[i], ref[i].s0, StateTol(ref[i].s0)) << kind;
        }
        if (opt->slots() >= 2) {
          EXPECT_NEAR(state[n + i], ref[i].s1, StateTol(ref[i].s1)) << kind;
        }
      }
    }
  }
}

TEST(OptimizerTest, CreateAcceptsDefaultsForEveryKind) {
  for (const std::string kind : {"sgd", "momentum", "adagrad", "adam"}) {
    OptimizerConfig config;
    config.kind = kind;
    std::unique_ptr<Optimizer> opt = MustCreate(config);
    ASSERT_NE(opt, nullptr) << kind;
    opt->Apply(0, {}, {}, {});  // An empty update is fine.
  }
}

TEST(OptimizerTest, CreateRejectsUnknownKind) {
  OptimizerConfig config;
  config.kind = "rmsprop";
  absl::StatusOr<std::unique_ptr<Optimizer>> opt = Optimizer::Create(config);
  ASSERT_FALSE(opt.ok());
  EXPECT_EQ(opt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(opt.status().message().find("kind"), absl::string_view::npos)
      << opt.status();
  EXPECT_NE(opt.status().message().find("rmsprop"), absl::string_view::npos)
      << opt.status();
}

TEST(OptimizerTest, CreateRejectsNonPositiveLearningRate) {
  const std::vector<std::pair<double, std::string>> cases = {
      {0.0, "got 0"},
      {-0.5, "got -0.5"},
      {std::numeric_limits<double>::infinity(), "got inf"},
      {std::numeric_limits<double>::quiet_NaN(), "got nan"}};
  for (const auto& [lr, value] : cases) {
    OptimizerConfig config;
    config.kind = "adam";
    config.learning_rate = lr;
    absl::StatusOr<std::unique_ptr<Optimizer>> opt = Optimizer::Create(config);
    ASSERT_FALSE(opt.ok()) << lr;
    EXPECT_EQ(opt.status().code(), absl::StatusCode::kInvalidArgument);
    const absl::string_view message = opt.status().message();
    EXPECT_NE(message.find("learning_rate"), absl::string_view::npos)
        << message;
    EXPECT_NE(message.find(value), absl::string_view::npos) << message;
  }
}

TEST(OptimizerTest, CreateRejectsOutOfRangeFields) {
  struct Case {
    std::string field;
    void (*set)(OptimizerConfig*);
  };
  const Case cases[] = {
      {"lr_decay", [](OptimizerConfig* c) { c->lr_decay = -0.1; }},
      {"weight_decay", [](OptimizerConfig* c) { c->weight_decay = -1e-4; }},
      {"epsilon", [](OptimizerConfig* c) { c->epsilon = -1e-8; }},
      {"initial_accumulator",
       [](OptimizerConfig* c) { c->initial_accumulator = -1.0; }},
      {"momentum", [](OptimizerConfig* c) { c->momentum = 1.0; }},
      {"momentum", [](OptimizerConfig* c) { c->momentum = -0.1; }},
      {"beta1", [](OptimizerConfig* c) { c->beta1 = 1.0; }},
      {"beta2", [](OptimizerConfig* c) { c->beta2 = 1.5; }},
      {"beta2", [](OptimizerConfig* c) {
         c->beta2 = std::numeric_limits<double>::quiet_NaN();
       }}};
  for (const Case& test_case : cases) {
    OptimizerConfig config;
    test_case.set(&config);
    absl::StatusOr<std::unique_ptr<Optimizer>> opt = Optimizer::Create(config);
    ASSERT_FALSE(opt.ok()) << test_case.field;
    EXPECT_EQ(opt.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(opt.status().message().find(test_case.field),
              absl::string_view::npos)
        << opt.status();
  }
}

TEST(OptimizerTest, EveryKindLeavesAnElementWhoseStepIsNotFinite) {
  for (const char* kind : {"sgd", "momentum", "adagrad", "adam"}) {
    OptimizerConfig config;
    config.kind = kind;
    config.learning_rate = 1e30;
    std::unique_ptr<Optimizer> opt = MustCreate(config);
    ASSERT_NE(opt, nullptr);
    // Element 0's step overflows; element 1's is ordinary.
    std::vector<float> w = {3e38f, 0.0f};
    std::vector<float> state = NewState(*opt, 2);
    const std::vector<float> before_state = state;
    const std::vector<float> g = {-3e38f, 0.0f};
    EXPECT_EQ(opt->Apply(0, g, absl::MakeSpan(w), absl::MakeSpan(state)), 1)
        << kind;
    EXPECT_EQ(w[0], 3e38f) << kind;
    for (int k = 0; k < opt->slots(); ++k) {
      EXPECT_EQ(state[k * 2], before_state[k * 2]) << kind << " slot " << k;
    }
  }
}

// The update loops are vectorized: 37 elements run through the vector
// body and the scalar tail. Each element must come out as it does alone,
// the overflowing ones (at both ends and in the middle) untouched, and
// -0, denormals and the largest finite values are not refused.
TEST(OptimizerTest, EveryKindTreatsEachElementAsItDoesAlone) {
  const float big = std::numeric_limits<float>::max();
  const float tiny = std::numeric_limits<float>::denorm_min();
  for (const char* kind : {"sgd", "momentum", "adagrad", "adam"}) {
    OptimizerConfig config;
    config.kind = kind;
    config.learning_rate = 1e30;
    std::unique_ptr<Optimizer> opt = MustCreate(config);
    ASSERT_NE(opt, nullptr);
    const size_t n = 37;
    std::vector<float> w(n), g(n);
    for (size_t i = 0; i < n; ++i) {
      w[i] = i % 3 == 0 ? -0.0f : (i % 3 == 1 ? tiny : -1e-38f);
      g[i] = i % 2 == 0 ? 0.0f : -tiny;
    }
    for (size_t i : {size_t{0}, size_t{17}, size_t{36}}) {
      w[i] = big;
      g[i] = -big;
    }
    std::vector<float> state = NewState(*opt, n);
    std::vector<float> alone_w = w;
    std::vector<float> alone_state = state;
    const std::vector<float> w0 = w;
    EXPECT_EQ(opt->Apply(0, g, absl::MakeSpan(w), absl::MakeSpan(state)), 3)
        << kind;
    for (size_t i = 0; i < n; ++i) {
      std::vector<float> one_state(opt->slots());
      for (int k = 0; k < opt->slots(); ++k)
        one_state[k] = alone_state[k * n + i];
      opt->Apply(0, absl::MakeConstSpan(&g[i], 1),
                 absl::MakeSpan(&alone_w[i], 1), absl::MakeSpan(one_state));
      EXPECT_EQ(std::memcmp(&w[i], &alone_w[i], sizeof(float)), 0)
          << kind << " element " << i << ": " << w[i] << " vs " << alone_w[i];
      for (int k = 0; k < opt->slots(); ++k) {
        EXPECT_EQ(state[k * n + i], one_state[k]) << kind << " " << i;
      }
    }
    for (size_t i : {size_t{0}, size_t{17}, size_t{36}}) {
      EXPECT_EQ(w[i], w0[i]) << kind << " element " << i;
    }
  }
}

}  // namespace
}  // namespace paramd
