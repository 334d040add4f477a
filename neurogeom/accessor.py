"""The ``.ng`` accessor: thin doors from a population tensor to the contract, the engine and
the learning layer.

Registered on :class:`xarray.DataArray` when ``neurogeom`` is imported. Every method forwards to a
function that also works without the accessor: the contract (:mod:`neurogeom.population`), the
measures of the engine (:mod:`neurogeom.geometry`, by registry name) and
:func:`neurogeom.learning.measure_geometry`. The accessor keeps no state but the tensor.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import xarray as xr

from neurogeom import population
from neurogeom._deprecation import REMOVED_IN, renamed_arguments

__all__ = ["NgAccessor"]

Labels = str | Sequence[str] | None


@xr.register_dataarray_accessor("ng")
class NgAccessor:
    """neurogeom methods on a population tensor: ``pop.ng.<method>``.

    Manifolds are defined by ``by`` (the label whose values are the manifolds), ``within``
    (joint manifolds over the product of labels, in one analysis) and ``split`` (a separate
    analysis for each value of a label, stacked along a dim named after it).
    """

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    # ---- the contract ----------------------------------------------------------------------------

    def validate(self) -> xr.DataArray:
        """Check the population-tensor contract (see :func:`neurogeom.population.validate`)."""
        return population.validate(self._obj)

    def select(self, **conditions: Any) -> xr.DataArray:
        """Trials (or stages) whose labels match every condition (see
        :func:`neurogeom.population.select`)."""
        return population.select(self._obj, **conditions)

    def average(self, dim: str = "trial", by: Labels = None) -> xr.DataArray:
        """Average over a dim, or condition-average trials (see
        :func:`neurogeom.population.average`)."""
        return population.average(self._obj, dim=dim, by=by)

    def manifolds(
        self,
        by: str | Sequence[str],
        *,
        within: Labels = None,
        window_s: population.TimeWindow = None,
        stage: Any = None,
        points: Literal["mean", "all"] = "mean",
        min_points: int = 2,
    ) -> population.Manifolds:
        """Points and integer labels for the engine (see :func:`neurogeom.population.manifolds`)."""
        return population.manifolds(
            self._obj,
            by,
            within=within,
            window_s=window_s,
            stage=stage,
            points=points,
            min_points=min_points,
        )

    def pool(
        self, others: xr.DataArray | Iterable[xr.DataArray], by: str | Sequence[str], **kwargs: Any
    ) -> xr.DataArray:
        """Pseudo-population of this tensor's units and those of ``others`` (see
        :func:`neurogeom.population.pool`)."""
        rest = [others] if isinstance(others, xr.DataArray) else list(others)
        return population.pool([self._obj, *rest], by, **kwargs)

    # ---- measures ----------------------------------------------------------------------------

    @renamed_arguments(name="measure")
    def measure(
        self,
        by: str | Sequence[str],
        measure: str = "glue",
        *,
        within: Labels = None,
        split: str | None = None,
        window_s: Any = None,
        stage: Any = None,
        points: Literal["mean", "all"] = "mean",
        seed: int = 0,
        **kwargs: Any,
    ) -> xr.Dataset:
        """One registered measure (``"glue"``, ``"mftma"``, ``"decoding_accuracy"``, ...) of the
        ``by`` manifolds.

        Parameters
        ----------
        by, within, window_s, points
            The manifolds (see :func:`neurogeom.population.manifolds`).
        measure : str, default="glue"
            Registry name of a measure that takes one population's points and labels (see
            :func:`neurogeom.geometry.measures`). Until 0.2.0 it was the first argument,
            ``name``: ``measure(name, by)`` (the old order and keyword are accepted, with a
            ``FutureWarning``, until 0.3.0).
        split : str, optional
            A trial label: the measure runs separately for each of its values, and the result
            gets a dim named after it.
        stage : label, optional
            Use this stage of a tensor with a ``stage`` dim (a ``stage`` or ``label`` value).
        seed : int, default=0
            The measure's seed; with ``split``, each value gets the child seed recorded in the
            ``seed_used`` coord (see :func:`neurogeom.learning.measure_geometry`).
        **kwargs
            Options of the measure (``n_t=500``, ``kappa=0.1``); one it does not take is an error.

        Returns
        -------
        xarray.Dataset
            The measure's variables and ``*_sem``, a ``manifold`` dim with the label values,
            attrs from the estimator plus ``by``, ``within``, ``split``, ``seed``.
        """
        from neurogeom.geometry.registry import measure_names
        from neurogeom.learning import measure_geometry

        known = measure_names()
        if isinstance(by, str) and by in known and measure not in known:
            warnings.warn(
                f"measure({by!r}, {measure!r}): the label argument by now comes first, "
                f"measure(by, measure); the old order goes in {REMOVED_IN}.",
                FutureWarning,
                stacklevel=3,
            )
            by, measure = measure, by
        pop = self._obj
        if stage is not None:
            if "stage" not in pop.dims:
                raise ValueError("stage= was given but the tensor has no 'stage' dim.")
            pop = population.select_stage(pop, stage)
        return measure_geometry(
            pop,
            by=by,
            measures=(measure,),
            over=(),
            within=within,
            split=split,
            window_s=window_s,
            points=points,
            seed=seed,
            **kwargs,
        )

    def glue(self, by: str | Sequence[str], **kwargs: Any) -> xr.Dataset:
        """GLUE capacity and effective geometry of the ``by`` manifolds.

        The arguments of :meth:`measure` (``within``, ``split``, ``window_s``, ``stage``,
        ``points``, ``seed``) and of :func:`neurogeom.geometry.glue` (``n_t``, ``kappa``, ...).
        """
        return self.measure(by, "glue", **kwargs)

    def simulated_capacity(self, by: str | Sequence[str], **kwargs: Any) -> xr.Dataset:
        """Simulated capacity of the ``by`` manifolds (arguments as :meth:`glue`; options of
        :func:`neurogeom.geometry.simulated_capacity`)."""
        return self.measure(by, "simulated_capacity", **kwargs)

    def mftma(self, by: str | Sequence[str], **kwargs: Any) -> xr.Dataset:
        """Mean-field (MFTMA) capacity and geometry of the ``by`` manifolds (arguments as
        :meth:`glue`; options of :func:`neurogeom.geometry.mftma`)."""
        return self.measure(by, "mftma", **kwargs)

    def geometry(self, by: str | Sequence[str], **kwargs: Any) -> xr.Dataset:
        """Measures at every index of extra dims (``stage``), split values and time windows.

        See :func:`neurogeom.learning.measure_geometry` for the arguments (``measures``, ``over``,
        ``within``, ``split``, ``window_s``, ``n_jobs``, ``seed``).
        """
        from neurogeom.learning import measure_geometry

        return measure_geometry(self._obj, by=by, **kwargs)

    # ---- preparing and trajectories (neurogeom.learning) ------------------------------------

    def window_mean(self, window_s: population.TimeWindow) -> xr.DataArray:
        """Mean over a time window, ``time`` dropped (see
        :func:`neurogeom.learning.prepare.window_mean`)."""
        from neurogeom.learning.prepare import window_mean

        return window_mean(self._obj, window_s)

    def zscore(self, dim: str = "trial", within_stage: bool = True) -> xr.DataArray:
        """Z-score each unit over trials (see :func:`neurogeom.learning.prepare.zscore`)."""
        from neurogeom.learning.prepare import zscore

        return zscore(self._obj, dim=dim, within_stage=within_stage)

    def balance(self, by: str | Sequence[str], **kwargs: Any) -> xr.DataArray:
        """The same number of trials per manifold and stage (see
        :func:`neurogeom.learning.prepare.balance`)."""
        from neurogeom.learning.prepare import balance

        return balance(self._obj, by, **kwargs)

    def trajectory(
        self, by: str | Sequence[str], measure: str = "glue", **kwargs: Any
    ) -> xr.Dataset:
        """A measure along ``stage`` with resampling error and a shuffle null (see
        :func:`neurogeom.learning.trajectories.trajectory`)."""
        from neurogeom.learning.trajectories import trajectory

        return trajectory(self._obj, by, measure, **kwargs)

    def stage_difference(self, by: str | Sequence[str], **kwargs: Any) -> xr.Dataset:
        """The change of a measure between two stages, with an interval and a permutation
        p-value (see :func:`neurogeom.learning.trajectories.stage_difference`)."""
        from neurogeom.learning.trajectories import stage_difference

        return stage_difference(self._obj, by, **kwargs)
