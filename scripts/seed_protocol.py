"""Measure a trained rank sweep at every checkpoint, read it with the seeds as replicates, and write
its netCDF, figures and the docs page.

    python scripts/seed_protocol.py SPEC RUNS_DIR OUT [--jobs 2] [--setting full|fast] [--train]
                                    [--lazy-rich] [--docs docs/papers]

SPEC is a rank-sweep spec (``tasks/rank_sweep_paper.toml``: CXT; ``tasks/rank_sweep_2af.toml``:
2AF), RUNS_DIR the folder of its trained runs (``RUNS_DIR/rank_<r>_seed_<s>``, as
``scripts/train_sweep.py`` and ``neurogeom run`` write them), OUT a working folder. Without
``--train`` the runs are only read: a run that is missing or unfinished is reported and left out
(NaN in the result, ``measured`` False), so the script can run while training goes on and be rerun
when it is done. Each run's geometry at every checkpoint is kept in ``OUT/geometry/<run>.nc``
(keyed by the run's spec, metrics and checkpoints), so a rerun measures only new runs.

Writes ``<docs>/rank_protocol_<task>.nc`` (the trajectories, dims rank x seed x step, and
:func:`neurogeom.workflows.rank_sweep.rank_protocol` of them), ``<docs>/figures/rank_protocol_<task>_*.png``,
``OUT/timing.json`` (wall time and seconds of geometry, with the training timing of
``RUNS_DIR/timing.json`` when present) and regenerates ``<docs>/rank_protocol.md`` from every
``rank_protocol_*.nc`` in ``<docs>``. ``--lazy-rich`` also runs the stage detector on the lazy-to-rich
digits networks (a small setting of ``tasks/lazy_rich_digits.toml``) into
``<docs>/rank_protocol_lazy_rich.nc``.

Storage: the trajectories are stored as float32 except ``capacity`` (float64), and the analysis is
computed from the float32-rounded values, so recomputing it from the file gives the same numbers.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

from neurogeom.learning.stages import GLUE_MEASURES

REPO = Path(__file__).resolve().parents[1]
TASK_KEYS = {"ContextDecisionMaking-v0": "cxt", "PerceptualDecisionMaking-v0": "2af"}
GEOMETRY = GLUE_MEASURES  # the six GLUE measures
PAPER_ORDER = ("clustering", "structuring", "separating", "stabilizing")
#: The small lazy-rich setting: one MLP, three output scales, two seeds, checkpoints on the
#: paper's log schedule up to 300 steps, one-vs-rest GLUE on 20 test images per digit.
LAZY_RICH = {
    "lazy_rich": {"alphas": [1.0, 10.0, 100.0], "seeds": [0, 1]},
    "training": {"n_steps": 300},
    "analysis": {"n_points_per_manifold": 20, "n_t": 50, "dichotomies": "one_vs_rest"},
    "ood": {"corruptions": ["noise"], "severities": [5]},
    "transfer": {"n_draws": 2},
}


def say(*args) -> None:
    print(*args, flush=True)


# ---- measuring ---------------------------------------------------------------------------------


def measure(spec_path: str, runs_dir: Path, out: Path, setting: str, jobs: int, train: bool):
    from neurogeom.parallel import parallel_map
    from neurogeom.specs.train import expand_sweep
    from neurogeom.workflows.preflight import load_spec
    from neurogeom.workflows.rank_sweep import SETTINGS, _assemble, _finished, _spec_with
    from neurogeom.workflows.rank_sweep import _worker_run as worker

    spec = load_spec(spec_path)
    full = _spec_with(
        spec, **{"ranks": None, "seeds": None, "overrides": None, **SETTINGS[setting]}
    )
    runs = expand_sweep(full)
    ready, untrained = [], []
    for name, one in runs:
        why = None if train else _finished(runs_dir / name, one)
        if why is None:
            ready.append((name, one))
        elif why == "not trained":
            untrained.append(name)
        else:
            say(f"skip {name}: {why}")
    if untrained:
        say(f"skip {len(untrained)} runs not trained yet (e.g. {untrained[0]})")
    say(
        f"{len(ready)}/{len(runs)} runs to measure ({jobs} workers); geometry cached in "
        f"{out / 'geometry'}"
    )
    t0 = time.perf_counter()
    load0 = os.getloadavg()
    count = [0]

    def tell(index: int, result) -> None:
        count[0] += 1
        row, _, sec = result
        say(
            f"{count[0]}/{len(ready)} rank {row['rank']} seed {row['seed']}: "
            f"{'train' if train else 'check'} {sec['train']:.1f} s, "
            f"geometry {sec['geometry']:.1f} s"
        )

    one = functools.partial(
        worker, out_dir=str(runs_dir), train_runs=train, cache_dir=str(out / "geometry")
    )
    done = parallel_map(one, ready, n_jobs=jobs, on_result=tell) if ready else []
    ds = _assemble(full, done)
    timing = {
        "spec": str(spec_path),
        "setting": setting,
        "runs_dir": str(runs_dir),
        "n_runs": len(runs),
        "n_measured": len(done),
        "n_jobs": jobs,
        "wall_s": time.perf_counter() - t0,
        ("train_s_summed" if train else "check_s_summed"): sum(sec["train"] for _, _, sec in done),
        "geometry_s_summed": sum(sec["geometry"] for _, _, sec in done),
        # what each run's geometry took when it was computed (this call or an earlier one)
        "geometry_s_summed_all_runs": sum(float(t.attrs["geometry_s"]) for _, t, _ in done),
        "loadavg_at_start": load0,
        "loadavg_at_end": os.getloadavg(),
    }
    trained = runs_dir / "timing.json"
    if trained.is_file():
        timing["training"] = json.loads(trained.read_text())
    ds.attrs.update(
        spec=json.dumps({k: full[k] for k in ("task", "network", "training", "analysis")}),
        spec_path=str(spec_path),
        setting=setting,
        timing=json.dumps(timing),
    )
    return ds, timing


def compact(ds: xr.Dataset) -> xr.Dataset:
    """float32 for the trajectories except capacity (float64): the stored values."""
    out = ds.copy()
    for v in out.data_vars:
        if out[v].dtype == np.float64 and "step" in out[v].dims and v != "capacity":
            out[v] = out[v].astype(np.float32).astype(np.float64)
    return out


def write_nc(ds: xr.Dataset, path: Path) -> None:
    from neurogeom._files import replace_atomic

    enc = {}
    for v in ds.data_vars:
        if ds[v].dtype.kind == "f":
            keep64 = v == "capacity" or "step" not in ds[v].dims
            enc[v] = {"dtype": "f8" if keep64 else "f4"}  # contiguous: smaller than zlib chunks
        elif ds[v].dtype.kind == "b":
            enc[v] = {"dtype": "i1"}
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomic(path, lambda tmp: ds.to_netcdf(tmp, encoding=enc))


# ---- figures -----------------------------------------------------------------------------------


def figures(res: xr.Dataset, docs: Path, key: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = docs / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    ranks = [str(r) for r in res["rank"].values]
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(ranks)))
    names = []

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    x = np.log10(1 + res["step"].values)
    for i, r in enumerate(ranks):
        m = res["capacity_mean"].isel(rank=i)
        axes[0].plot(x, m, color=colors[i], label=f"rank {r}")
        axes[0].fill_between(
            x,
            res["capacity_low"].isel(rank=i),
            res["capacity_high"].isel(rank=i),
            color=colors[i],
            alpha=0.15,
        )
        for b in res["consensus_boundary_step"].isel(rank=i).values:
            if np.isfinite(b):
                axes[0].axvline(np.log10(1 + b), color=colors[i], lw=0.6, ls=":")
    axes[0].set(xlabel="log10(1 + step)", ylabel="capacity", title="capacity along training")
    axes[0].legend(fontsize=7, ncol=2)
    pos = np.arange(len(ranks))
    for j, (w, lab) in enumerate((("init", "at init"), ("change", "change"))):
        sel = res.sel(measure="capacity")
        mean = sel[f"{w}_mean"].values
        err = np.vstack([mean - sel[f"{w}_low"].values, sel[f"{w}_high"].values - mean])
        axes[1].errorbar(pos + 0.15 * (j - 0.5), mean, yerr=err, fmt="o-", capsize=3, label=lab)
    axes[1].set_xticks(pos, ranks)
    axes[1].set(xlabel="rank of W0", ylabel="capacity", title="init and change (95% interval)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    names.append(_save(fig, folder, f"rank_protocol_{key}_capacity.png"))

    fig, axes = plt.subplots(2, 3, figsize=(10, 5.5))
    for ax, m in zip(axes.ravel(), GEOMETRY, strict=True):
        sel = res.sel(measure=m)
        for w, mk in (("init", "s"), ("final", "o")):
            mean = sel[f"{w}_mean"].values
            err = np.vstack([mean - sel[f"{w}_low"].values, sel[f"{w}_high"].values - mean])
            ax.errorbar(pos, mean, yerr=err, fmt=mk + "-", capsize=2, label=w)
        ax.set_xticks(pos, ranks, fontsize=7)
        ax.set_title(m.replace("_", " "), fontsize=9)
    axes[0, 0].legend(fontsize=7)
    fig.supxlabel("rank of W0")
    fig.tight_layout()
    names.append(_save(fig, folder, f"rank_protocol_{key}_geometry.png"))

    fig, ax = plt.subplots(figsize=(4.6, 4))
    for i, r in enumerate(ranks):
        lr, ld = res["route_log_radius"].isel(rank=i), res["route_log_dimension"].isel(rank=i)
        ax.plot(lr, ld, color=colors[i], lw=1, label=f"rank {r}")
        ax.plot(lr[0], ld[0], "s", color=colors[i], ms=4)
        ax.plot(lr[-1], ld[-1], "o", color=colors[i], ms=4)
    ax.set(
        xlabel="log10 radius",
        ylabel="log10 dimension",
        title="routes (mean over seeds; square: init)",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    names.append(_save(fig, folder, f"rank_protocol_{key}_routes.png"))
    return names


def _save(fig, folder: Path, name: str) -> str:
    import matplotlib.pyplot as plt

    fig.savefig(folder / name, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return name


# ---- lazy-to-rich ------------------------------------------------------------------------------


def lazy_rich(out: Path, jobs: int) -> xr.Dataset:
    from neurogeom.learning._seed_stages import _run_stages
    from neurogeom.models.train import log_schedule
    from neurogeom.workflows.lazy_rich import lazy_rich_sweep

    setting = json.loads(json.dumps(LAZY_RICH))
    setting["training"]["checkpoint_steps"] = log_schedule(setting["training"]["n_steps"])
    cache = out / "lazy_rich.nc"
    key = json.dumps(setting, sort_keys=True)
    if cache.is_file():
        with xr.open_dataset(cache) as old:
            ds = old.load() if old.attrs.get("setting") == key else None
    else:
        ds = None
    if ds is None:
        say("lazy-rich: training the digits networks (small setting)")
        ds = lazy_rich_sweep(
            REPO / "tasks" / "lazy_rich_digits.toml", overrides=setting, n_jobs=jobs
        )
        ds.attrs["setting"] = key
        out.mkdir(parents=True, exist_ok=True)
        ds.to_netcdf(cache)
    measures = ["capacity", "radius", "dimension"]
    rows = []
    for arch in ds["architecture"].values:
        for alpha in ds["alpha"].values:
            for seed in ds["seed"].values:
                traj = ds.sel(architecture=arch, alpha=alpha, seed=seed)
                st = _run_stages(traj[[*measures, *(f"{m}_sem" for m in measures)]], measures)
                rows.append((str(arch), float(alpha), int(seed), st))
    n_seg = max(st.sizes["segment"] for *_, st in rows)
    shape = (len(ds["architecture"]), len(ds["alpha"]), len(ds["seed"]), n_seg)
    label = np.full(shape, "", dtype=object)
    start = np.full(shape, np.nan)
    for arch, alpha, seed, st in rows:
        i = list(ds["architecture"].values).index(arch)
        j = list(ds["alpha"].values).index(alpha)
        k = list(ds["seed"].values).index(seed)
        n = st.sizes["segment"]
        label[i, j, k, :n] = st["label"].values
        start[i, j, k, :n] = st["start_step"].values
    dims = ("architecture", "alpha", "seed", "segment")
    res = xr.Dataset(
        {
            "stage_label": (dims, label.astype(str)),
            "stage_start_step": (dims, start),
            "capacity": ds["capacity"],
            "weight_change": ds["weight_change"],
            "accuracy": ds["accuracy"],
        },
        attrs={
            "setting": key,
            "spec": "tasks/lazy_rich_digits.toml",
            "label_rule": str(rows[0][3].attrs["label_rule"]),
            "measures": measures,
            "noise": "GLUE's Monte-Carlo error and the successive-difference noise floor",
        },
    )
    return res


# ---- the page ----------------------------------------------------------------------------------


def _ci(res, w, r, m, digits=3):
    s = res.sel(rank=r, measure=m)
    return (
        f"{float(s[f'{w}_mean']):.{digits}f} [{float(s[f'{w}_low']):.{digits}f}, "
        f"{float(s[f'{w}_high']):.{digits}f}]"
    )


def _p(p: float) -> str:
    return "n/a" if not np.isfinite(p) else f"{p:.2g}"


def task_section(res: xr.Dataset, key: str) -> list[str]:
    from scipy import stats

    timing = json.loads(res.attrs.get("timing", "{}"))
    ranks = list(res["rank"].values)
    n_seeds = res["measured"].astype(bool).sum("seed").values
    spec = json.loads(res.attrs["spec"])
    lines = [f"## {spec['task']['name']} (`{key}`)", ""]
    lines += [
        f"`{res.attrs.get('spec_path', '')}`, setting `{res.attrs.get('setting', '')}`: "
        f"{int(res['measured'].sum())} of {res['measured'].size} runs measured "
        f"({', '.join(f'rank {r}: {n}' for r, n in zip(ranks, n_seeds, strict=True))} seeds), "
        f"{spec['training']['n_steps']} SGD steps, {res.sizes['step']} checkpoints, six GLUE "
        f"measures (n_t = {spec['analysis']['options'].get('n_t')}) at every checkpoint. "
        f"Intervals: 95% Student t over seeds; p-values: paired sign flips over seeds "
        f"(change) and seeds shuffled across ranks (rank effect). The file stores the "
        f"trajectories as float32 except `capacity` (float64), and everything below is computed "
        f"from the stored values, so it is reproduced from the file.",
        "",
    ]
    if int(res["measured"].sum()) < res["measured"].size:
        measured = res["measured"].astype(bool)
        absent = [int(s) for s in measured["seed"].values if not bool(measured.sel(seed=s).any())]
        which = f" (no run of seeds {', '.join(map(str, absent))})" if absent else ""
        lines += [
            f"**Partial result**: {res['measured'].size - int(res['measured'].sum())} runs of the "
            f"spec were not trained or not finished when this was measured{which}; every number "
            "below is over the measured seeds only. Train the rest (`scripts/train_sweep.py SPEC "
            "RUNS_DIR --seeds ...`, or this script's `--train`) and rerun `scripts/seed_protocol.py` "
            "with the same OUT: it measures only the new runs.",
            "",
        ]
    if timing:
        lines += [
            f"Geometry: {timing['geometry_s_summed_all_runs']:.0f} s summed over the runs when "
            f"each was measured, on a shared 2-core machine (the last call: {timing['wall_s']:.0f} s "
            f"wall, {timing['n_jobs']} worker{'s' if timing['n_jobs'] > 1 else ''})"
            + (
                f"; training: {timing['training']['wall_s']:.0f} s wall "
                f"({timing['training']['train_s_summed']:.0f} s summed)."
                if "training" in timing
                else "."
            ),
            "",
        ]
    for name in figures_of(key):
        lines += [f"![{name}](figures/{name})", ""]
    cap = res.sel(measure="capacity")
    lines += [
        "| rank | seeds | capacity at init | change | p (change) | final capacity |",
        "|---|---|---|---|---|---|",
    ]
    for r, n in zip(ranks, n_seeds, strict=True):
        lines.append(
            f"| {r} | {n} | {_ci(res, 'init', r, 'capacity')} | {_ci(res, 'change', r, 'capacity')}"
            f" | {_p(float(cap['change_p_value'].sel(rank=r)))} | {_ci(res, 'final', r, 'capacity')} |"
        )
    lines += ["", "Final geometry by rank (mean [95% interval] over seeds):", ""]
    lines += ["| rank | " + " | ".join(m.replace("_", " ") for m in GEOMETRY[1:]) + " |"]
    lines += ["|---" * len(GEOMETRY) + "|"]
    for r in ranks:
        lines.append(f"| {r} | " + " | ".join(_ci(res, "final", r, m) for m in GEOMETRY[1:]) + " |")
    lines += ["", "### Against the paper's claims", ""]
    x = np.array([spec["network"]["n_units"] if r == "full" else float(r) for r in ranks])
    init_m = cap["init_mean"].values
    change_m = cap["change_mean"].values
    ok = np.isfinite(init_m)
    if ok.sum() >= 3:
        rho_i = stats.spearmanr(x[ok], init_m[ok]).statistic
        rho_c = stats.spearmanr(x[ok], change_m[ok]).statistic
        lo, hi = ranks[0], ranks[-1]
        apart = float(cap["init_high"].sel(rank=lo)) < float(cap["init_low"].sel(rank=hi))
        p_init = float(res["rank_effect_init_p_value"].sel(measure="capacity"))
        lines.append(
            f"- **Low-rank initialisations start with lower capacity**: "
            f"{_verdict(rho_i > 0, apart or p_init < 0.05)}. Capacity at init is "
            f"{float(cap['init_mean'].sel(rank=lo)):.3f} at rank {lo} and "
            f"{float(cap['init_mean'].sel(rank=hi)):.3f} at rank {hi} (95% intervals "
            f"{'apart' if apart else 'overlapping'}); Spearman rho of the mean with the rank "
            f"{rho_i:+.2f}; rank effect {100 * float(res['rank_effect_init'].sel(measure='capacity')):.0f}%"
            f" of the variance, p = {_p(p_init)}."
        )
        more = float(cap["change_low"].sel(rank=lo)) > float(cap["change_high"].sel(rank=hi))
        lines.append(
            f"- **Low-rank initialisations change more**: {_verdict(rho_c < 0, more)}. Change "
            f"{float(cap['change_mean'].sel(rank=lo)):+.3f} at rank {lo} (p = "
            f"{_p(float(cap['change_p_value'].sel(rank=lo)))}), "
            f"{float(cap['change_mean'].sel(rank=hi)):+.3f} at rank {hi} (p = "
            f"{_p(float(cap['change_p_value'].sel(rank=hi)))}); 95% intervals "
            f"{'apart' if more else 'overlapping'}; Spearman rho of the mean change with the rank "
            f"{rho_c:+.2f}."
        )
    eff = {m: float(res["rank_effect_final_p_value"].sel(measure=m)) for m in GEOMETRY}
    share = {m: float(res["rank_effect_final"].sel(measure=m)) for m in GEOMETRY}
    differ = [m for m in GEOMETRY[1:] if eff[m] < 0.05]
    cap_similar = eff["capacity"] >= 0.05
    lines.append(
        f"- **Final capacity similar across ranks**: "
        f"{'holds' if cap_similar else 'does not hold'} (rank effect on final capacity: "
        f"{100 * share['capacity']:.0f}% of the variance, p = {_p(eff['capacity'])}). "
        f"**Final geometry not similar**: "
        f"{'holds' if differ else 'does not hold'}: "
        + (
            ", ".join(f"{m.replace('_', ' ')} (p = {_p(eff[m])})" for m in differ)
            if differ
            else "no geometric measure differs across ranks at p < 0.05"
        )
        + " differ across ranks at the end."
    )
    lines += ["", "### Strategy routes", ""]
    lines.append(
        "Each network's path in the (log10 radius, log10 dimension) plane "
        "(`neurogeom.learning.strategy_path`), init to end: the change of log10 contour capacity "
        "`(1 + R^-2) / D` split into its radius part and its dimension part (mean over seeds); "
        "the routes, averaged over seeds, are in the figure above."
    )
    lines += ["", "| rank | radius part | dimension part | route |", "|---|---|---|---|"]
    against = []
    for r in ranks:
        rp = float(res["radius_part"].sel(rank=r).mean())
        dp = float(res["dimension_part"].sel(rank=r).mean())
        lead = "radius" if abs(rp) > abs(dp) else "dimension"
        lines.append(f"| {r} | {rp:+.3f} | {dp:+.3f} | mostly through the {lead} |")
        if (rp + dp) * float(cap["change_mean"].sel(rank=r)) < 0:
            against.append(str(r))
    if against:
        lines += [
            "",
            f"At rank{'s' if len(against) > 1 else ''} {', '.join(against)} the contour "
            "capacity of the route moves against the GLUE capacity: the radius and dimension "
            "alone do not account for the change there (GLUE's capacity also depends on the "
            "alignments and on where the anchor points sit).",
        ]
    lines += ["", "### Learning stages per rank", ""]
    rule = json.loads(res.attrs["naming_rule"])
    basis = json.loads(res.attrs["naming_rule_basis"])
    lines.append(
        "Each network's trajectory is segmented by `neurogeom.learning.learning_stages` (six "
        "measures; the centre alignment is left out where it is constant by construction); a "
        "consensus boundary is a checkpoint where at least half of the rank's seeds have a "
        "boundary within one checkpoint (support = that fraction). Names: the rule fitted on the "
        f"even seeds, {', '.join(f'`{k}` -> {v}' for k, v in sorted(rule.items()))} (a segment's "
        "signature is the measure that moves most in it and its sign; on the even seeds the "
        "first moving segment was most often "
        + ", ".join(f"`{s}` ({c})" for s, c in basis["first_moving_signature_even_seeds"])
        + " and the last "
        + ", ".join(f"`{s}` ({c})" for s, c in basis["last_moving_signature_even_seeds"])
        + "). Read on the odd seeds it names "
        f"{100 * res.attrs['naming_agreement']:.0f}% of their "
        f"{res.attrs['naming_n_segments_read']} segments as their order does (the package's fixed "
        f"signature rule: {100 * res.attrs['naming_agreement_package_rule']:.0f}%)."
    )
    wiggle = float(res["step_change_correlation"].sel(measure="capacity"))
    lines += [
        "",
        "Caveat: the checkpoint-to-checkpoint changes of capacity correlate across networks "
        f"(r = {wiggle:.2f}, mean over pairs of runs): every run draws the same points at a "
        "checkpoint (`analysis.geometry_seed`), so the seeds share that part of the noise, and a "
        "boundary the seeds agree on can be a shared draw rather than a shared stage of learning."
        if wiggle > 0.3
        else "The checkpoint-to-checkpoint changes of capacity are nearly independent across "
        f"networks (r = {wiggle:.2f}, mean over pairs of runs), so the seeds' agreement on a "
        "boundary is not a shared draw of points.",
    ]
    lines += [
        "",
        "| rank | stages (start step: name, name support) | boundaries (step: support) |",
        "|---|---|---|",
    ]
    four = []
    for r in ranks:
        s = res.sel(rank=r)
        names = [str(v) for v in s["stage_name"].values if str(v)]
        starts = s["stage_start_step"].values[: len(names)]
        sup = s["stage_name_support"].values[: len(names)]
        bs = [
            (b, p)
            for b, p in zip(
                s["consensus_boundary_step"].values, s["consensus_support"].values, strict=True
            )
            if np.isfinite(b)
        ]
        stages = "; ".join(
            f"{int(a)}: {n} ({q:.1f})" for a, n, q in zip(starts, names, sup, strict=True)
        )
        lines.append(
            f"| {r} | {stages} | {', '.join(f'{int(b)}: {p:.1f}' for b, p in bs) or 'none'} |"
        )
        distinct = [n for k, n in enumerate(names) if k == 0 or n != names[k - 1]]
        four.append([n for n in distinct if n in PAPER_ORDER] == list(PAPER_ORDER))
    same = int(res["n_adjacent_same_name"].sum())
    reasons = []
    for r in ranks:
        s = res.sel(rank=r)
        names = [str(v) for v in s["stage_name"].values if str(v)]
        for k in range(1, len(names)):
            if names[k] == names[k - 1]:
                reasons.append(
                    f"  - rank {r}, step {int(s['stage_start_step'].values[k])} ({names[k]} on "
                    f"both sides): {s['consensus_reason'].values[k - 1]}"
                )
    lines += [
        "",
        "- **Four stages (clustering, structuring, separating, stabilizing) in order**: "
        + (
            "holds at every rank"
            if all(four)
            else f"holds at ranks {[r for r, f in zip(ranks, four, strict=True) if f]}"
            if any(four)
            else "does not hold at any rank"
        )
        + f". {same} consensus boundaries separate stages of the same name; each stands for the "
        "reason the detector gives most often for the seeds' boundaries there (the measure whose "
        "level or rate changes most across it)" + (":" if reasons else "."),
        *reasons,
        "",
    ]
    return lines


def _verdict(direction: bool, decisive: bool) -> str:
    """holds (the paper's direction, and the intervals or the test separate it); holds in the
    trend only (the direction, not separated); does not hold (the other direction)."""
    if not direction:
        return "does not hold"
    return "holds" if decisive else "holds in the trend only (not separated at 95%)"


def figures_of(key: str) -> list[str]:
    return [f"rank_protocol_{key}_{k}.png" for k in ("capacity", "geometry", "routes")]


def lazy_section(res: xr.Dataset) -> list[str]:
    lines = ["## Stages on the lazy-to-rich digits networks", ""]
    lines.append(
        "The same detector on the lazy-to-rich digits networks (`neurogeom.workflows.lazy_rich`: "
        "an MLP and a small CNN trained on scikit-learn's 8x8 digits at output scales alpha; a "
        f"small setting of `tasks/lazy_rich_digits.toml`: `{res.attrs['setting']}`): capacity, "
        "radius and dimension of the last hidden layer at every checkpoint, error bars GLUE's "
        "Monte-Carlo error and the successive-difference noise floor; segments named by the "
        "package's signature rule (`stabilizing`: no measure moves beyond noise; `changing`: "
        "something moves, but not as one of the four signatures)."
    )
    lines += [
        "",
        "| architecture | alpha | seed | weight change at the end | stages (start step: name) |",
        "|---|---|---|---|---|",
    ]
    for arch in res["architecture"].values:
        for alpha in res["alpha"].values:
            for seed in res["seed"].values:
                s = res.sel(architecture=arch, alpha=alpha, seed=seed)
                names = [str(v) for v in s["stage_label"].values if str(v)]
                st = "; ".join(
                    f"{int(a)}: {n}"
                    for a, n in zip(s["stage_start_step"].values, names, strict=False)
                )
                lines.append(
                    f"| {arch} | {alpha:g} | {int(seed)} | "
                    f"{float(s['weight_change'].isel(step=-1)):.3f} | {st} |"
                )
    lines.append("")
    for alpha in res["alpha"].values:
        seen = sorted(
            {str(v) for v in res["stage_label"].sel(alpha=alpha).values.ravel() if str(v)},
            key=lambda n: (PAPER_ORDER + ("changing",)).index(n),
        )
        lines.append(f"- alpha = {alpha:g}: {', '.join(seen) or 'no stage'}.")
    lines.append("")
    return lines


def page(docs: Path) -> Path:
    parts = [
        "# The seed paper's protocol along training: rank of W0, stages, strategies",
        "",
        "<!-- generated by scripts/seed_protocol.py from the netCDF files beside it; do not edit -->",
        "",
        "**Paper.** arXiv 2503.18114: CTRNNs of 300 ReLU units whose initial recurrent weights are "
        "SVD-truncated to rank r, 10 seeds per rank, 10,000 SGD steps, checkpoints on the paper's "
        "`get_steps` schedule, six GLUE measures one-vs-rest on decision-period states. Claims: "
        "low-rank initialisations start with lower capacity and change more; the final capacity "
        "is similar across ranks, the final geometry not; learning passes through four stages "
        "(clustering, structuring, separating, stabilizing). Every number and every verdict below "
        "is computed from `rank_protocol_<task>.nc` (its variables are documented in "
        "{func}`neurogeom.workflows.rank_sweep.rank_protocol`).",
        "",
    ]
    for path in sorted(docs.glob("rank_protocol_*.nc")):
        key = path.stem.removeprefix("rank_protocol_")
        with xr.open_dataset(path) as res:
            res = res.load()
        parts += lazy_section(res) if key == "lazy_rich" else task_section(res, key)
    target = docs / "rank_protocol.md"
    target.write_text("\n".join(parts).rstrip() + "\n", encoding="utf-8")
    return target


# ---- main --------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("runs_dir")
    ap.add_argument("out")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--setting", choices=("full", "fast"), default="full")
    ap.add_argument("--train", action="store_true", help="train missing runs (writes RUNS_DIR)")
    ap.add_argument("--lazy-rich", action="store_true")
    ap.add_argument("--docs", default=str(REPO / "docs" / "papers"))
    args = ap.parse_args()

    from neurogeom.workflows.preflight import load_spec

    name = load_spec(args.spec).get("task", {}).get("name")
    if name not in TASK_KEYS:
        sys.exit(f"error: no page key for task {name!r}; known: {sorted(TASK_KEYS)}")
    key = TASK_KEYS[name]
    out, docs = Path(args.out), Path(args.docs)
    runs_dir = Path(args.runs_dir)
    if not args.train and not runs_dir.is_dir():
        sys.exit(
            f"error: no runs folder {runs_dir}; give the folder of the trained runs "
            "(or --train to train them there)"
        )
    ds, timing = measure(args.spec, runs_dir, out, args.setting, args.jobs, args.train)
    if not timing["n_measured"]:
        sys.exit("error: no finished run to measure; train them first (scripts/train_sweep.py)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "timing.json").write_text(json.dumps(timing, indent=1))
    say(f"geometry: {timing['wall_s']:.0f} s wall, {timing['geometry_s_summed']:.0f} s summed")
    t0 = time.perf_counter()
    res = protocol_result(ds)
    say(f"analysis: {time.perf_counter() - t0:.0f} s")
    write_nc(res, docs / f"rank_protocol_{key}.nc")
    say(f"wrote {docs / f'rank_protocol_{key}.nc'}")
    for f in figures(res, docs, key):
        say(f"wrote {docs / 'figures' / f}")
    if args.lazy_rich:
        lr = lazy_rich(out, args.jobs)
        write_nc(lr, docs / "rank_protocol_lazy_rich.nc")
        say(f"wrote {docs / 'rank_protocol_lazy_rich.nc'}")
    say(f"wrote {page(docs)}")


def protocol_result(ds: xr.Dataset) -> xr.Dataset:
    """The stored result: the sweep (float32-rounded trajectories) and ``rank_protocol`` of it."""
    from neurogeom.workflows.rank_sweep import rank_protocol

    ds = compact(ds)
    prot = rank_protocol(ds)
    res = xr.merge([ds, prot], combine_attrs="drop")
    res.attrs = netcdf_attrs({**ds.attrs, **prot.attrs})
    return res


def netcdf_attrs(attrs: dict) -> dict:
    """Attrs a netCDF file holds: lists and mappings as JSON, None dropped."""
    out = {}
    for k, v in attrs.items():
        if v is None:
            continue
        if isinstance(v, list | tuple | dict):
            v = json.dumps(v)
        elif isinstance(v, bool | np.bool_):
            v = int(v)
        out[k] = v
    return out


if __name__ == "__main__":
    try:
        main()
    except (ValueError, FileNotFoundError) as err:  # bad spec or runs: one line, nothing written
        sys.exit(f"error: {err}")
