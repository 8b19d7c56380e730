// Early-return helpers for absl::Status, modelled on upstream
// ABSL_RETURN_IF_ERROR (abseil 20220623 ships none).
#ifndef PARAMD_COMMON_STATUS_MACROS_H_
#define PARAMD_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns the status from the enclosing function if `expr` is not OK.
#define PARAMD_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    const ::absl::Status paramd_status_ = (expr);    \
    if (!paramd_status_.ok()) return paramd_status_; \
  } while (0)

#define PARAMD_STATUS_CONCAT_INNER_(a, b) a##b
#define PARAMD_STATUS_CONCAT_(a, b) PARAMD_STATUS_CONCAT_INNER_(a, b)

// `PARAMD_ASSIGN_OR_RETURN(T v, Fn());` declares v from an OK StatusOr, or
// returns its status.
#define PARAMD_ASSIGN_OR_RETURN(lhs, expr) \
  PARAMD_ASSIGN_OR_RETURN_IMPL_(           \
      PARAMD_STATUS_CONCAT_(paramd_statusor_, __LINE__), lhs, expr)

#define PARAMD_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return statusor.status();            \
  lhs = std::move(statusor).value()

#endif  // PARAMD_COMMON_STATUS_MACROS_H_
