"""The worker pool of `rivalry serve` (rivalry.server.workers), with a real zygote and
real worker processes running a small WSGI app: what happens to a worker whose request
runs long."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import pytest

from rivalry.server import workers as workers_module
from rivalry.server.workers import Reply, WorkerPool, private_memory_mb, start_zygote


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Says which process and thread answered, at what priority, when it started (its
    clock's seconds) and the query string it got; /sleep first sleeps."""
    started = time.time()
    if environ["PATH_INFO"] == "/sleep":
        time.sleep(float(environ["QUERY_STRING"]))
    thread = threading.get_native_id()
    body = json.dumps({"pid": os.getpid(), "thread": thread, "started": started,
                       "query": environ["QUERY_STRING"],
                       "nice": os.getpriority(os.PRIO_PROCESS, thread)}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def answer(reply: Reply) -> dict[str, Any]:
    assert reply.status == "200 OK"
    return json.loads(reply.body)


def request(path: str, query: str = "") -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query}


@pytest.fixture(params=[2000])
def pool(request: pytest.FixtureRequest) -> Iterable[Callable[..., Any]]:
    """Runs a coroutine against a pool of one worker, slow after 0.3 s, that keeps
    workers holding up to `request.param` MB of their own."""
    zygote, control = start_zygote(lambda: app, lambda _: "build", 0, [])
    loop = asyncio.new_event_loop()
    workers = WorkerPool(control, zygote, workers=1, max_workers=3, slow_after=0.3,
                         worker_memory_mb=request.param)

    def run(step: Callable[[WorkerPool], Any]) -> Any:
        return loop.run_until_complete(step(workers))

    run(lambda p: p.wait_ready())
    run(lambda p: p.fill())
    yield run
    run(lambda p: p.close())
    loop.close()


def test_a_slow_request_lowers_its_threads_priority_and_the_worker_stays(
        pool: Callable[..., Any]) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)

    async def scenario(p: WorkerPool) -> list[dict[str, int]]:
        first = answer(await p.call(request("/"), b"", 10))
        slow = answer(await p.call(request("/sleep", "0.8"), b"", 10))
        after = answer(await p.call(request("/"), b"", 10))
        return [first, slow, after, {"workers": len(p.all), "retired": p.stats.retired_slow}]

    first, slow, after, pool_state = pool(scenario)
    assert first["nice"] == base
    # the request past 0.3 s: its thread (not the process) was reniced while it ran
    assert slow["thread"] == first["thread"] and slow["nice"] == min(base + 10, 19) \
        or base >= 10
    # the next request: the same warm process, a new thread at the first priority
    assert after["pid"] == first["pid"]
    assert after["thread"] != first["thread"] and after["nice"] == base
    # the replacement started for the slow request was retired (it had served none)
    assert pool_state == {"workers": 1, "retired": 0}
    assert os.getpriority(os.PRIO_PROCESS, after["pid"]) == base  # the process itself


def test_quick_requests_keep_their_thread(pool: Callable[..., Any]) -> None:
    async def scenario(p: WorkerPool) -> list[dict[str, int]]:
        return [answer(await p.call(request("/"), b"", 10)) for _ in range(5)]

    answers = pool(scenario)
    assert len({(a["pid"], a["thread"]) for a in answers}) == 1


@pytest.mark.parametrize("pool", [0], indirect=True)
def test_a_worker_past_its_memory_is_replaced_after_a_slow_request(
        pool: Callable[..., Any]) -> None:
    async def scenario(p: WorkerPool) -> list[Any]:
        first = answer(await p.call(request("/"), b"", 10))
        answer(await p.call(request("/sleep", "0.5"), b"", 10))
        after = answer(await p.call(request("/"), b"", 10))
        return [first, after, p.stats.retired_memory]

    first, after, retired = pool(scenario)
    assert after["pid"] != first["pid"] and retired == 1


def test_private_memory_is_read_for_a_process() -> None:
    mine = private_memory_mb(os.getpid())
    assert mine is not None and mine > 1
    assert private_memory_mb(2 ** 22 + 1) is None  # no such process


@pytest.mark.parametrize("pool", [1], indirect=True)
def test_quick_requests_have_their_workers_memory_checked_now_and_then(
        pool: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers_module, "MEMORY_CHECK_EVERY", 2)

    async def scenario(p: WorkerPool) -> list[Any]:
        pids = [answer(await p.call(request("/"), b"", 10))["pid"] for _ in range(2)]
        await asyncio.sleep(0.5)  # the check runs in the background
        pids += [answer(await p.call(request("/"), b"", 10))["pid"] for _ in range(2)]
        return [pids, p.stats.retired_memory]

    pids, retired = pool(scenario)
    # the second request's check found it over 1 MB: replaced once the third was answered
    assert pids[0] == pids[1] == pids[2] != pids[3] and retired == 1


def test_a_request_behind_quick_ones_waits_and_one_behind_a_long_one_gets_a_worker(
        pool: Callable[..., Any]) -> None:
    """All workers busy: a request behind requests of a few milliseconds waits for one of
    them (a worker more would only share the cores out), one behind a request that has
    run `spawn_after` seconds (0.05 s here) gets a new worker instead of waiting for it."""

    async def scenario(p: WorkerPool) -> list[Any]:
        quick = await asyncio.gather(*[p.call(request("/sleep", "0.005"), b"", 10)
                                       for _ in range(6)])
        after_quick = len(p.all)
        started = time.monotonic()
        long = asyncio.ensure_future(p.call(request("/sleep", "0.6"), b"", 10))
        await asyncio.sleep(0.01)
        behind = answer(await p.call(request("/"), b"", 10))
        waited = time.monotonic() - started
        first = answer(await long)
        return [[answer(r)["pid"] for r in quick], after_quick, behind, first, waited]

    quick, after_quick, behind, first, waited = pool(scenario)
    assert len(set(quick)) == 1 and after_quick == 1  # one worker answered all six
    assert behind["pid"] != first["pid"]  # a new worker, not the busy one after 0.6 s
    assert 0.05 <= waited < 0.5, waited


def test_replacements_for_slow_requests_stay_within_max_workers(
        pool: Callable[..., Any]) -> None:
    """Three slow requests at once, on a pool of one worker that may grow to three: each
    slow worker would want a replacement, but the pool never holds more than three."""

    async def scenario(p: WorkerPool) -> list[int]:
        sizes: list[int] = []

        async def watch() -> None:
            for _ in range(20):
                sizes.append(len(p.all) + p._spawning)
                await asyncio.sleep(0.05)

        calls = [p.call(request("/sleep", "0.8"), b"", 10) for _ in range(3)]
        await asyncio.gather(watch(), *calls)
        return sizes

    sizes = pool(scenario)
    assert max(sizes) == 3, f"at most {max(sizes)} workers: {sizes}"


def test_a_slow_request_whose_successor_has_no_room_under_the_memory_cap() -> None:
    """A request thread runs on a 256 MiB stack (rivalry.graph.isolate), reserved before
    the worker caps its memory; a successor for a slow request is started under the cap.
    With only 100 MB of room it cannot start: the slow request is still answered, by the
    thread that ran it, and the front replaces the worker rather than keep a thread of
    lowered priority."""
    zygote, control = start_zygote(lambda: app, lambda _: "build", 100_000_000, [])
    loop = asyncio.new_event_loop()
    p = WorkerPool(control, zygote, workers=1, max_workers=3, slow_after=0.3,
                   worker_memory_mb=2000)

    async def scenario() -> list[Any]:
        await p.wait_ready()
        await p.fill()
        first = answer(await p.call(request("/"), b"", 10))
        slow = answer(await p.call(request("/sleep", "0.8"), b"", 10))
        after = answer(await p.call(request("/"), b"", 10))
        return [first, slow, after, p.stats.retired_slow]

    try:
        first, slow, after, retired = loop.run_until_complete(scenario())
    finally:
        loop.run_until_complete(p.close())
        loop.close()
    assert slow["pid"] == first["pid"] and slow["thread"] == first["thread"]
    assert after["pid"] != first["pid"] and retired == 1


def test_max_workers_is_twice_the_cores_unless_set() -> None:
    from rivalry.server.serve import max_workers

    assert max_workers({"max_workers": 0}) == 2 * (os.cpu_count() or 1)
    assert max_workers({"max_workers": 3}) == 3


def test_workers_kept_ready_are_one_more_than_the_cores_unless_set() -> None:
    from rivalry.server.serve import workers
    from rivalry.server.settings import load_settings

    assert load_settings(environ={})["workers"] == 0
    assert workers({"workers": 0}) == (os.cpu_count() or 1) + 1
    assert workers({"workers": 2}) == 2


def on_one_worker(scenario: Callable[[WorkerPool], Awaitable[Any]]) -> tuple[Any, WorkerPool]:
    """Runs `scenario` against a pool of one worker that may not grow (slow after 5 s);
    returns what it returned, and the pool (closed by then)."""
    zygote, control = start_zygote(lambda: app, lambda _: "build", 0, [])
    loop = asyncio.new_event_loop()
    p = WorkerPool(control, zygote, workers=1, max_workers=1, slow_after=5)

    async def run() -> Any:
        await p.wait_ready()
        await p.fill()
        return await scenario(p)

    try:
        return loop.run_until_complete(run()), p
    finally:
        loop.run_until_complete(p.close())
        loop.close()


def test_requests_waiting_for_the_only_worker_are_answered_in_turn_or_time_out() -> None:
    """A pool that may not grow: requests wait for its one worker and are answered first
    come, first served; one whose deadline passes while it waits gets TimeoutError and
    leaves no one waiting behind it (a later request is answered)."""

    async def scenario(p: WorkerPool) -> list[Any]:
        order: list[int] = []

        async def one(i: int, seconds: float) -> None:
            await p.call(request("/sleep", "0.1"), b"", seconds)
            order.append(i)

        outcomes = await asyncio.gather(*(one(i, 10) for i in range(4)), one(9, 0.15),
                                        return_exceptions=True)
        waiting = len(p._waiters)
        after = answer(await p.call(request("/"), b"", 10))
        return [order, outcomes, waiting, after]

    (order, outcomes, waiting, after), _ = on_one_worker(scenario)
    assert order == [0, 1, 2, 3]
    assert isinstance(outcomes[4], TimeoutError) and outcomes[:4] == [None] * 4
    assert waiting == 0 and after["pid"] > 0


def test_a_freed_worker_starts_on_the_request_waiting_longest_at_once() -> None:
    """When a worker is done and requests wait, the pool sends it the one that has waited
    longest as it takes the worker back, not when that request's coroutine next runs:
    here the event loop is held up for 0.5 s right after the first answer (as the front is
    while it writes a response), and the waiting request has started meanwhile."""

    async def scenario(p: WorkerPool) -> tuple[float, dict[str, Any], dict[str, Any]]:

        async def first() -> float:
            await p.call(request("/sleep", "0.2"), b"", 10)
            time.sleep(0.5)  # the event loop, held up
            return time.time()

        async def waiting() -> dict[str, Any]:
            await asyncio.sleep(0.05)  # once the first has the worker
            return answer(await p.call(request("/"), b"", 10))

        held_until, second = await asyncio.gather(first(), waiting())
        after = answer(await p.call(request("/"), b"", 10))
        return held_until, second, after

    (held_until, second, after), p = on_one_worker(scenario)
    assert second["started"] < held_until - 0.3
    assert after["pid"] == second["pid"] and p.stats.waits == 1


def test_a_request_cancelled_while_it_runs_leaves_no_answer_for_the_next() -> None:
    """A request whose coroutine is cancelled while its worker runs it (its answer will
    never be read): the worker is replaced, so that the next request on it does not read
    the cancelled one's answer as its own."""

    async def scenario(p: WorkerPool) -> list[Any]:
        running = asyncio.ensure_future(p.call(request("/sleep", "0.2"), b"", 10))
        await asyncio.sleep(0.05)
        running.cancel()
        outcome = (await asyncio.gather(running, return_exceptions=True))[0]
        await asyncio.sleep(0.3)  # the cancelled request's answer would be in by now
        after = answer(await p.call(request("/", "after"), b"", 10))
        return [outcome, after]

    (outcome, after), p = on_one_worker(scenario)
    assert isinstance(outcome, asyncio.CancelledError)
    assert after["query"] == "after" and p.stats.spawned == 2


def test_a_request_cancelled_as_a_worker_is_handed_to_it_leaves_the_pool_whole() -> None:
    """A waiting request cancelled right after a worker was handed to it, its request sent
    (the cancellation lands before its coroutine runs): the worker is replaced; one
    cancelled while it still waits leaves the queue. The pool answers afterwards."""

    async def scenario(p: WorkerPool) -> list[Any]:
        first = asyncio.ensure_future(p.call(request("/sleep", "0.3"), b"", 10))
        await asyncio.sleep(0.05)
        handed = asyncio.ensure_future(p.call(request("/sleep", "0.2"), b"", 10))
        await asyncio.sleep(0.05)
        gone = asyncio.ensure_future(p.call(request("/"), b"", 10))
        await asyncio.sleep(0.05)
        gone.cancel()  # still waiting: leaves the queue
        hand_over = p._hand_over

        def hand_over_then_cancel(worker: Any) -> bool:
            given = hand_over(worker)
            if given:
                handed.cancel()
            return given

        p._hand_over = hand_over_then_cancel  # type: ignore[method-assign]
        answered = answer(await first)
        p._hand_over = hand_over  # type: ignore[method-assign]
        outcomes = await asyncio.gather(gone, handed, return_exceptions=True)
        await asyncio.sleep(0.3)  # the handed request's answer would be in by now
        after = answer(await p.call(request("/", "after"), b"", 10))
        return [answered, outcomes, after, len(p._waiters), len(p.all)]

    (answered, outcomes, after, waiting, workers), _ = on_one_worker(scenario)
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
    assert after["query"] == "after" and after["pid"] != answered["pid"]
    assert waiting == 0 and workers == 1
