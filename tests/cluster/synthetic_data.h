// Generated data sets for cluster tests, written as LIBSVM files.
#ifndef PARAMD_TESTS_CLUSTER_SYNTHETIC_DATA_H_
#define PARAMD_TESTS_CLUSTER_SYNTHETIC_DATA_H_

#include <string>

namespace paramd {
namespace testing {

// Writes `num_shards` files train-NNNNN.svm of `per_shard` examples and
// eval.svm of `eval_count` examples into `dir`. Each example has 10 of 200
// features set (value 1); its label is 1 iff a fixed hidden weight vector
// scores it above zero, so the set is linearly separable. Examples scoring
// within 1 of zero are skipped, which leaves a margin.
void WriteSeparableData(const std::string& dir, int num_shards, int per_shard,
                        int eval_count, unsigned seed);

}  // namespace testing
}  // namespace paramd

#endif  // PARAMD_TESTS_CLUSTER_SYNTHETIC_DATA_H_
