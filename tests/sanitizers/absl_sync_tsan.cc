// Linked into every executable of the TSan build (-DPARAMD_SANITIZE=thread,
// see cmake/paramd_targets.cmake), and only there.
//
// Debian's abseil is not built with ThreadSanitizer, so TSan cannot see
// absl::Mutex (nor Notification or Barrier) order memory accesses: every
// member guarded by a Mutex would be reported as a race. This file defines
// the synchronisation entry points paramd, gRPC and abseil call. The
// executable's definitions take precedence over the shared library's, so
// every call lands here; each calls abseil's own (found with
// dlsym(RTLD_NEXT)) and tells TSan about the happens-before edge it makes:
// a release before a lock is let go or a notification sent, an acquire once
// a lock is taken or a notification seen.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/barrier.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

// ThreadSanitizer's dynamic annotations (tsan_interface_ann.cpp).
extern "C" void AnnotateHappensBefore(const char* file, int line,
                                      const volatile void* addr);
extern "C" void AnnotateHappensAfter(const char* file, int line,
                                     const volatile void* addr);

namespace {

#define PARAMD_STRINGIFY_INNER(x) #x
#define PARAMD_STRINGIFY(x) PARAMD_STRINGIFY_INNER(x)

void Release(const volatile void* sync) {
  AnnotateHappensBefore(__FILE__, __LINE__, sync);
}
void Acquire(const volatile void* sync) {
  AnnotateHappensAfter(__FILE__, __LINE__, sync);
}

// abseil's definition of `absl::<rest>`, e.g. "5Mutex4LockEv", where
// <rest> is the Itanium mangling after the inline namespace, with a leading
// "K" for a const member function.
void* Original(const char* rest) {
  const char* ns = PARAMD_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const bool is_const = rest[0] == 'K';
  const std::string name = std::string("_ZN") + (is_const ? "K" : "") +
                           "4absl" + std::to_string(std::strlen(ns)) + ns +
                           (rest + (is_const ? 1 : 0));
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "absl_sync_tsan: %s not found\n", name.c_str());
    std::abort();
  }
  return fn;
}

// A condition as abseil evaluates it: with the lock held, but possibly in a
// waiting thread that took the lock back inside abseil (where no Acquire is
// seen). Wrapping it brackets each evaluation with the edges the lock
// makes.
class AnnotatedCondition {
 public:
  AnnotatedCondition(const absl::Condition& cond, absl::Mutex* mu)
      : cond_(cond), mu_(mu) {}
  absl::Condition get() { return absl::Condition(&Eval, this); }

 private:
  static bool Eval(AnnotatedCondition* self) {
    Acquire(self->mu_);
    const bool met = self->cond_.Eval();
    Release(self->mu_);
    return met;
  }

  const absl::Condition& cond_;
  absl::Mutex* const mu_;
};

}  // namespace

// Each wrapper looks its original up once, on first use.
#define PARAMD_ORIGINAL(R, rest, ...) \
  static const auto original =        \
      reinterpret_cast<R (*)(__VA_ARGS__)>(Original(rest))

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  PARAMD_ORIGINAL(void, "5Mutex4LockEv", Mutex*);
  original(this);
  Acquire(this);
}

void Mutex::ReaderLock() {
  PARAMD_ORIGINAL(void, "5Mutex10ReaderLockEv", Mutex*);
  original(this);
  Acquire(this);
}

bool Mutex::TryLock() {
  PARAMD_ORIGINAL(bool, "5Mutex7TryLockEv", Mutex*);
  const bool locked = original(this);
  if (locked) Acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  PARAMD_ORIGINAL(bool, "5Mutex13ReaderTryLockEv", Mutex*);
  const bool locked = original(this);
  if (locked) Acquire(this);
  return locked;
}

void Mutex::Unlock() {
  PARAMD_ORIGINAL(void, "5Mutex6UnlockEv", Mutex*);
  Release(this);
  original(this);
}

void Mutex::ReaderUnlock() {
  PARAMD_ORIGINAL(void, "5Mutex12ReaderUnlockEv", Mutex*);
  Release(this);
  original(this);
}

void Mutex::LockWhen(const Condition& cond) {
  PARAMD_ORIGINAL(void, "5Mutex8LockWhenERKNS0_9ConditionE", Mutex*,
                  const Condition&);
  AnnotatedCondition annotated(cond, this);
  original(this, annotated.get());
  Acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  PARAMD_ORIGINAL(void, "5Mutex14ReaderLockWhenERKNS0_9ConditionE", Mutex*,
                  const Condition&);
  AnnotatedCondition annotated(cond, this);
  original(this, annotated.get());
  Acquire(this);
}

// Await lets the lock go while it waits, and takes it back.
void Mutex::Await(const Condition& cond) {
  PARAMD_ORIGINAL(void, "5Mutex5AwaitERKNS0_9ConditionE", Mutex*,
                  const Condition&);
  Release(this);
  AnnotatedCondition annotated(cond, this);
  original(this, annotated.get());
  Acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  PARAMD_ORIGINAL(bool,
                  "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE",
                  Mutex*, const Condition&, Duration);
  Release(this);
  AnnotatedCondition annotated(cond, this);
  const bool met = original(this, annotated.get(), timeout);
  Acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  PARAMD_ORIGINAL(bool, "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE",
                  Mutex*, const Condition&, Time);
  Release(this);
  AnnotatedCondition annotated(cond, this);
  const bool met = original(this, annotated.get(), deadline);
  Acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  PARAMD_ORIGINAL(void, "7CondVar4WaitEPNS0_5MutexE", CondVar*, Mutex*);
  Release(mu);
  original(this, mu);
  Acquire(mu);
}

void Notification::Notify() {
  PARAMD_ORIGINAL(void, "12Notification6NotifyEv", Notification*);
  Release(this);
  original(this);
}

void Notification::WaitForNotification() const {
  PARAMD_ORIGINAL(void, "K12Notification19WaitForNotificationEv",
                  const Notification*);
  original(this);
  Acquire(this);
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  PARAMD_ORIGINAL(
      bool, "K12Notification30WaitForNotificationWithTimeoutENS0_8DurationE",
      const Notification*, Duration);
  const bool notified = original(this, timeout);
  if (notified) Acquire(this);
  return notified;
}

bool Barrier::Block() {
  PARAMD_ORIGINAL(bool, "7Barrier5BlockEv", Barrier*);
  Release(this);
  const bool last = original(this);
  Acquire(this);
  return last;
}

ABSL_NAMESPACE_END
}  // namespace absl
