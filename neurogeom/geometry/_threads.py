"""Worker threads kept for the short parallel maps of the geometry engine, and their work arrays.

Chunks of anchor geometry, FISTA row chunks and blocks of ``glue_batch`` problems each take
milliseconds; a thread pool made per call paid for its threads' start every time, and right after
a numba parallel region (whose idle threads spin on the other cores for a while) one start took
about 2.5 ms on a 2-core machine, against 0.2 ms for a map on threads kept from before. The pools
here are made once per process and number of workers and kept; a map called from one of their own
threads runs its items in that thread, one after the other (a worker waiting on tasks queued
behind it would never see them run). :class:`Scratch` keeps a thread's large work arrays
between the steps that thread runs (:func:`thread_scratch`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

__all__ = ["FRESH", "Scratch", "thread_map", "thread_scratch"]

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


# most bytes of work arrays one thread keeps (see thread_scratch)
_SCRATCH_MAX_BYTES = 64 * 2**20


class Scratch:
    """Work arrays kept by name between the steps one thread runs, at most ``max_bytes`` in
    all; an array past that is allocated anew each time and not kept (``max_bytes=0``: none is
    kept, see :data:`FRESH`). An array handed out by :meth:`array` stays valid until the next
    call with its name.

    ``glue_batch``'s blocks use one per worker thread (:func:`thread_scratch`) for their largest
    arrays (the samples' signs, linear terms, duals and anchors, the stacked factors and Gram
    matrices: tens of megabytes on 125 problems of 60 points). Allocated anew for every block,
    they came as new pages from the system, zeroed by the kernel on first touch: with other work
    between calls (one ``glue`` call per problem, as a bootstrap or sweep interleaves them)
    3,500-9,000 page faults per call on 1,000 small problems and 5-14% of its CPU time."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._bufs: dict[str, np.ndarray] = {}

    def array(self, name: str, shape: tuple, zero: bool = False) -> np.ndarray:
        """A float64 array of ``shape`` (C order, 64-byte aligned) in the buffer ``name``,
        zeroed when ``zero`` (else holding whatever was left)."""
        shape = tuple(int(v) for v in shape)
        size = int(np.prod(shape, dtype=np.int64)) * 8
        buf = self._bufs.get(name)
        if buf is None or buf.size < size + 64:
            held = sum(b.size for k, b in self._bufs.items() if k != name)
            if held + size + 64 > self.max_bytes:
                return (np.zeros if zero else np.empty)(shape)
            buf = np.empty(size + 64, dtype=np.uint8)
            self._bufs[name] = buf
        off = (-buf.ctypes.data) % 64
        out = buf[off : off + size].view(np.float64).reshape(shape)
        if zero:
            out.fill(0.0)
        return out


# keeps nothing: every array newly allocated (the default of the functions that take a Scratch)
FRESH = Scratch(0)


def thread_scratch() -> Scratch:
    """This thread's :class:`Scratch` (made on first use, holding at most
    :data:`_SCRATCH_MAX_BYTES`)."""
    scratch = getattr(_LOCAL, "scratch", None)
    if scratch is None:
        scratch = _LOCAL.scratch = Scratch(_SCRATCH_MAX_BYTES)
    return scratch
