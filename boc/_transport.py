"""Moving bodies and values between interpreters, for executor="subinterpreters".

The runtime calls these helpers from C++ in whichever interpreter holds the
object: ``recipe`` and ``dumps`` in the interpreter a function or value
leaves, ``load`` and ``loads`` in the one it enters. Small immutable values
(None, bools, ints, floats, str, bytes, tuples of them, cowns) never come
here: the runtime copies them itself.

A function travels once per worker: by reference to its module where that
module imports in the worker (its globals are then the module's), else by
value (``cloudpickle``: code, the globals it names, classes and functions
of ``__main__``). What it captures (closure cells, defaults) travels with
each behaviour, as the values they hold when it is scheduled.
"""

from __future__ import annotations

import importlib
import marshal
import pickle
import re
import reprlib
import sys
import traceback
import types
from typing import Any

import cloudpickle

_THREADS_HINT = 'executor="threads" accepts it'


def _importable_module(fn: types.FunctionType) -> str | None:
    """The name of the module whose globals ``fn`` uses, if a worker can import it."""
    name = getattr(fn, "__module__", None)
    if not isinstance(name, str) or name == "__main__":
        return None
    module = sys.modules.get(name)
    if module is None or getattr(module, "__dict__", None) is not fn.__globals__:
        return None
    if getattr(module, "__spec__", None) is None:
        return None  # made by exec() or types.ModuleType: nothing to import
    return name


def _template(fn: types.FunctionType) -> types.FunctionType:
    """``fn`` without what it captures: same code and globals, empty cells."""
    cells = tuple(types.CellType() for _ in fn.__code__.co_freevars)
    template = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, None, cells)
    template.__qualname__ = fn.__qualname__
    template.__module__ = fn.__module__
    return template


def _by_value(fn: types.FunctionType, module: str | None) -> bytes:
    template = _template(fn)
    if module is None:
        return cloudpickle.dumps(template, protocol=5)
    # The module's own functions and classes that the body names travel with
    # it, so that a worker where the module does not import can still run it.
    cloudpickle.register_pickle_by_value(sys.modules[module])
    try:
        return cloudpickle.dumps(template, protocol=5)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[module])


def recipe(fn: types.FunctionType) -> tuple[str | None, bytes | None, bytes | None]:
    """How a worker rebuilds ``fn``: (module name, marshalled code, by-value pickle).

    The code travels as it is (file names and line numbers intact); its
    globals come from the module, or else from the pickle. Either route may
    be missing (None), not both: TypeError if ``fn`` can travel neither way,
    naming what stopped it.
    """
    module = _importable_module(fn)
    code = marshal.dumps(fn.__code__)
    try:
        value = _by_value(fn, module)
    except Exception as e:
        if module is None:
            raise TypeError(
                f"the body {fn.__qualname__!r} cannot be sent to a sub-interpreter: {_reason(e)}; {_THREADS_HINT}"
            ) from None
        value = None  # it goes by reference to its module
    return module, code, value


# In a worker, per module that travels by value (``__main__``, say): the
# namespace that stands for it there, shared by every function of that module
# that arrives, as a module's globals are.
_namespaces: dict[str, dict[str, Any]] = {}


def _namespace(arrived: dict[str, Any]) -> dict[str, Any]:
    """The namespace for the module ``arrived`` (a function's globals, just
    unpickled) stands for, with what it brings that the namespace lacks.

    One namespace per module keeps the functions that bodies define and
    schedule in a worker on the same globals, so that they travel on as the
    same recipe; a fresh dict per arrival would make every hop a new one.
    Values already there stay (functions and classes keep their identity).
    """
    name = arrived.get("__name__", "__main__")
    namespace = _namespaces.setdefault(name, arrived)
    if namespace is not arrived:
        for key, value in arrived.items():
            namespace.setdefault(key, value)
    return namespace


def load(module: str | None, code: bytes, value: bytes | None) -> tuple[types.CodeType, dict[str, Any]]:
    """In a worker: the code and globals of a function from :func:`recipe`."""
    failure: BaseException | None = None
    if module is not None:
        try:
            return marshal.loads(code), importlib.import_module(module).__dict__
        except ImportError as e:
            failure = e
    if value is not None:
        return marshal.loads(code), _namespace(pickle.loads(value).__globals__)
    assert failure is not None
    raise failure


def dumps(obj: object) -> bytes:
    """A value leaving its interpreter; TypeError naming it if it cannot.

    An exception that does not pickle leaves as a RuntimeError carrying its
    type, message and notes (its traceback is in the notes already).
    """
    try:
        return cloudpickle.dumps(obj, protocol=5)
    except Exception as e:
        if isinstance(obj, BaseException):
            stand_in = RuntimeError(f"{type(obj).__qualname__}: {obj}")
            for note in getattr(obj, "__notes__", ()):
                stand_in.add_note(note)
            return cloudpickle.dumps(stand_in, protocol=5)
        raise TypeError(
            f"the value {reprlib.repr(obj)}, of type {type(obj).__qualname__}, cannot move between "
            f"interpreters: {_reason(e)}; {_THREADS_HINT}"
        ) from None


def loads(data: bytes) -> object:
    """A value entering an interpreter."""
    return pickle.loads(data)


def _captured(fn: types.FunctionType) -> list[tuple[str, object]]:
    """What ``fn`` captures, by name: free variables, then defaults."""
    names = fn.__code__.co_freevars
    cells = fn.__closure__ or ()
    found = []
    for name, cell in zip(names, cells):
        try:
            found.append((name, cell.cell_contents))
        except ValueError:
            pass  # an empty cell: nothing to send
    positional = fn.__code__.co_varnames[: fn.__code__.co_argcount]
    for name, value in zip(positional[len(positional) - len(fn.__defaults__ or ()) :], fn.__defaults__ or ()):
        found.append((name, value))
    found.extend((fn.__kwdefaults__ or {}).items())
    return found


def captures_error(fn: object, e: BaseException) -> TypeError:
    """The TypeError for a body that cannot travel: names the body and, for a
    function, the captured variable that stopped it and its type."""
    name = getattr(fn, "__qualname__", type(fn).__qualname__)
    what = f"the body {name!r}"
    if isinstance(fn, types.FunctionType):
        for var, value in _captured(fn):
            try:
                cloudpickle.dumps(value, protocol=5)
            except Exception as failure:
                what = f"{what} captures {var!r}, a {type(value).__qualname__}, which"
                e = failure
                break
    reason = _reason(e)
    hint = "" if _THREADS_HINT in reason else f"; {_THREADS_HINT}"
    return TypeError(f"{what} cannot be sent to a sub-interpreter: {reason}{hint}")


def _cown(token: int) -> object:
    """Rebuilds a cown inside a value boc is moving (what Cown.__reduce__ names)."""
    from boc import _core

    return _core._cown_from_token(token, None, None)


def _subclass_cown(cls: type, token: int, attributes: dict[str, Any] | None) -> object:
    """Rebuilds an instance of a Cown subclass: the same cown, with a copy of its attributes."""
    from boc import _core

    return _core._cown_from_token(token, cls, attributes)


_REFUSED = re.compile(r"module (\S+) does not support loading in subinterpreters")


def _refused_module(exc: BaseException) -> str | None:
    """The extension module that refused to load in a sub-interpreter, if one
    did somewhere in the chain of ``exc`` (libraries often re-raise it)."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        found = _REFUSED.search(str(e))
        if found:
            return found.group(1)
        e = e.__cause__ or e.__context__
    return None


def note_traceback(exc: BaseException, worker: int) -> None:
    """Adds the traceback of ``exc``, raised in a worker, as a note: tracebacks do not travel."""
    text = "".join(traceback.format_exception(exc))
    exc.add_note(f"Raised in the sub-interpreter of worker {worker}:\n{text.rstrip()}")
    module = _refused_module(exc)
    if module is not None:
        exc.add_note(
            f"boc: the extension module {module} does not load in a sub-interpreter; run behaviours that "
            'need it with boc.start(executor="threads")'
        )


def _reason(e: BaseException) -> str:
    return str(e) if type(e) is TypeError else f"{type(e).__name__}: {e}"
