"""A study: population tensors keyed by subject and session, as an :class:`xarray.DataTree`.

Recordings across learning are rarely one set of neurons seen at every stage: each session of an
animal has its own units and its own trials, and a study has several animals (or, for models,
several networks, each with its checkpoints). A study keeps every session's tensor as it is:

``/<subject>/<session>``
    one node per session, a Dataset holding the tensor under one variable (``"pop"`` by
    default; :data:`neurogeom.population.STUDY_VARIABLE`), with the session metadata as node
    attrs: ``subject``, ``session``, ``order`` (0, 1, ... along learning), and where known
    ``day``, ``date``, ``performance``, ``phase``.
``/<subject>``
    one node per subject; its attrs hold the subject metadata (``species``, ``area``,
    ``source``). Nodes of different sizes never need aligning: no coordinate is shared above a
    session node.

:func:`study` builds one from a mapping of tensors (a tensor with a ``stage`` dim gives one
session per stage: checkpoints of a network, or sessions that share units), or from a folder of
NWB files in the DANDI layout (``sub-<id>/sub-<id>_ses-<id>*.nwb``) or any glob pattern, every
file read with the same settings. A study built from files opens each file only when its node is
first needed (:func:`neurogeom.population.node_tensor`). :func:`save_study` and
:func:`load_study` write and read it (netCDF or zarr through DataTree). The analyses are in
:mod:`neurogeom.learning.study`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurogeom.population import (
    STUDY_VARIABLE,
    node_tensor,
    register_node_reader,
    validate,
)

__all__ = [
    "DANDI_PATTERN",
    "SESSION_ATTRS",
    "SUBJECT_ATTRS",
    "load_study",
    "save_study",
    "session_nodes",
    "study",
]

DANDI_PATTERN = "sub-*/sub-*_ses-*.nwb"
SUBJECT_ATTRS = ("species", "area", "source")
SESSION_ATTRS = ("order", "date", "day", "fraction", "performance", "phase")
_NAME = re.compile(r"sub-(?P<subject>[^_/\\]+)_ses-(?P<session>[^_./\\]+)")


def _plain(value: Any) -> Any:
    """A value netCDF attrs can hold (numbers, strings, lists of them)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in np.asarray(value).tolist()]
    if value is None:
        return "none"
    return value if isinstance(value, (int, float, str)) else str(value)


def _split_stages(pop: xr.DataArray) -> dict[str, tuple[xr.DataArray, dict[str, Any]]]:
    """One session per stage of a tensor with a ``stage`` dim (label -> phase, step -> day)."""
    out = {}
    for i in range(pop.sizes["stage"]):
        one = pop.isel(stage=i)
        meta: dict[str, Any] = {}
        for name, coord in pop.coords.items():
            if coord.dims == ("stage",) and name != "stage":
                meta["phase" if name == "label" else str(name)] = _plain(coord.values[i])
        label = meta.get("phase", _plain(pop["stage"].values[i]))
        one = one.drop_vars([c for c in one.coords if c not in one.dims and not one[c].dims])
        out[str(label)] = (one, meta)
    return out


def _sessions_of(value: Any) -> dict[str, tuple[Any, dict[str, Any]]]:
    if isinstance(value, xr.DataArray):
        if "stage" in value.dims:
            return _split_stages(value)
        raise ValueError(
            "a subject's entry is one tensor without a 'stage' dim; give its sessions as a "
            "mapping {session: tensor}, or a tensor with a 'stage' dim (one session per stage)."
        )
    if not isinstance(value, Mapping):
        raise TypeError(
            f"a subject's sessions are a mapping {{session: tensor}}; got {type(value).__name__}."
        )
    return {str(k): (v, {}) for k, v in value.items()}


def _session_node(
    pop: Any, subject: str, session: str, order: int, meta: Mapping[str, Any], variable: str
) -> xr.Dataset:
    attrs = {"subject": subject, "session": session, "order": int(order)}
    if isinstance(pop, xr.DataArray):
        validate(pop)
        for key in SESSION_ATTRS:
            if key in pop.attrs and key not in attrs:
                attrs[key] = _plain(pop.attrs[key])
        attrs.update({k: _plain(v) for k, v in meta.items()})
        attrs["order"] = int(meta.get("order", order))
        ds = pop.to_dataset(name=variable)
        return ds.assign_attrs(attrs)
    if isinstance(pop, (str, os.PathLike)):
        attrs.update({k: _plain(v) for k, v in meta.items()})
        attrs["order"] = int(meta.get("order", order))
        return xr.Dataset(attrs={**attrs, "reader": "nwb", "path": str(pop)})
    raise TypeError(
        f"session {subject}/{session}: expected a population tensor (xarray.DataArray) or an "
        f"NWB file path; got {type(pop).__name__}."
    )


def _subject_attrs(sessions: list[Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for pop in sessions:
        if isinstance(pop, xr.DataArray):
            for key in SUBJECT_ATTRS:
                if key in pop.attrs and key not in attrs:
                    attrs[key] = _plain(pop.attrs[key])
    return attrs


def _check_name(kind: str, name: str) -> str:
    if not name or "/" in name:
        raise ValueError(f"{kind} name {name!r} must be a non-empty string without '/'.")
    return name


def study(
    source: Mapping[Any, Any] | str | os.PathLike,
    *,
    pattern: str | None = None,
    variable: str = STUDY_VARIABLE,
    subject_attrs: Mapping[str, Mapping[str, Any]] | None = None,
    session_attrs: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    **read_options: Any,
) -> xr.DataTree:
    """A study (subjects x sessions) as an :class:`xarray.DataTree` of population tensors.

    Parameters
    ----------
    source : mapping or path
        ``{subject: {session: tensor}}`` (each tensor (``trial``, [``time``], ``unit``), its own
        units and trials; a value may also be an NWB file path, read on first use), or
        ``{subject: tensor}`` with a ``stage`` dim (one session per stage: checkpoints of a
        network, sessions sharing their units), or ``{(subject, session): tensor}``; or a folder
        of NWB files, matched by ``pattern``. Sessions keep the mapping's order unless their
        metadata gives ``order``.
    pattern : str, optional
        With a folder: a glob relative to it (default ``"sub-*/sub-*_ses-*.nwb"``, the DANDI
        layout). The subject and session are read from each file name's
        ``sub-<subject>_ses-<session>``; sessions are ordered by name, the numbers in names
        compared as numbers (``ses-2`` before ``ses-10``).
    variable : str, default="pop"
        The name each session's tensor is stored under.
    subject_attrs : mapping, optional
        ``{subject: {"species": ..., "area": ...}}``: subject metadata (default: the
        ``species``, ``area`` and ``source`` attrs of its tensors).
    session_attrs : mapping, optional
        ``{(subject, session): {"day": 3, "performance": 0.7, "phase": "early"}}``: session
        metadata (``order``, ``date``, ``day``, ``fraction``, ``performance``, ``phase``, or
        any other), kept as node attrs.
    **read_options
        With files: the settings of :func:`neurogeom.read_nwb` (``align``, ``window_s``,
        ``bin_size_s``, ...), the same for every file.

    Returns
    -------
    xarray.DataTree
        Nodes ``/<subject>/<session>``: each a Dataset with the tensor under ``variable`` (empty
        until first use for a file) and the session metadata as attrs (``subject``,
        ``session``, ``order``, ...). Subject nodes hold the subject metadata as attrs. Root
        attrs: ``variable``, ``n_subjects``.

    Raises
    ------
    ValueError
        A pattern that matches no file, two files naming the same subject and session, a file
        name without ``sub-<id>_ses-<id>``, an empty mapping, a subject without sessions.

    See Also
    --------
    neurogeom.studies.session_nodes : the session nodes in learning order.
    neurogeom.learning.study_trajectory : a measure along each subject's sessions.
    save_study, load_study : netCDF / zarr.

    Examples
    --------
    >>> import numpy as np
    >>> import neurogeom as ng
    >>> rng = np.random.default_rng(0)
    >>> def session(n_trials, n_units):
    ...     return ng.from_array(rng.normal(size=(n_trials, n_units)), ("trial", "unit"),
    ...                          trial_coords={"choice": np.arange(n_trials) % 2})
    >>> tree = ng.study({"m1": {"d1": session(20, 30), "d2": session(24, 25)},
    ...                  "m2": {"d1": session(18, 40)}})
    >>> [n.path for n in session_nodes(tree)]
    ['/m1/d1', '/m1/d2', '/m2/d1']
    >>> tree["m1/d2"].attrs["order"], dict(tree["m1/d2"]["pop"].sizes)
    (1, {'trial': 24, 'unit': 25})
    """
    if isinstance(source, (str, os.PathLike)):
        return _from_folder(Path(source), pattern or DANDI_PATTERN, variable, read_options)
    if read_options:
        raise TypeError(
            f"read options {sorted(read_options)} apply to files; the sessions given are tensors."
        )
    if not isinstance(source, Mapping) or not source:
        raise ValueError(
            "study() needs a non-empty mapping {subject: {session: tensor}} or a folder of NWB "
            "files."
        )
    nested: dict[str, dict[str, tuple[Any, dict[str, Any]]]] = {}
    for key, value in source.items():
        if isinstance(key, tuple):
            subject, session = (str(k) for k in key)
            nested.setdefault(subject, {})[session] = (value, {})
        else:
            nested.setdefault(str(key), {}).update(_sessions_of(value))
    return _build(nested, variable, subject_attrs or {}, session_attrs or {})


def _build(
    nested: Mapping[str, Mapping[str, tuple[Any, dict[str, Any]]]],
    variable: str,
    subject_attrs: Mapping[str, Mapping[str, Any]],
    session_attrs: Mapping[tuple[str, str], Mapping[str, Any]],
) -> xr.DataTree:
    nodes: dict[str, xr.Dataset] = {}
    for subject, sessions in nested.items():
        _check_name("subject", subject)
        if not sessions:
            raise ValueError(f"subject {subject!r} has no sessions.")
        pops = [pop for pop, _ in sessions.values()]
        attrs = {**_subject_attrs(pops), "subject": subject}
        attrs.update({k: _plain(v) for k, v in subject_attrs.get(subject, {}).items()})
        nodes[f"/{subject}"] = xr.Dataset(attrs=attrs)
        for order, (session, (pop, meta)) in enumerate(sessions.items()):
            _check_name("session", session)
            meta = {**meta, **session_attrs.get((subject, session), {})}
            nodes[f"/{subject}/{session}"] = _session_node(
                pop, subject, session, order, meta, variable
            )
    unknown = [k for k in session_attrs if f"/{k[0]}/{k[1]}" not in nodes]
    if unknown:
        raise ValueError(f"session_attrs names sessions the study lacks: {unknown[:5]}.")
    nodes["/"] = xr.Dataset(attrs={"variable": variable, "n_subjects": len(nested)})
    return xr.DataTree.from_dict(nodes)


def _from_folder(
    folder: Path, pattern: str, variable: str, read_options: Mapping[str, Any]
) -> xr.DataTree:
    if not folder.is_dir():
        raise ValueError(f"study folder {str(folder)!r} does not exist or is not a folder.")
    files = sorted(p for p in folder.glob(pattern) if p.is_file())
    if not files:
        raise ValueError(
            f"no file in {str(folder)!r} matches {pattern!r}; DANDI layouts name files "
            "sub-<id>/sub-<id>_ses-<id>*.nwb (give pattern=... for another layout)."
        )
    nested: dict[str, dict[str, tuple[Any, dict[str, Any]]]] = {}
    claimed: dict[tuple[str, str], Path] = {}
    for path in files:
        match = _NAME.search(path.name)
        if match is None:
            raise ValueError(
                f"{path.name!r} matches {pattern!r} but does not name its subject and session "
                "as sub-<id>_ses-<id>; rename it or narrow the pattern."
            )
        key = (match["subject"], match["session"])
        if key in claimed:
            raise ValueError(
                f"two files claim subject {key[0]!r} session {key[1]!r}: {claimed[key].name!r} "
                f"and {path.name!r}; keep one, or narrow the pattern."
            )
        claimed[key] = path
    for subject, session in sorted(claimed, key=lambda k: (_natural(k[0]), _natural(k[1]))):
        nested.setdefault(subject, {})[session] = (str(claimed[subject, session]), {})
    tree = _build(nested, variable, {}, {})
    options = json.dumps(_plain_options(read_options))
    for node in session_nodes(tree):
        node.attrs["read_options"] = options
    tree.attrs.update(folder=str(folder), pattern=pattern)
    return tree


def _natural(name: str) -> tuple:
    """Sort key comparing the digits in a name as numbers (``ses-2`` before ``ses-10``)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name))


def _plain_options(options: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in options.items():
        if callable(value):
            raise TypeError(
                f"read option {key!r} is a function; a study read from files takes options that "
                "can be recorded (a dict or a query string)."
            )
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def _read_node(attrs: Mapping[str, Any]) -> xr.DataArray:
    from neurogeom.io.nwb import read_nwb

    options = json.loads(attrs.get("read_options", "{}"))
    for key in ("window_s",):
        if isinstance(options.get(key), list):
            options[key] = tuple(options[key])
    return read_nwb(attrs["path"], **options)


register_node_reader("nwb", _read_node)


def session_nodes(tree: xr.DataTree, subject: str | None = None) -> Iterator[xr.DataTree]:
    """The session nodes of a study, subject by subject, each subject's in learning order.

    Parameters
    ----------
    tree : xarray.DataTree
        A study (:func:`study`).
    subject : str, optional
        Only this subject's sessions.

    Yields
    ------
    xarray.DataTree
        Session nodes (``/<subject>/<session>``), ordered by their ``order`` attr.

    See Also
    --------
    study : Build a study.
    neurogeom.population.node_tensor : A session node's tensor.

    Examples
    --------
    >>> from neurogeom.synthetic import synthetic_study
    >>> tree = synthetic_study(n_subjects=2, n_sessions=2, n_units=5, n_trials=4,
    ...                        latent_dim=3, seed=0)
    >>> [node.path for node in session_nodes(tree, "sub-1")]
    ['/sub-1/ses-0', '/sub-1/ses-1']
    """
    subjects = [tree[subject]] if subject is not None else list(tree.children.values())
    for node in subjects:
        yield from sorted(node.children.values(), key=lambda n: n.attrs.get("order", 0))


def _loaded(tree: xr.DataTree, variable: str) -> xr.DataTree:
    for node in session_nodes(tree):
        node_tensor(node, variable)
    return tree


def save_study(tree: xr.DataTree, path: str | os.PathLike) -> Path:
    """Write a study to netCDF (``.nc``, engine h5netcdf) or zarr (``.zarr``).

    Every session is read first (a study from files is saved with its data). Each tensor's
    ``valid`` mask is dropped (it is recomputed from the data on load).

    Parameters
    ----------
    tree : xarray.DataTree
        A study.
    path : path
        Ends in ``.nc`` or ``.zarr``.

    Returns
    -------
    pathlib.Path
        The path written.

    See Also
    --------
    load_study : Read it back.
    study : Build a study.

    Examples
    --------
    >>> from neurogeom.synthetic import synthetic_study
    >>> tree = synthetic_study(n_subjects=2, n_sessions=2, n_units=5, n_trials=4,
    ...                        latent_dim=3, seed=0)
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> save_study(tree, f"{tmp.name}/study.nc").name
    'study.nc'
    >>> tmp.cleanup()
    """
    path = Path(path)
    variable = tree.attrs.get("variable", STUDY_VARIABLE)
    if path.suffix not in (".nc", ".zarr"):
        raise ValueError(f"save a study as .nc or .zarr; got {path.name!r}.")
    _loaded(tree, variable)
    out = tree.copy()
    for node in session_nodes(out):
        ds = node.to_dataset(inherit=False)
        ds = ds.drop_vars("valid", errors="ignore")
        for name in list(ds.coords):
            if ds[name].dtype == object:
                ds[name] = ds[name].astype(str)
        node.dataset = ds
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".nc":
        out.to_netcdf(tmp, engine="h5netcdf")
    else:
        out.to_zarr(tmp, mode="w")
    os.replace(tmp, path)
    return path


def load_study(path: str | os.PathLike) -> xr.DataTree:
    """Read a study written by :func:`save_study` (netCDF or zarr), into memory.

    Parameters
    ----------
    path : path
        A ``.nc`` file or ``.zarr`` folder.

    Returns
    -------
    xarray.DataTree
        The study, each tensor with its ``valid`` mask recomputed.

    See Also
    --------
    save_study : Write a study.
    neurogeom.studies.session_nodes : Its sessions in learning order.

    Examples
    --------
    >>> from neurogeom.synthetic import synthetic_study
    >>> tree = synthetic_study(n_subjects=2, n_sessions=2, n_units=5, n_trials=4,
    ...                        latent_dim=3, seed=0)
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> back = load_study(save_study(tree, f"{tmp.name}/study.zarr"))
    >>> [node.path for node in session_nodes(back)]
    ['/sub-0/ses-0', '/sub-0/ses-1', '/sub-1/ses-0', '/sub-1/ses-1']
    >>> tmp.cleanup()
    """
    from neurogeom.population import with_valid_mask

    path = Path(path)
    if not path.exists():
        raise ValueError(f"no study at {str(path)!r}.")
    if path.suffix == ".zarr":
        tree = xr.open_datatree(path, engine="zarr").load()
    else:
        tree = xr.open_datatree(path, engine="h5netcdf").load()
    variable = tree.attrs.get("variable", STUDY_VARIABLE)
    for node in session_nodes(tree):
        ds = node.to_dataset(inherit=False)
        if variable in ds:
            pop = with_valid_mask(ds[variable])
            node.dataset = pop.to_dataset(name=variable).assign_attrs(ds.attrs)
    return tree
