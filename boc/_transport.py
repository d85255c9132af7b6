"""Moving bodies and values between interpreters, for executor="subinterpreters".

The runtime calls these helpers from C++ in whichever interpreter holds the
object: ``recipe`` and ``dumps`` in the interpreter a function or value
leaves, ``load`` and ``loads`` in the one it enters. Small immutable values
(None, bools, ints, floats, str, bytes, tuples of them, cowns) never come
here: the runtime copies them itself.

A function travels once per worker: by reference to its module where that
module imports in the worker (its globals are then the module's), else by
value (``cloudpickle``: code, the globals it names). What it captures
(closure cells, defaults) travels with each behaviour, as the values they
hold when it is scheduled.

The program's ``__main__`` cannot be imported in a worker, so each worker
has a stand-in ``__main__`` module that fetches what it lacks from the main
interpreter's, by value, once. Classes and functions that a ``__main__``
defines then travel by name, like those of any module: a value that comes
back from a worker is an instance of the program's own class, not a copy
of it, and each worker keeps one copy of each.
"""

from __future__ import annotations

import importlib
import io
import marshal
import pickle
import re
import reprlib
import sys
import threading
import traceback
import types
from typing import Any

import cloudpickle

_THREADS_HINT = 'executor="threads" accepts it'


def _named_in_main(obj: object) -> bool:
    """True if ``obj`` is what its qualified name finds in this interpreter's
    ``__main__`` (in a worker, fetched there if need be)."""
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(qualname, str) or "<" in qualname:  # <locals>, <lambda>
        return False
    found: object = sys.modules["__main__"]
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found is obj


class _Pickler(cloudpickle.Pickler):
    """cloudpickle, but a class or function that ``__main__`` defines goes
    by name (see the module's docstring)."""

    def reducer_override(self, obj: object) -> Any:
        if (
            isinstance(obj, (type, types.FunctionType))
            and getattr(obj, "__module__", None) == "__main__"
            and _named_in_main(obj)
        ):
            return NotImplemented  # pickle's own: by name
        return super().reducer_override(obj)


def _dumps(obj: object) -> bytes:
    with io.BytesIO() as file:
        _Pickler(file, protocol=5).dump(obj)
        return file.getvalue()


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
        return _dumps(template)
    # The module's own functions and classes that the body names travel with
    # it, so that a worker where the module does not import can still run it.
    # cloudpickle's list of such modules is global: the lock keeps another
    # thread from taking the module off it while this pickle is made.
    with _by_value_lock:
        cloudpickle.register_pickle_by_value(sys.modules[module])
        try:
            return _dumps(template)
        finally:
            cloudpickle.unregister_pickle_by_value(sys.modules[module])


_by_value_lock = threading.Lock()


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
        return _dumps(obj)
    except Exception as e:
        if isinstance(obj, BaseException):
            stand_in = RuntimeError(f"{type(obj).__qualname__}: {obj}")
            for note in getattr(obj, "__notes__", ()):
                stand_in.add_note(note)
            return _dumps(stand_in)
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
                _dumps(value)
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


def export_main_attribute(name: str) -> bytes:
    """In the main interpreter: ``__main__.<name>``, by value, for a worker's
    stand-in ``__main__``; AttributeError if there is none, TypeError if it
    does not pickle."""
    value = getattr(sys.modules["__main__"], name)
    try:
        # Wholly by value: a class with its methods, a function with what it
        # names (cloudpickle keeps one copy of each class per interpreter).
        return cloudpickle.dumps(value, protocol=5)
    except Exception as e:
        raise TypeError(
            f"__main__.{name} ({type(value).__qualname__}) cannot be sent to a sub-interpreter: {_reason(e)}; "
            f"{_THREADS_HINT}"
        ) from None


def _install_main_stand_in() -> None:
    """In a worker: a ``__main__`` that fetches the program's names on first use."""
    from boc import _core

    main = types.ModuleType("__main__", "The program's __main__, as boc's workers see it.")

    def fetch(name: str) -> object:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # lookups of module machinery, not program names
        value = _core._main_attribute(name)
        setattr(main, name, value)
        return value

    main.__getattr__ = fetch  # type: ignore[attr-defined]  # PEP 562
    sys.modules["__main__"] = main
    _namespaces["__main__"] = vars(main)


if getattr(sys.modules.get("boc._core"), "in_worker", False):
    _install_main_stand_in()

