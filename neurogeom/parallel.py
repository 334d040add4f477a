"""One map function for every fan-out in neurogeom: serial, joblib processes, or a dask cluster.

Measures over stages, splits and time windows (:func:`neurogeom.learning.measure.measure_geometry`),
bootstrap and shuffle replicates (:mod:`neurogeom.learning.trajectories`), the runs of a rank
sweep and the grid points of a sweep (:mod:`neurogeom.workflows.sweep`) all go through
:func:`parallel_map`, so choosing where the work runs is one argument, not a rewrite.

Backends:

``"serial"``
    In this process, one item after the other.
``"joblib"`` (the default when ``n_jobs != 1``)
    ``n_jobs`` joblib (loky) worker processes on this machine.
``"dask"``
    A ``dask.distributed`` cluster: the client of the enclosing :func:`cluster` block, or one
    made for this call from ``scheduler=`` (an address such as ``"tcp://host:8786"`` or a
    ``distributed.Client``). Inside ``with cluster(...)`` every call reuses that one client, so a
    run opens one connection (or one ``LocalCluster``), not one per call.

Whatever runs them, results come back in input order and equal the serial ones for the same
inputs (items carry their own seeds); an exception raised by an item is raised again here, its
message prefixed by the item in words (``describe``, or the item's ``label``). Under dask a task whose worker dies is rerun
on another worker by the scheduler, so tasks must be idempotent (pure functions of their item,
which every fan-out in neurogeom is).
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["BACKENDS", "cluster", "current_client", "parallel_map"]

T = TypeVar("T")
R = TypeVar("R")

#: The backends of :func:`parallel_map` (a joblib backend name such as ``"threading"`` or
#: ``"loky"`` is also accepted and runs through joblib with that backend).
BACKENDS: tuple[str, ...] = ("serial", "joblib", "dask")

_JOBLIB_BACKENDS = ("loky", "threading", "multiprocessing")
_CLIENT: contextvars.ContextVar[Any] = contextvars.ContextVar("neurogeom_client", default=None)


@dataclass
class _Failure:
    """An exception raised by one item, carried back to the caller with the item's position."""

    index: int
    error: BaseException


def _call(func: Callable[[Any], Any], index: int, item: Any) -> tuple[int, Any]:
    """``(index, func(item))``, or ``(index, _Failure)`` if it raises (the worker keeps going)."""
    try:
        return index, func(item)
    except Exception as exc:  # re-raised by the caller, naming the item
        return index, _Failure(index, exc)


def _name(item: Any, index: int, describe: Callable[[Any], str] | None) -> str:
    """The item in words: ``describe(item)``, an item's own ``label``, or its position (with its
    value when that is a short plain value; never the repr of an array)."""
    if describe is not None:
        return str(describe(item))
    label = getattr(item, "label", None)
    if isinstance(label, str):
        return label
    if isinstance(item, str | int | float) and not isinstance(item, bool):
        text = repr(item)
        if len(text) <= 40:
            return f"item {index} ({text})"
    return f"item {index}"


def _raise(failure: _Failure, items: Sequence[Any], describe: Callable[[Any], str] | None) -> None:
    """Raise an item's error again, its message prefixed by the item in words (an empty name
    re-raises it as it is: a single computation needs no pointer)."""
    exc = failure.error
    where = _name(items[failure.index], failure.index, describe)
    if not where:
        raise exc
    try:
        new = type(exc)(f"{where}: {exc}")
    except Exception:  # an exception type with another signature: keep it, add a note
        exc.add_note(f"raised by {where}")
        raise exc from None
    raise new from exc


def current_client() -> Any:
    """The ``distributed.Client`` of the enclosing :func:`cluster` block, or ``None``.

    Returns
    -------
    distributed.Client or None
        The client of the innermost :func:`cluster` block; ``None`` outside one.

    See Also
    --------
    cluster : Opens the block.
    parallel_map : Runs on this client when there is one.

    Examples
    --------
    >>> current_client() is None
    True
    """
    return _CLIENT.get()


def batches(items: Sequence[T], n_jobs: int | None = 1) -> list[list[T]]:
    """``items`` cut into consecutive batches for :func:`parallel_map`: one batch when the work
    runs here, else about four per worker (many small items, such as bootstrap replicates, then
    cost one task per batch, not one per item).

    Parameters
    ----------
    items : sequence
        The items, in order.
    n_jobs : int or None, default=1
        As :func:`parallel_map`'s; inside a :func:`cluster` block the cluster's worker count.

    Returns
    -------
    list of list
        Consecutive, non-empty batches whose concatenation is ``items``.

    Examples
    --------
    >>> from neurogeom.parallel import batches
    >>> batches(list(range(5)))
    [[0, 1, 2, 3, 4]]
    >>> batches(list(range(5)), n_jobs=2)
    [[0], [1], [2], [3], [4]]
    """
    items = list(items)
    n_jobs = _check_n_jobs(n_jobs)
    client = current_client()
    if client is not None:
        workers = max(len(client.scheduler_info().get("workers", {})), 1)
    elif n_jobs == 1:
        return [items] if items else []
    else:
        workers = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    k = max(1, min(len(items), 4 * workers))
    bounds = [round(i * len(items) / k) for i in range(k + 1)]
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


@contextmanager
def cluster(
    scheduler: Any = None,
    *,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    **cluster_options: Any,
) -> Iterator[Any]:
    """One dask client for a whole run: every :func:`parallel_map` call inside reuses it.

    Parameters
    ----------
    scheduler : str or distributed.Client, optional
        A scheduler address (``"tcp://host:8786"``: connected to, and disconnected at the end) or
        a client the caller made (used, and left open). Give this or ``n_workers``.
    n_workers : int, optional
        Start a ``distributed.LocalCluster`` of this many worker processes on this machine
        (closed at the end).
    threads_per_worker : int, default=1
        Threads per local worker process (neurogeom's tasks use their own BLAS/numba threads).
    **cluster_options
        Further ``LocalCluster`` keywords (e.g. ``memory_limit="4GiB"``).

    Yields
    ------
    distributed.Client
        The run's client (also :func:`current_client`).

    Raises
    ------
    ValueError
        Neither or both of ``scheduler`` and ``n_workers``, or ``n_workers < 1``.
    ImportError
        ``distributed`` is not installed (``pip install 'neurogeom[distributed]'``).

    See Also
    --------
    parallel_map : runs on this client inside the block.

    Examples
    --------
    With a client the caller made (here one in this process, with threads):

    >>> from distributed import Client
    >>> with Client(processes=False, n_workers=1, dashboard_address=None) as own, cluster(
    ...     own
    ... ) as client:
    ...     parallel_map(abs, [-1, -2, 3]), current_client() is own
    ([1, 2, 3], True)

    ``cluster(n_workers=4)`` starts (and closes) a local cluster of 4 worker processes instead.
    """
    if (scheduler is None) == (n_workers is None):
        raise ValueError(
            "give cluster() one of scheduler= (an address such as 'tcp://host:8786', or a "
            "distributed.Client) or n_workers= (a LocalCluster of that many processes)."
        )
    Client = _distributed().Client
    owned: list[Any] = []
    if n_workers is not None:
        if not isinstance(n_workers, int) or isinstance(n_workers, bool) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive int; got {n_workers!r}.")
        from distributed import LocalCluster

        local = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            dashboard_address=None,
            **cluster_options,
        )
        owned.append(local)
        client = Client(local)
        owned.insert(0, client)
    elif isinstance(scheduler, Client):
        client = scheduler
    elif isinstance(scheduler, str):
        client = Client(scheduler)
        owned.append(client)
    else:
        raise TypeError(
            f"scheduler must be an address string or a distributed.Client; got "
            f"{type(scheduler).__name__}."
        )
    token = _CLIENT.set(client)
    try:
        yield client
    finally:
        _CLIENT.reset(token)
        for thing in owned:
            thing.close()


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:  # pragma: no cover - the extra is installed in development
        raise ImportError(
            "the dask backend needs dask.distributed: pip install 'neurogeom[distributed]'."
        ) from None
    return distributed


def _check_n_jobs(n_jobs: Any) -> int:
    if n_jobs is None:
        return 1
    if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive int or -1 (every core); got {n_jobs!r}.")
    return n_jobs


def _choose(backend: str | None, n_jobs: int, scheduler: Any, n_items: int) -> str:
    if backend is None:
        if scheduler is not None or current_client() is not None:
            return "dask"
        return "serial" if n_jobs == 1 or n_items <= 1 else "joblib"
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a string, one of {BACKENDS}; got {backend!r}.")
    if backend not in (*BACKENDS, *_JOBLIB_BACKENDS):
        raise ValueError(
            f"unknown backend {backend!r}; give one of {BACKENDS} (or a joblib backend: "
            f"{', '.join(_JOBLIB_BACKENDS)})."
        )
    return backend


def _run_dask(
    func: Callable[[Any], Any], items: list[Any], scheduler: Any, done: Callable[[int, Any], None]
) -> None:
    distributed = _distributed()
    client = current_client() if scheduler is None else None
    if client is not None:
        _submit_dask(client, func, items, done)
        return
    if scheduler is None:
        raise ValueError(
            "backend='dask' needs a cluster: call inside `with neurogeom.parallel.cluster(...)`, "
            "or pass scheduler= (an address such as 'tcp://host:8786', or a distributed.Client)."
        )
    if isinstance(scheduler, distributed.Client):
        _submit_dask(scheduler, func, items, done)
        return
    with cluster(scheduler) as client:
        _submit_dask(client, func, items, done)


def _submit_dask(
    client: Any, func: Callable[[Any], Any], items: list[Any], done: Callable[[int, Any], None]
) -> None:
    from distributed import as_completed

    futures = client.map(_call, [func] * len(items), range(len(items)), items, pure=False)
    try:
        for _, (index, result) in as_completed(futures, with_results=True):
            done(index, result)
    finally:
        client.cancel(futures)


def parallel_map(
    func: Callable[[T], R],
    items: Iterable[T],
    *,
    n_jobs: int | None = 1,
    backend: str | None = None,
    scheduler: Any = None,
    on_result: Callable[[int, R], None] | None = None,
    describe: Callable[[T], str] | None = None,
) -> list[R]:
    """Apply ``func`` to every item, in order, serially, in joblib processes or on a dask cluster.

    Parameters
    ----------
    func : callable
        A picklable function of one argument (a module-level function or a
        ``functools.partial`` of one). Under dask it may run more than once for an item (a
        worker lost mid-task): it must not depend on side effects of an earlier attempt.
    items : iterable
        The arguments.
    n_jobs : int or None, default=1
        joblib workers: ``1`` runs in this process, ``k > 1`` uses ``k`` processes, ``-1`` every
        core. Ignored by the dask backend (the cluster's workers run the items).
    backend : {"serial", "joblib", "dask"} or str, optional
        Where the items run. Default: ``"dask"`` inside a :func:`cluster` block or with
        ``scheduler=``; else ``"serial"`` for ``n_jobs=1`` and ``"joblib"`` otherwise. Another
        string is a joblib backend name (``"threading"``, ``"loky"``) with ``n_jobs`` workers.
    scheduler : str or distributed.Client, optional
        A scheduler address (``"tcp://host:8786"``) or client for this call; the client of an
        enclosing :func:`cluster` block is used without it.
    on_result : callable, optional
        ``on_result(index, result)``, called in this process as each item finishes (in the order
        they finish), e.g. to write results as they arrive or advance a progress bar.
    describe : callable, optional
        ``describe(item)``: the item in words (``"stage 'late'"``, ``"split context=9"``,
        ``"bootstrap replicate 3"``), named in the message of an error it raises (``""``: the
        error is raised as it is). Default: the item's ``label`` attribute when it has one, else
        its position.

    Returns
    -------
    list
        ``[func(item) for item in items]``, in input order, whatever runs it.

    Raises
    ------
    ValueError
        A bad ``n_jobs``, or ``backend="dask"`` with no cluster.
    Exception
        The first exception an item raised (in completion order), of its own type where
        possible, its message prefixed by the item in words (see ``describe``), never by the
        repr of an array.

    See Also
    --------
    cluster : one dask client for every call of a run.

    Examples
    --------
    >>> from neurogeom.parallel import parallel_map
    >>> parallel_map(abs, [-1, 2, -3])
    [1, 2, 3]
    >>> parallel_map(abs, [-1, 2, -3], n_jobs=2, backend="threading")
    [1, 2, 3]
    """
    items = list(items)
    n_jobs = _check_n_jobs(n_jobs)
    kind = _choose(backend, n_jobs, scheduler, len(items))
    results: list[Any] = [None] * len(items)
    failures: list[_Failure] = []

    def done(index: int, result: Any) -> None:
        if isinstance(result, _Failure):
            failures.append(result)
            raise _Stop
        results[index] = result
        if on_result is not None:
            on_result(index, result)

    try:
        if kind == "serial" or not items:
            for i, item in enumerate(items):
                done(*_call(func, i, item))
        elif kind == "dask":
            _run_dask(func, items, scheduler, done)
        else:
            from joblib import Parallel, delayed

            jb = None if kind == "joblib" else kind
            run = Parallel(n_jobs=n_jobs, backend=jb, return_as="generator_unordered")
            for index, result in run(delayed(_call)(func, i, x) for i, x in enumerate(items)):
                done(index, result)
    except _Stop:
        pass
    if failures:
        _raise(failures[0], items, describe)
    return results


class _Stop(Exception):
    """Internal: an item failed; stop collecting."""
