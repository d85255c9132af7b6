"""Checks, at scheduling time, that a behaviour's function accepts its cowns."""

from __future__ import annotations

import functools
import inspect
from types import FunctionType, MethodType
from typing import Any, Callable

_CO_VARARGS = inspect.CO_VARARGS
_CO_NOT_PLAIN = (
    inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE
)


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def check_arity(fn: Callable[..., Any], count: int) -> None:
    """Raise TypeError unless ``fn(*count positional args)`` is a valid call.

    Extra positional parameters with defaults are fine (captures), and so is
    ``*args``; a keyword-only parameter without a default is not.
    """
    func, bound = fn, 0
    if type(fn) is MethodType:
        func, bound = fn.__func__, 1
    if type(func) is FunctionType:
        code = func.__code__
        if code.co_flags & _CO_NOT_PLAIN:
            raise TypeError(
                f"@when needs a plain function, but {_name(fn)} is async or a generator: its body would "
                "never run (a behaviour calls it and keeps what it returns)"
            )
        positional = code.co_argcount - bound
        defaults = len(func.__defaults__ or ())
        required = max(positional - defaults, 0)
        kw_required = code.co_kwonlyargcount - len(func.__kwdefaults__ or {})
        if kw_required > 0:
            raise TypeError(
                f"{_name(fn)} has keyword-only parameters without defaults; "
                "a behaviour is called with positional cowns only"
            )
        if count < required or (count > positional and not code.co_flags & _CO_VARARGS):
            raise TypeError(_mismatch(fn, count, required, positional, code.co_flags & _CO_VARARGS))
        return
    if not callable(fn):
        raise TypeError(f"@when decorates a function; got {type(fn).__name__}")
    if _not_plain(fn):
        raise TypeError(
            f"@when needs a plain function, but {_name(fn)} is async or a generator: its body would "
            "never run (a behaviour calls it and keeps what it returns)"
        )
    try:
        inspect.signature(fn).bind(*range(count))
    except ValueError:
        return  # no signature to check (some builtins); the call itself will tell
    except TypeError:
        raise TypeError(
            f"{_name(fn)} cannot be called with {count} positional argument(s), "
            f"one per argument of @when"
        ) from None


def _not_plain(fn: Any) -> bool:
    """True for a callable whose call makes a coroutine or generator instead of
    running its code: through functools.partial, as a bound method, or as an
    object whose ``__call__`` is one."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if type(fn) is MethodType:
        fn = fn.__func__
    if not isinstance(fn, FunctionType):
        call = getattr(type(fn), "__call__", None)
        if isinstance(call, FunctionType):
            fn = call
    return (
        inspect.iscoroutinefunction(fn)
        or inspect.isgeneratorfunction(fn)
        or inspect.isasyncgenfunction(fn)
        or (isinstance(fn, FunctionType) and bool(fn.__code__.co_flags & _CO_NOT_PLAIN))
    )


def _mismatch(fn: Any, count: int, required: int, positional: int, varargs: int) -> str:
    if varargs:
        accepts = f"at least {required}"
    elif required == positional:
        accepts = f"exactly {positional}"
    else:
        accepts = f"{required} to {positional}"
    return (
        f"{_name(fn)} accepts {accepts} positional argument(s), but @when passes it "
        f"{count} (one per cown or group); give it one parameter per argument of @when"
    )
