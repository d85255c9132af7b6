// Cown values used by threads of the main interpreter outside behaviours.
//
// Such a use is allowed only while no behaviour is in flight, and is safe
// without a lock as long as it runs no Python code: the interpreter lock
// makes it one step. But a value that lives in a sub-interpreter, or is in
// transit between interpreters, has to move first, which runs code (pickle
// and unpickle) and lets go of that lock. Meanwhile another thread could
// use the same value, a behaviour could be scheduled that uses it, or the
// sub-interpreter could be destroyed. So uses that may move a value, and
// the destruction of the sub-interpreters, take turns (OutsideUse), and
// behaviours scheduled from threads outside the runtime wait for the turn
// to end (OutsideScheduling). Behaviours scheduled by running bodies need
// no such wait: while a body runs, no use outside behaviours is allowed.
// On a free-threaded CPython there is no interpreter lock to make even a
// plain read one step, so every use outside behaviours takes its turn.
#pragma once

namespace boc::python {

class OutsideUse {
 public:
  // Waits for the turn, letting go of the main interpreter's lock (held by
  // the caller) meanwhile; then no OutsideScheduling starts until the end.
  // A thread that has the turn already (a signal handler inside the main
  // thread's use) keeps it.
  OutsideUse();
  ~OutsideUse();
  OutsideUse(const OutsideUse&) = delete;
  OutsideUse& operator=(const OutsideUse&) = delete;
};

class OutsideScheduling {
 public:
  // Waits while an OutsideUse lasts, letting go of the main interpreter's
  // lock (held by the caller) meanwhile.
  OutsideScheduling();
  ~OutsideScheduling();
  OutsideScheduling(const OutsideScheduling&) = delete;
  OutsideScheduling& operator=(const OutsideScheduling&) = delete;
};

}  // namespace boc::python
