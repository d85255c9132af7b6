"""Context variables: under executor="threads" each body runs in a copy of
the context of the thread that scheduled it, as an asyncio task does; under
"subinterpreters" a context cannot cross into another interpreter (its
variables are objects of this one), so each body starts from an empty one."""

from __future__ import annotations

import contextvars
import threading

import pytest

import boc

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


@pytest.mark.executor("threads")
def test_a_body_sees_the_context_set_before_it_was_scheduled(scheduler: str) -> None:
    """Values set in the scheduling thread before when() are seen by the body;
    values set after are not (the context is copied at scheduling time)."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(None)
    token = request_id.set("before")
    try:
        seen = boc.when(c)(lambda c: request_id.get())
        request_id.set("after")
        boc.wait()
    finally:
        request_id.reset(token)
    assert seen.value == "before"


def test_what_a_body_sets_does_not_leak_into_later_bodies(scheduler: str) -> None:
    """A ContextVar.set in one body is invisible to later bodies on the same worker
    and to the scheduling thread."""
    boc.start(scheduler, workers=1)
    c = boc.Cown(None)

    @boc.when(c)
    def sets(c: boc.Cown) -> str:
        request_id.set("leaked?")
        return request_id.get()

    later = [boc.when(c)(lambda c: request_id.get()) for _ in range(5)]
    boc.wait()
    assert sets.value == "leaked?"
    assert [r.value for r in later] == ["unset"] * 5
    assert request_id.get() == "unset"


@pytest.mark.executor("threads")
def test_nested_behaviours_inherit_the_context_of_their_parent_body(scheduler: str) -> None:
    """when() inside a body copies the body's context, including what the body set."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(None)
    results = boc.Cown([])

    @boc.when(c)
    def parent(c: boc.Cown) -> None:
        request_id.set("from parent")

        @boc.when(results)
        def child(results: boc.Cown) -> None:
            results.value = results.value + [request_id.get()]

    boc.wait()
    assert results.value == ["from parent"]


@pytest.mark.executor("threads")
def test_each_scheduling_thread_passes_its_own_context(scheduler: str) -> None:
    """Behaviours from several threads each see the context of the thread that scheduled them."""
    boc.start(scheduler, workers=2)
    c = boc.Cown(None)
    seen: dict[str, boc.Cown] = {}

    def schedule(name: str) -> None:
        request_id.set(name)
        seen[name] = boc.when(c)(lambda c: request_id.get())

    threads = [threading.Thread(target=schedule, args=(f"thread {i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    boc.wait()
    assert {name: r.value for name, r in seen.items()} == {name: name for name in seen}


@pytest.mark.executor("subinterpreters")
def test_a_body_in_a_subinterpreter_starts_from_an_empty_context(scheduler: str) -> None:
    """What the scheduling thread set does not reach a body in a sub-interpreter,
    and what one body sets does not reach the next."""
    boc.start(scheduler, workers=1)
    c = boc.Cown(None)
    token = request_id.set("in the main interpreter")
    try:

        @boc.when(c)
        def sets(c: boc.Cown) -> str:
            seen = request_id.get()
            request_id.set("leaked?")
            return seen

        later = boc.when(c)(lambda c: request_id.get())
        boc.wait()
    finally:
        request_id.reset(token)
    assert (sets.value, later.value) == ("unset", "unset")
