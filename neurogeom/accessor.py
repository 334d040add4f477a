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

    Parameters
    ----------
    obj : xarray.DataArray
        The population tensor (``pop`` in ``pop.ng``); nothing else is kept.

    See Also
    --------
    neurogeom.population : The functions the contract methods forward to.
    neurogeom.geometry.measures : The measures :meth:`measure` can run.

    Examples
    --------
    >>> from neurogeom.population import make_population
    >>> rng = np.random.default_rng(0)
    >>> stim = np.repeat([0, 1, 2], 10)
    >>> pop = make_population(rng.normal(size=(30, 20)) + 3 * np.eye(20)[stim],
    ...                       dims=("trial", "unit"), quantity="rate_hz",
    ...                       trial_coords={"stim": stim})
    >>> pop.ng.manifolds("stim").n_manifolds
    3
    """

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    # ---- the contract ----------------------------------------------------------------------------

    def validate(self) -> xr.DataArray:
        """Check the population-tensor contract (see :func:`neurogeom.population.validate`).

        Returns
        -------
        xarray.DataArray
            The tensor, unchanged.

        See Also
        --------
        neurogeom.population.validate : The function this forwards to.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> rng = np.random.default_rng(0)
        >>> stim = np.repeat([0, 1, 2], 10)
        >>> pop = make_population(rng.normal(size=(30, 20)) + 3 * np.eye(20)[stim],
        ...                       dims=("trial", "unit"), quantity="rate_hz",
        ...                       trial_coords={"stim": stim})
        >>> pop.ng.validate() is pop
        True
        """
        return population.validate(self._obj)

    def select(self, **conditions: Any) -> xr.DataArray:
        """Trials (or stages) whose labels match every condition (see
        :func:`neurogeom.population.select`).

        Parameters
        ----------
        **conditions : label or list of labels
            ``name=value`` (or ``name=[values]``) for trial labels or stage coords.

        Returns
        -------
        xarray.DataArray
            The matching trials (or stages).

        See Also
        --------
        neurogeom.population.select : The function this forwards to.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> rng = np.random.default_rng(0)
        >>> stim = np.repeat([0, 1, 2], 10)
        >>> pop = make_population(rng.normal(size=(30, 20)) + 3 * np.eye(20)[stim],
        ...                       dims=("trial", "unit"), quantity="rate_hz",
        ...                       trial_coords={"stim": stim})
        >>> pop.ng.select(stim=[0, 1]).sizes["trial"]
        20
        """
        return population.select(self._obj, **conditions)

    def average(self, dim: str = "trial", by: Labels = None) -> xr.DataArray:
        """Average over a dim, or condition-average trials (see
        :func:`neurogeom.population.average`).

        Parameters
        ----------
        dim : str, default="trial"
            Dim to average over.
        by : str or sequence of str, optional
            Condition-average the trials of each combination of these labels.

        Returns
        -------
        xarray.DataArray
            The averaged tensor (with ``by``: one trial per condition and an ``n_trials`` coord).

        See Also
        --------
        neurogeom.population.average : The function this forwards to.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> rng = np.random.default_rng(0)
        >>> stim = np.repeat([0, 1, 2], 10)
        >>> pop = make_population(rng.normal(size=(30, 20)) + 3 * np.eye(20)[stim],
        ...                       dims=("trial", "unit"), quantity="rate_hz",
        ...                       trial_coords={"stim": stim})
        >>> pop.ng.average(by="stim")["n_trials"].values
        array([10, 10, 10])
        """
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
        """Points and integer labels for the engine (see :func:`neurogeom.population.manifolds`).

        Parameters
        ----------
        by : str or sequence of str
            Trial label(s) whose values are the manifolds.
        within, window_s, stage, points, min_points
            As :func:`neurogeom.population.manifolds`.

        Returns
        -------
        neurogeom.population.Manifolds
            ``points`` of shape (n_points, n_unit) and integer ``labels``.

        See Also
        --------
        neurogeom.population.manifolds : The function this forwards to.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> rng = np.random.default_rng(0)
        >>> stim = np.repeat([0, 1, 2], 10)
        >>> pop = make_population(rng.normal(size=(30, 20)) + 3 * np.eye(20)[stim],
        ...                       dims=("trial", "unit"), quantity="rate_hz",
        ...                       trial_coords={"stim": stim})
        >>> pop.ng.manifolds("stim").points.shape
        (30, 20)
        """
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
        :func:`neurogeom.population.pool`).

        Parameters
        ----------
        others : xarray.DataArray or iterable of xarray.DataArray
            The other sessions' tensors.
        by : str or sequence of str
            Trial labels that define a condition.
        **kwargs
            ``n_trials``, ``seed``, ``sessions``, ``unique_unit_ids``, ``replace`` of
            :func:`neurogeom.population.pool`.

        Returns
        -------
        xarray.DataArray
            Dims (``trial``, [``time``], ``unit``), this tensor's units first.

        See Also
        --------
        neurogeom.population.pool : The function this forwards to.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> rng = np.random.default_rng(0)
        >>> stim = np.repeat([0, 1, 2], 10)
        >>> pop = make_population(rng.normal(size=(30, 20)) + 3 * np.eye(20)[stim],
        ...                       dims=("trial", "unit"), quantity="rate_hz",
        ...                       trial_coords={"stim": stim})
        >>> other = make_population(rng.normal(size=(30, 5)), dims=("trial", "unit"),
        ...                         quantity="rate_hz", trial_coords={"stim": stim})
        >>> dict(pop.ng.pool(other, by="stim", sessions=["a", "b"]).sizes)
        {'trial': 30, 'unit': 25}
        """
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

        See Also
        --------
        glue : The default measure.
        neurogeom.learning.measure_geometry : The function this forwards to.
        neurogeom.geometry.measure_names : The registered measures.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> rng = np.random.default_rng(0)
        >>> stim = np.repeat([0, 1, 2], 10)
        >>> pop = make_population(rng.normal(size=(30, 20)) + 3 * np.eye(20)[stim],
        ...                       dims=("trial", "unit"), quantity="rate_hz",
        ...                       trial_coords={"stim": stim})
        >>> pop.ng.measure("stim", "participation_ratio")["participation_ratio"].item()
        10.17...
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

        Parameters
        ----------
        by : str or sequence of str
            Trial label(s) whose values are the manifolds.
        **kwargs
            The arguments of :meth:`measure` (``within``, ``split``, ``window_s``, ``stage``,
            ``points``, ``seed``) and the options of the measure.

        Returns
        -------
        xarray.Dataset
            As :meth:`measure`: the measure's variables and ``*_sem``, attrs with the parameters.

        See Also
        --------
        neurogeom.geometry.glue : The measure on plain arrays.
        mftma : The mean-field estimate.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> rng = np.random.default_rng(0)
        >>> stim = np.repeat([0, 1, 2], 10)
        >>> pop = make_population(rng.normal(size=(30, 20)) + 3 * np.eye(20)[stim],
        ...                       dims=("trial", "unit"), quantity="rate_hz",
        ...                       trial_coords={"stim": stim})
        >>> result = pop.ng.glue("stim", n_t=20)
        >>> result["capacity"].item()
        0.36...
        >>> result.sizes["manifold"]
        3
        """
        return self.measure(by, "glue", **kwargs)

    def simulated_capacity(self, by: str | Sequence[str], **kwargs: Any) -> xr.Dataset:
        """Simulated capacity of the ``by`` manifolds (arguments as :meth:`glue`; options of
        :func:`neurogeom.geometry.simulated_capacity`).

        Parameters
        ----------
        by : str or sequence of str
            Trial label(s) whose values are the manifolds.
        **kwargs
            The arguments of :meth:`measure` (``within``, ``split``, ``window_s``, ``stage``,
            ``points``, ``seed``) and the options of the measure.

        Returns
        -------
        xarray.Dataset
            As :meth:`measure`: the measure's variables and ``*_sem``, attrs with the parameters.

        See Also
        --------
        neurogeom.geometry.simulated_capacity : The measure on plain arrays.
        glue : The analytic estimate.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> rng = np.random.default_rng(0)
        >>> stim = np.repeat([0, 1, 2], 10)
        >>> pop = make_population(rng.normal(size=(30, 20)) + 3 * np.eye(20)[stim],
        ...                       dims=("trial", "unit"), quantity="rate_hz",
        ...                       trial_coords={"stim": stim})
        >>> pop.ng.simulated_capacity("stim", n_dichotomies=11)["capacity"].item()
        0.32...
        """
        return self.measure(by, "simulated_capacity", **kwargs)

    def mftma(self, by: str | Sequence[str], **kwargs: Any) -> xr.Dataset:
        """Mean-field (MFTMA) capacity and geometry of the ``by`` manifolds (arguments as
        :meth:`glue`; options of :func:`neurogeom.geometry.mftma`).

        Parameters
        ----------
        by : str or sequence of str
            Trial label(s) whose values are the manifolds.
        **kwargs
            The arguments of :meth:`measure` (``within``, ``split``, ``window_s``, ``stage``,
            ``points``, ``seed``) and the options of the measure.

        Returns
        -------
        xarray.Dataset
            As :meth:`measure`: the measure's variables and ``*_sem``, attrs with the parameters.

        See Also
        --------
        neurogeom.geometry.mftma : The measure on plain arrays.
        glue : The GLUE estimate.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> rng = np.random.default_rng(0)
        >>> stim = np.repeat([0, 1, 2], 10)
        >>> pop = make_population(rng.normal(size=(30, 20)) + 3 * np.eye(20)[stim],
        ...                       dims=("trial", "unit"), quantity="rate_hz",
        ...                       trial_coords={"stim": stim})
        >>> pop.ng.mftma("stim", n_t=20)["capacity"].item()
        0.20...
        """
        return self.measure(by, "mftma", **kwargs)

    def geometry(self, by: str | Sequence[str], **kwargs: Any) -> xr.Dataset:
        """Measures at every index of extra dims (``stage``), split values and time windows.

        See :func:`neurogeom.learning.measure_geometry` for the arguments (``measures``, ``over``,
        ``within``, ``split``, ``window_s``, ``n_jobs``, ``seed``).

        Parameters
        ----------
        by : str or sequence of str
            Trial label(s) whose values are the manifolds.
        **kwargs
            The arguments of :func:`neurogeom.learning.measure_geometry`.

        Returns
        -------
        xarray.Dataset
            Each measure's variables, with a dim per extra dim of the tensor (``stage``).

        See Also
        --------
        neurogeom.learning.measure_geometry : The function this forwards to.
        measure : One measure of one tensor.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> rng = np.random.default_rng(0)
        >>> stim = np.repeat([0, 1, 2], 10)
        >>> gain = np.array([1.0, 3.0])[:, None, None]
        >>> pop = make_population(rng.normal(size=(2, 30, 20)) + gain * np.eye(20)[stim],
        ...                       dims=("stage", "trial", "unit"), quantity="rate_hz",
        ...                       trial_coords={"stim": stim},
        ...                       stage_coords={"label": ["before", "after"]})
        >>> result = pop.ng.geometry("stim", measures=("participation_ratio",))
        >>> result["participation_ratio"].dims
        ('stage',)
        """
        from neurogeom.learning import measure_geometry

        return measure_geometry(self._obj, by=by, **kwargs)

    # ---- preparing and trajectories (neurogeom.learning) ------------------------------------

    def window_mean(self, window_s: population.TimeWindow) -> xr.DataArray:
        """Mean over a time window, ``time`` dropped (see
        :func:`neurogeom.learning.prepare.window_mean`).

        Parameters
        ----------
        window_s : (start_s, stop_s) or slice
            Window of bin centres in seconds.

        Returns
        -------
        xarray.DataArray
            The tensor averaged over the window, without a ``time`` dim.

        See Also
        --------
        neurogeom.learning.prepare.window_mean : The function this forwards to.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> pop = make_population(np.ones((4, 3, 2)), dims=("trial", "time", "unit"),
        ...                       quantity="rate_hz", bin_size_s=0.1)
        >>> pop.ng.window_mean((0.0, 0.1)).dims
        ('trial', 'unit')
        """
        from neurogeom.learning.prepare import window_mean

        return window_mean(self._obj, window_s)

    def zscore(self, dim: str = "trial", within_stage: bool = True) -> xr.DataArray:
        """Z-score each unit over trials (see :func:`neurogeom.learning.prepare.zscore`).

        Parameters
        ----------
        dim : str, default="trial"
            Dim over which each unit is z-scored.
        within_stage : bool, default=True
            Z-score each stage on its own.

        Returns
        -------
        xarray.DataArray
            The z-scored tensor, dims as the input.

        See Also
        --------
        neurogeom.learning.prepare.zscore : The function this forwards to.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> rng = np.random.default_rng(0)
        >>> stim = np.repeat([0, 1, 2], 10)
        >>> pop = make_population(rng.normal(size=(30, 20)) + 3 * np.eye(20)[stim],
        ...                       dims=("trial", "unit"), quantity="rate_hz",
        ...                       trial_coords={"stim": stim})
        >>> z = pop.ng.zscore()
        >>> abs(z.mean("trial")).max().item() < 1e-9
        True
        """
        from neurogeom.learning.prepare import zscore

        return zscore(self._obj, dim=dim, within_stage=within_stage)

    def balance(self, by: str | Sequence[str], **kwargs: Any) -> xr.DataArray:
        """The same number of trials per manifold and stage (see
        :func:`neurogeom.learning.prepare.balance`).

        Parameters
        ----------
        by : str or sequence of str
            Trial label(s) whose values are the manifolds.
        **kwargs
            The options of :func:`neurogeom.learning.prepare.balance`.

        Returns
        -------
        xarray.DataArray
            The tensor with as many trials in every manifold (and stage).

        See Also
        --------
        neurogeom.learning.prepare.balance : The function this forwards to.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> rng = np.random.default_rng(0)
        >>> stim = np.repeat([0, 1, 2], 10)
        >>> pop = make_population(rng.normal(size=(30, 20)) + 3 * np.eye(20)[stim],
        ...                       dims=("trial", "unit"), quantity="rate_hz",
        ...                       trial_coords={"stim": stim})
        >>> pop.isel(trial=slice(0, 25)).ng.balance("stim").sizes["trial"]
        15
        """
        from neurogeom.learning.prepare import balance

        return balance(self._obj, by, **kwargs)

    def trajectory(
        self, by: str | Sequence[str], measure: str = "glue", **kwargs: Any
    ) -> xr.Dataset:
        """A measure along ``stage`` with resampling error and a shuffle null (see
        :func:`neurogeom.learning.trajectories.trajectory`).

        Parameters
        ----------
        by : str or sequence of str
            Trial label(s) whose values are the manifolds.
        measure : str, default="glue"
            Registry name of the measure.
        **kwargs
            The options of :func:`neurogeom.learning.trajectories.trajectory` (``n_boot``,
            ``n_perm``, ``seed``, ...) and of the measure.

        Returns
        -------
        xarray.Dataset
            The measure along ``stage`` with ``*_ci_low``/``*_ci_high`` and the shuffle null.

        See Also
        --------
        neurogeom.learning.trajectories.trajectory : The function this forwards to.
        stage_difference : The change between two stages.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> rng = np.random.default_rng(0)
        >>> stim = np.repeat([0, 1, 2], 10)
        >>> gain = np.array([1.0, 3.0])[:, None, None]
        >>> pop = make_population(rng.normal(size=(2, 30, 20)) + gain * np.eye(20)[stim],
        ...                       dims=("stage", "trial", "unit"), quantity="rate_hz",
        ...                       trial_coords={"stim": stim},
        ...                       stage_coords={"label": ["before", "after"]})
        >>> result = pop.ng.trajectory("stim", "participation_ratio", n_boot=5, n_perm=5)
        >>> result["participation_ratio"].values
        array([12.0..., 9.56...])
        """
        from neurogeom.learning.trajectories import trajectory

        return trajectory(self._obj, by, measure, **kwargs)

    def stage_difference(self, by: str | Sequence[str], **kwargs: Any) -> xr.Dataset:
        """The change of a measure between two stages, with an interval and a permutation
        p-value (see :func:`neurogeom.learning.trajectories.stage_difference`).

        Parameters
        ----------
        by : str or sequence of str
            Trial label(s) whose values are the manifolds.
        **kwargs
            The options of :func:`neurogeom.learning.trajectories.stage_difference` (``measure``,
            ``n_boot``, ``n_perm``, ``seed``, ...).

        Returns
        -------
        xarray.Dataset
            ``difference`` (last stage minus first) with its interval, ``p_value`` and ``null``.

        See Also
        --------
        neurogeom.learning.trajectories.stage_difference : The function this forwards to.
        trajectory : The measure at every stage.

        Examples
        --------
        >>> from neurogeom.population import make_population
        >>> rng = np.random.default_rng(0)
        >>> stim = np.repeat([0, 1, 2], 10)
        >>> gain = np.array([1.0, 3.0])[:, None, None]
        >>> pop = make_population(rng.normal(size=(2, 30, 20)) + gain * np.eye(20)[stim],
        ...                       dims=("stage", "trial", "unit"), quantity="rate_hz",
        ...                       trial_coords={"stim": stim},
        ...                       stage_coords={"label": ["before", "after"]})
        >>> result = pop.ng.stage_difference("stim", measure="participation_ratio", n_boot=5,
        ...                                  n_perm=19)
        >>> result["difference"].item()
        -2.4...
        """
        from neurogeom.learning.trajectories import stage_difference

        return stage_difference(self._obj, by, **kwargs)
