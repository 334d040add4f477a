"""Kept worker threads for the engine's short parallel maps."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from neurogeom.geometry import _threads


def test_results_in_order_on_kept_threads():
    names = []

    def work(i):
        names.append(threading.current_thread().name)
        return i * i

    assert _threads.thread_map(work, range(20), 2) == [i * i for i in range(20)]
    assert all(n.startswith("neurogeom") for n in names)
    kept = {t.ident for t in threading.enumerate()}
    names.clear()
    _threads.thread_map(work, range(20), 2)
    assert {t.ident for t in threading.enumerate()} == kept  # no thread made or lost
    assert all(n.startswith("neurogeom") for n in names)


def test_one_worker_or_one_item_runs_here():
    here = threading.current_thread().name
    assert _threads.thread_map(lambda i: threading.current_thread().name, [0], 4) == [here]
    assert _threads.thread_map(lambda i: threading.current_thread().name, [0, 1], 1) == [here] * 2


def test_a_map_inside_a_worker_runs_in_that_worker():
    """All workers busy with items that map again: the inner maps run in place (no deadlock)."""

    def outer(i):
        me = threading.current_thread().name
        inner = _threads.thread_map(lambda j: (threading.current_thread().name, j), range(3), 2)
        assert {name for name, _ in inner} == {me}
        return i + sum(j for _, j in inner)

    assert _threads.thread_map(outer, range(4), 2) == [3, 4, 5, 6]


def test_the_first_exception_is_raised_here():
    def work(i):
        if i in (3, 5):
            raise ValueError(f"item {i}")
        return i

    with pytest.raises(ValueError, match="item 3"):
        _threads.thread_map(work, range(8), 2)


def _child(queue):
    queue.put(_threads.thread_map(lambda i: i + 1, range(6), 2))


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform"
)
def test_a_forked_child_makes_its_own_threads():
    _threads.thread_map(lambda i: i, range(4), 2)  # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue,))
    proc.start()
    out = queue.get(timeout=60)
    proc.join(timeout=60)
    assert out == [1, 2, 3, 4, 5, 6] and proc.exitcode == 0
