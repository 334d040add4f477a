"""One map function for every fan-out in neurogeom: serial, joblib processes, or a dask cluster.

Measures over stages, time windows, network seeds and sweeps all go through :func:`parallel_map`,
so choosing where the work runs is one argument, not a rewrite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(
    func: Callable[[T], R],
    items: Iterable[T],
    *,
    n_jobs: int | None = 1,
    backend: str | None = None,
    scheduler: Any = None,
) -> list[R]:
    """Apply ``func`` to every item, in order, serially or in parallel.

    Parameters
    ----------
    func : callable
        A picklable function of one argument (a module-level function or a ``functools.partial``).
    items : iterable
        The arguments.
    n_jobs : int or None, default=1
        ``1`` runs in this process; ``k > 1`` uses ``k`` joblib workers; ``-1`` uses every core.
    backend : str, optional
        A joblib backend name (``"loky"``, ``"threading"``, ``"dask"``). Default: joblib's own.
    scheduler : str or distributed.Client, optional
        A dask.distributed scheduler address (``"tcp://host:8786"``) or client: the work runs on
        that cluster through joblib's dask backend.

    Returns
    -------
    list
        ``[func(item) for item in items]``, whatever runs it.
    """
    items = list(items)
    if n_jobs is None:
        n_jobs = 1
    if not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive int or -1 (every core); got {n_jobs!r}.")
    if scheduler is None and (n_jobs == 1 or len(items) <= 1):
        return [func(item) for item in items]

    from joblib import Parallel, delayed, parallel_config

    if scheduler is not None:
        from distributed import Client

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        with parallel_config(backend="dask", wait_for_workers_timeout=60):
            try:
                return list(Parallel()(delayed(func)(item) for item in items))
            finally:
                if client is not scheduler:
                    client.close()
    return list(Parallel(n_jobs=n_jobs, backend=backend)(delayed(func)(item) for item in items))
