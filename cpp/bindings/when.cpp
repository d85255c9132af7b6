#include "when.h"

#include <memory>
#include <string>
#include <vector>

#include "arity.h"
#include "errors.h"
#include "interpreters.h"
#include "py_cown.h"
#include "python_behaviour.h"
#include "session.h"
#include "subinterpreters/behaviour.h"

namespace nb = nanobind;

namespace boc::python {
namespace {

// What boc.when(*args) returns: the checked arguments, waiting for the
// function to decorate.
class When {
 public:
  explicit When(nb::args args) : call_args_(check(args)) {}

  // Schedules fn(*args) and returns the cown that receives its result.
  nb::object operator()(nb::handle fn) const {
    if (!check_arity(fn.ptr(), static_cast<Py_ssize_t>(nb::len(call_args_)))) throw nb::python_error();
    std::shared_ptr<Run> run = run_for_scheduling();
    while (run->executor() == Executor::subinterpreters) {
      main_local().let_visitors_in();
      PyObject* result = nullptr;
      std::unique_ptr<Behaviour> b(
          make_subinterpreter_behaviour(*run, main_local(), call_args_.ptr(), fn.ptr(), &result));
      if (!b) throw nb::python_error();
      nb::object out = nb::steal(result);
      // Making it may have run Python code (the body's first transport),
      // and so a signal handler that ended the run: then it goes to the
      // run in progress now, if it is not for the other executor.
      std::shared_ptr<Run> now = run_for_scheduling();
      if (now == run) {
        schedule(*run, b.release());
        return out;
      }
      run = std::move(now);
    }
    nb::object result = nb::steal(wrap_main_cown(SharedCown::make(Py_NewRef(Py_None), main_local())));
    std::vector<Cown*> cowns;
    cowns.reserve(nb::len(call_args_) + 1);
    nb::object args = call_args_;
    for (std::size_t i = 0; i < nb::len(call_args_); ++i) {
      nb::handle a = call_args_[i];
      if (PyList_CheckExact(a.ptr())) {
        for (nb::handle c : a) cowns.push_back(nb::inst_ptr<PyCown>(c)->core());
        // The body gets a list of its own: what it does to it must not
        // change the cowns this decorator schedules on next time.
        if (args.is(call_args_)) args = copy_of(call_args_);
        PyObject* group = PyList_GetSlice(a.ptr(), 0, PY_SSIZE_T_MAX);
        if (group == nullptr) throw nb::python_error();
        PyObject* old = PyTuple_GET_ITEM(args.ptr(), static_cast<Py_ssize_t>(i));
        PyTuple_SET_ITEM(args.ptr(), static_cast<Py_ssize_t>(i), group);
        Py_DECREF(old);
      } else {
        cowns.push_back(nb::inst_ptr<PyCown>(a)->core());
      }
    }
    cowns.push_back(nb::inst_ptr<PyCown>(result)->core());
    schedule(*run, new PythonBehaviour(*run, cowns, fn.ptr(), args.ptr(), result.ptr()));
    return result;
  }

 private:
  // Cowns as given, groups as new lists; TypeError for anything else.
  static nb::tuple check(nb::args args) {
    const std::size_t n = nb::len(args);
    nb::object out = nb::steal(PyTuple_New(static_cast<Py_ssize_t>(n)));
    for (std::size_t i = 0; i < n; ++i) {
      nb::handle a = args[i];
      nb::object item;
      if (nb::isinstance<PyCown>(a)) {
        check_initialised(a, i, false);
        item = nb::borrow(a);
      } else if (PyList_Check(a.ptr()) || PyTuple_Check(a.ptr())) {
        nb::list group;
        for (nb::handle c : a) {
          if (!nb::isinstance<PyCown>(c)) {
            throw nb::type_error(("when() argument " + std::to_string(i + 1) + " is a group holding a " +
                                  type_name(c) + "; groups must hold only Cowns")
                                     .c_str());
          }
          check_initialised(c, i, true);
          group.append(c);
        }
        item = std::move(group);
      } else {
        const char* hint = PyCallable_Check(a.ptr()) ? " (write @when(...) with the cowns in parentheses)" : "";
        throw nb::type_error(("when() argument " + std::to_string(i + 1) + " is a " + type_name(a) +
                              "; expected a Cown or a list/tuple of Cowns" + hint)
                                 .c_str());
      }
      PyTuple_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), item.release().ptr());
    }
    return nb::borrow<nb::tuple>(out);
  }

  // A new tuple with the items of `t` (a slice of all of it would be `t`).
  static nb::object copy_of(const nb::tuple& t) {
    const Py_ssize_t n = PyTuple_GET_SIZE(t.ptr());
    nb::object out = nb::steal(PyTuple_New(n));
    if (!out.is_valid()) throw nb::python_error();
    for (Py_ssize_t i = 0; i < n; ++i) PyTuple_SET_ITEM(out.ptr(), i, Py_NewRef(PyTuple_GET_ITEM(t.ptr(), i)));
    return out;
  }

  static std::string type_name(nb::handle o) { return nb::type_name(o.type()).c_str(); }

  // TypeError unless `c`, argument `i` or in group `i`, was initialised.
  static void check_initialised(nb::handle c, std::size_t i, bool in_group) {
    if (nb::inst_ready(c)) return;
    raise_type_error("when() argument " + std::to_string(i + 1) + (in_group ? " is a group holding " : " is ") +
                     uninitialised_cown_message(c));
  }

  nb::tuple call_args_;
};

// when(...)(fn), as the type's call slot: it runs once per behaviour, and
// nanobind's dispatch would cost more than the rest of the call (and would
// refuse None before the checks could say what is wrong with it).
PyObject* call_when(PyObject* self, PyObject* args, PyObject* kwargs) noexcept {
  if (PyTuple_GET_SIZE(args) != 1 || (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0)) {
    PyErr_SetString(PyExc_TypeError,
                    "the decorator boc.when(...) returns takes one argument, the function to schedule");
    return nullptr;
  }
  if (!nb::inst_ready(self)) {
    PyErr_SetString(PyExc_TypeError, "this decorator was never initialised: make it with boc.when(...)");
    return nullptr;
  }
  try {
    return nb::inst_ptr<When>(self)->operator()(PyTuple_GET_ITEM(args, 0)).release().ptr();
  } catch (nb::python_error& e) {
    e.restore();
  } catch (const nb::builtin_exception& e) {
    PyErr_SetString(e.type() == nb::exception_type::type_error ? PyExc_TypeError : PyExc_RuntimeError, e.what());
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

PyType_Slot when_slots[] = {{Py_tp_call, reinterpret_cast<void*>(call_when)}, {0, nullptr}};

}  // namespace

void bind_when(nb::module_& m) {
  nb::class_<When>(m, "When", nb::type_slots(when_slots), "The decorator boc.when() returns.")
      .def(nb::init<nb::args>());
}

}  // namespace boc::python
