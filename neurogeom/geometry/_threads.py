"""Worker threads kept for the short parallel maps of the geometry engine.

Chunks of anchor geometry, FISTA row chunks and blocks of ``glue_batch`` problems each take
milliseconds; a thread pool made per call paid for its threads' start every time, and right after
a numba parallel region (whose idle threads spin on the other cores for a while) one start took
about 2.5 ms on a 2-core machine, against 0.2 ms for a map on threads kept from before. The pools
here are made once per process and number of workers and kept; a map called from one of their own
threads runs its items in that thread, one after the other (a worker waiting on tasks queued
behind it would never see them run).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["thread_map"]

_LOCK = threading.Lock()
_POOLS: dict[int, ThreadPoolExecutor] = {}
_OWNER = [os.getpid()]  # pools are not inherited by a forked child: it makes its own
_LOCAL = threading.local()


def _mark_worker() -> None:
    _LOCAL.in_pool = True


def _pool(workers: int) -> ThreadPoolExecutor:
    with _LOCK:
        if _OWNER[0] != os.getpid():
            _POOLS.clear()
            _OWNER[0] = os.getpid()
        pool = _POOLS.get(workers)
        if pool is None:
            pool = ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="neurogeom", initializer=_mark_worker
            )
            _POOLS[workers] = pool
        return pool


def thread_map(fn: Callable[[Any], Any], items: Iterable[Any], workers: int) -> list[Any]:
    """``[fn(item) for item in items]``, in order, on up to ``workers`` kept threads.

    In this thread when ``workers <= 1``, when there is at most one item, or when called from
    one of the pools' own threads. An exception raised by ``fn`` is raised here (the first in
    the items' order)."""
    items = list(items)
    if workers <= 1 or len(items) <= 1 or getattr(_LOCAL, "in_pool", False):
        return [fn(item) for item in items]
    return list(_pool(min(workers, len(items))).map(fn, items))
