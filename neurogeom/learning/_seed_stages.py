"""Learning stages with networks (seeds) as replicates: the detector of
:mod:`neurogeom.learning.stages` on each network's trajectory, a naming rule fixed on one half of
the networks and read on the other, and a consensus per group (e.g. per rank of the initial
weights).

The noise
---------
GLUE's Monte-Carlo error (``<measure>_sem``) leaves out the draw of the points at each checkpoint
(each checkpoint subsamples its own points), so it understates the checkpoint-to-checkpoint noise
and the detector would cut at every wiggle. Each network's measures therefore get a noise floor,
``<measure>_resample_se``: the robust standard deviation of the successive differences along its
training, ``1.4826 * median|v[k+1] - v[k]| / sqrt(2)`` (a steady trend adds little to the median of
log-spaced checkpoints). A measure constant by construction (range at most ``CONSTANT_RTOL`` of
its size, e.g. the centre alignment of two centred manifolds) is left out for that network.

The naming rule
---------------
The seed paper orders four stages, *clustering*, *structuring*, *separating*, *stabilizing*, and
names them by eye. Here a network's segments are first named by their **order**: a segment in
which no measure moves beyond noise is *stabilizing*; of the segments in which something moves,
the first is *clustering*, the last *separating* and those between *structuring* (a network with
one moving segment gives no order and is left out of the fit). A segment's **signature** is the
measure that moves most in it (largest ``|z|`` of its fitted change) and the sign of that move,
e.g. ``radius-`` (the radius falls). On the **fit half** (even seeds) each signature gets the
moving stage whose segments carry it at the highest rate (the count of the signature among that
stage's segments over the number of that stage's segments, so that the many middle segments do
not name every signature *structuring*; ties: the earlier stage of the paper's order); a
signature never seen there names nothing (``unnamed``), and a segment in which nothing moves is
*stabilizing*. That table is the rule, stated in the result (``attrs["naming_rule"]``). It is then read on the **held-out
half** (odd seeds): the agreement is the fraction of their ordered segments whose signature names
them as their order does; a signature never seen on the fit half names nothing (a disagreement).
The package's fixed signature rule (:data:`neurogeom.learning._stage_labels.LABEL_RULE`) is read
the same way for comparison.

The consensus
-------------
Per group, every checkpoint position gets the support of the fraction of networks with a boundary
within one checkpoint of it; the position of highest support is taken (ties: the earliest) while
it is at least ``SUPPORT_MIN``, and positions closer than ``MIN_SIZE`` checkpoints to a taken one
are then skipped. Each consensus stage is named by the rule's name that most networks give the
checkpoint in its middle, with that fraction as its name support. Every consensus boundary carries
the reason the detector gives most often for the networks' boundaries within one checkpoint of it,
so two neighbours that share a name say why the boundary between them stands.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np
import xarray as xr

from neurogeom.learning._segmentation import MIN_SIZE
from neurogeom.learning.stages import learning_stages

__all__ = ["STAGE_ORDER", "SUPPORT_MIN", "stages_across_seeds"]

STAGE_ORDER = ("clustering", "structuring", "separating", "stabilizing")
SUPPORT_MIN = 0.5
#: A measure whose range along a network's training is at most this fraction of its largest
#: value is constant by construction (e.g. the centre alignment of two centred manifolds, whose
#: centres are opposite) and is left out for that network.
CONSTANT_RTOL = 1e-3
_NONE = "stabilizing"


def _run_stages(traj: xr.Dataset, measures: Sequence[str]) -> xr.Dataset:
    """The detector on one network's trajectory (dim ``step``), with the noise floor of
    :func:`_noise_floor` as each measure's ``_resample_se`` and the measures constant by
    construction left out."""
    t = traj.rename(step="stage").assign_coords(step=("stage", traj["step"].values))
    used = []
    for m in measures:
        v = np.asarray(t[m].values, dtype=float)
        if not np.isfinite(v).all() or np.ptp(v) <= CONSTANT_RTOL * np.max(np.abs(v)):
            continue
        used.append(m)
        t[f"{m}_resample_se"] = ("stage", np.full(v.size, _noise_floor(v)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return learning_stages(t, used)


def _noise_floor(v: np.ndarray) -> float:
    """Checkpoint-to-checkpoint noise of a measure: the robust (MAD) standard deviation of its
    successive differences over sqrt(2)."""
    return float(1.4826 * np.median(np.abs(np.diff(v))) / np.sqrt(2))


def _signature(st: xr.Dataset, k: int) -> str:
    z = st["change_z"].isel(segment=k).values
    moves = st["moves"].isel(segment=k).values
    if not np.any(moves != 0):
        return "none"
    i = int(np.argmax(np.where(moves != 0, np.abs(z), -1.0)))
    return f"{st['measure'].values[i]}{'+' if z[i] > 0 else '-'}"


def _order_names(signatures: list[str]) -> list[str] | None:
    """Names by order: nothing moves -> stabilizing; first moving -> clustering, last ->
    separating, between -> structuring. None with fewer than two moving segments."""
    moving = [i for i, s in enumerate(signatures) if s != "none"]
    if len(moving) < 2:
        return None
    names = [_NONE] * len(signatures)
    for j, i in enumerate(moving):
        names[i] = (
            "clustering" if j == 0 else "separating" if j == len(moving) - 1 else "structuring"
        )
    return names


def _fit_rule(signatures: list[list[str]]) -> dict[str, str]:
    counts: dict[str, Counter] = {}
    for sigs in signatures:
        names = _order_names(sigs)
        if names is None:
            continue
        for s, n in zip(sigs, names, strict=True):
            counts.setdefault(s, Counter())[n] += 1
    totals = Counter()
    for c in counts.values():
        totals.update(c)
    rule = {"none": _NONE}
    for s, c in counts.items():
        if s != "none":
            lift = {n: c[n] / totals[n] for n in STAGE_ORDER[:3] if totals[n]}
            top = max(lift.values())
            rule[s] = next(n for n in STAGE_ORDER if lift.get(n) == top)
    return rule


def _agreement(signatures: list[list[str]], name_of) -> tuple[float, int]:
    hits = total = 0
    for k, sigs in enumerate(signatures):
        names = _order_names(sigs)
        if names is None:
            continue
        given = name_of(k, sigs)
        hits += sum(a == b for a, b in zip(given, names, strict=True))
        total += len(names)
    return (hits / total if total else float("nan")), total


def _consensus(boundaries: list[np.ndarray], n: int) -> tuple[list[int], list[float]]:
    if not boundaries:
        return [], []
    near = np.zeros((len(boundaries), n), dtype=bool)
    for i, b in enumerate(boundaries):
        for x in b:
            near[i, max(int(x) - 1, 0) : int(x) + 2] = True
    support = near.mean(axis=0)
    support[0] = 0.0
    taken: list[int] = []
    free = np.ones(n, dtype=bool)
    free[0] = False
    while free.any() and support[free].max() >= SUPPORT_MIN:
        b = int(np.flatnonzero(free & (support == support[free].max()))[0])
        taken.append(b)
        free[max(b - MIN_SIZE + 1, 0) : b + MIN_SIZE] = False
    taken.sort()
    return taken, [float(support[b]) for b in taken]


def _majority(values: list[str]) -> tuple[str, float]:
    if not values:
        return "", float("nan")
    c = Counter(values)
    top = max(c.values())
    name = next(v for v in [*STAGE_ORDER, *sorted(c)] if c.get(v, 0) == top)
    return name, top / len(values)


def stages_across_seeds(
    trajectories: xr.Dataset,
    measures: Sequence[str],
    *,
    group: str = "rank",
    replicate: str = "seed",
) -> xr.Dataset:
    """Stages of every network, the naming rule fitted on the even seeds and read on the odd ones,
    and a consensus per ``group``; the method is in the module docstring.

    ``trajectories`` holds the measures and their ``<measure>_sem`` on dims (group, replicate,
    step); a network whose measures are all NaN is skipped.
    """
    groups = list(trajectories[group].values)
    seeds = [int(s) for s in trajectories[replicate].values]
    steps = np.asarray(trajectories["step"].values, dtype=np.int64)
    n = len(steps)
    runs: dict[tuple[int, int], xr.Dataset] = {}
    for i, _ in enumerate(groups):
        for j, _ in enumerate(seeds):
            traj = trajectories.isel({group: i, replicate: j})
            if not np.isfinite(traj[measures[0]].values).any():
                continue
            keep = [v for m in measures for v in (m, f"{m}_sem") if v in traj]
            runs[i, j] = _run_stages(traj[keep], measures)
    sigs = {
        key: [_signature(st, k) for k in range(st.sizes["segment"])] for key, st in runs.items()
    }
    even = [key for key in runs if seeds[key[1]] % 2 == 0]
    odd = [key for key in runs if seeds[key[1]] % 2 == 1]
    rule = _fit_rule([sigs[k] for k in even])
    odd_sigs = [sigs[k] for k in odd]
    agree, n_odd = _agreement(odd_sigs, lambda k, s: [rule.get(x, "unnamed") for x in s])
    package = [[str(x) for x in runs[k]["label"].values] for k in odd]
    agree_pkg, _ = _agreement(odd_sigs, lambda k, s: package[k])

    def name_at(key: tuple[int, int], pos: int) -> str:
        st = runs[key]
        k = int(st["segment_of_stage"].values[pos])
        return rule.get(sigs[key][k], "unnamed")

    slots = max([1, *(st.sizes["boundary"] for st in runs.values())])
    run_bound = np.full((len(groups), len(seeds), slots), np.nan)
    n_bound = np.full((len(groups), len(seeds)), np.nan)
    first_sig = np.full((len(groups), len(seeds)), "", dtype=object)
    last_sig = np.full((len(groups), len(seeds)), "", dtype=object)
    for (i, j), st in runs.items():
        b = st["boundary_step"].values
        run_bound[i, j, : len(b)] = b
        n_bound[i, j] = len(b)
        moving = [s for s in sigs[i, j] if s != "none"]
        first_sig[i, j] = moving[0] if moving else "none"
        last_sig[i, j] = moving[-1] if moving else "none"
    per_group = []
    for i, _ in enumerate(groups):
        keys = [k for k in runs if k[0] == i]
        bounds = [np.asarray(runs[k]["boundary_stage"].values) for k in keys]
        taken, support = _consensus(bounds, n)
        edges = [0, *taken, n]
        names, name_support, package_names = [], [], []
        for a, c in zip(edges[:-1], edges[1:], strict=True):
            mid = (a + c - 1) // 2
            name, frac = _majority([name_at(k, mid) for k in keys])
            names.append(name)
            name_support.append(frac)
            package_names.append(
                _majority(
                    [
                        str(runs[k]["label"].values[runs[k]["segment_of_stage"].values[mid]])
                        for k in keys
                    ]
                )[0]
            )
        reasons = []
        for b in taken:
            why = [
                str(runs[k]["boundary_reason"].values[q])
                for k in keys
                for q, x in enumerate(runs[k]["boundary_stage"].values)
                if abs(int(x) - b) <= 1
            ]
            reasons.append(Counter(why).most_common(1)[0][0] if why else "")
        per_group.append((taken, support, edges, names, name_support, package_names, reasons))
    nb = max([1, *(len(g[0]) for g in per_group)])
    ns = nb + 1
    c_step = np.full((len(groups), nb), np.nan)
    c_support = np.full((len(groups), nb), np.nan)
    c_reason = np.full((len(groups), nb), "", dtype=object)
    s_name = np.full((len(groups), ns), "", dtype=object)
    s_pkg = np.full((len(groups), ns), "", dtype=object)
    s_support = np.full((len(groups), ns), np.nan)
    s_start = np.full((len(groups), ns), np.nan)
    s_stop = np.full((len(groups), ns), np.nan)
    same_name = np.zeros(len(groups), dtype=np.int64)
    for i, (taken, support, edges, names, nsup, pkg, reasons) in enumerate(per_group):
        c_step[i, : len(taken)] = steps[taken] if taken else []
        c_support[i, : len(taken)] = support
        c_reason[i, : len(taken)] = reasons
        s_name[i, : len(names)] = names
        s_pkg[i, : len(pkg)] = pkg
        s_support[i, : len(names)] = nsup
        s_start[i, : len(names)] = steps[edges[:-1]]
        s_stop[i, : len(names)] = steps[np.asarray(edges[1:]) - 1]
        same_name[i] = sum(a == b for a, b in zip(names[:-1], names[1:], strict=True))
    per_rank_agree = []
    for i, _ in enumerate(groups):
        ks = [k for k in odd if k[0] == i]
        per_rank_agree.append(
            _agreement([sigs[k] for k in ks], lambda k, s: [rule.get(x, "unnamed") for x in s])[0]
        )
    basis = {
        "first_moving_signature_even_seeds": Counter(
            first_sig[k] for k in even if first_sig[k]
        ).most_common(3),
        "last_moving_signature_even_seeds": Counter(
            last_sig[k] for k in even if last_sig[k]
        ).most_common(3),
    }
    return xr.Dataset(
        {
            "run_n_boundaries": ((group, replicate), n_bound),
            "run_boundary_step": ((group, replicate, "run_boundary"), run_bound),
            "run_first_signature": ((group, replicate), first_sig.astype(str)),
            "run_last_signature": ((group, replicate), last_sig.astype(str)),
            "consensus_boundary_step": ((group, "consensus_boundary"), c_step),
            "consensus_support": ((group, "consensus_boundary"), c_support),
            "consensus_reason": ((group, "consensus_boundary"), c_reason.astype(str)),
            "stage_name": ((group, "consensus_stage"), s_name.astype(str)),
            "stage_name_support": ((group, "consensus_stage"), s_support),
            "stage_package_label": ((group, "consensus_stage"), s_pkg.astype(str)),
            "stage_start_step": ((group, "consensus_stage"), s_start),
            "stage_stop_step": ((group, "consensus_stage"), s_stop),
            "n_adjacent_same_name": (group, same_name),
            "naming_agreement_by_group": (group, np.asarray(per_rank_agree, dtype=float)),
        },
        coords={group: trajectories[group].values, replicate: trajectories[replicate].values},
        attrs={
            "naming_rule": json.dumps(rule, sort_keys=True),
            "naming_rule_basis": json.dumps(basis),
            "naming_rule_fit_on": "even seeds",
            "naming_rule_read_on": "odd seeds",
            "naming_agreement": float(agree),
            "naming_agreement_package_rule": float(agree_pkg),
            "naming_n_segments_read": int(n_odd),
            "consensus_support_min": SUPPORT_MIN,
            "consensus_window": "a network's boundary within one checkpoint",
            "measures": list(measures),
        },
    )
