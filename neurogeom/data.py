"""Locate the small sample files bundled with neurogeom (``data/`` in the repository).

The sample recordings are SYNTHETIC: ``scripts/make_sample_data.py`` simulates them (see
``data/README.md`` for the generative model). They exist so that tutorials and tests run offline.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "sample_nwb", "bundled_run", "SESSIONS"]

#: the bundled sample sessions, in learning order
SESSIONS: tuple[str, ...] = ("early", "late")


def data_dir() -> Path:
    """The folder holding neurogeom's bundled data.

    ``$NEUROGEOM_DATA`` when set, else ``data/`` next to the ``neurogeom`` package (a repository
    checkout, installed with ``pip install -e .``).

    Returns
    -------
    pathlib.Path
        The data folder (it may not exist outside a checkout).

    See Also
    --------
    sample_nwb : A bundled NWB session.
    bundled_run : A bundled training run.

    Examples
    --------
    >>> data_dir().name
    'data'
    """
    env = os.environ.get("NEUROGEOM_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / "data"


def sample_nwb(session: str = "late") -> Path:
    """Path of a bundled synthetic NWB session.

    Parameters
    ----------
    session : {"early", "late"}, default="late"
        Early or late in learning; the late session has better-separated choice manifolds.

    Returns
    -------
    pathlib.Path
        ``data/sample_<session>.nwb``: 100 units, 400 trials of a context-dependent decision task,
        trial labels ``context``, ``motion_coherence``, ``color_coherence``, ``choice``,
        ``correct``; align to ``stimulus_on_time``.

    See Also
    --------
    neurogeom.read_nwb : Read the session into a population tensor.
    data_dir : The folder it lies in.

    Examples
    --------
    >>> from neurogeom.data import sample_nwb
    >>> sample_nwb("early").name
    'sample_early.nwb'
    """
    if session not in SESSIONS:
        raise ValueError(f"unknown sample session {session!r}; choose one of {SESSIONS}.")
    path = data_dir() / f"sample_{session}.nwb"
    if not path.exists():
        raise FileNotFoundError(
            f"bundled sample {str(path)!r} is missing. Install neurogeom from a repository "
            "checkout (pip install -e .) or regenerate it: python scripts/make_sample_data.py."
        )
    return path


def bundled_run(name: str = "context_dm") -> Path:
    """Folder of a bundled training run (checkpoints, ``metrics.csv``, ``spec.json``).

    Parameters
    ----------
    name : {"context_dm"}, default="context_dm"
        ``context_dm``: a 128-unit CTRNN trained on neurogym's ContextDecisionMaking-v0 by
        ``neurogeom train tasks/context_dm.toml`` (see ``data/README.md``).

    Returns
    -------
    pathlib.Path
        ``data/<name>_checkpoints``, readable by :func:`neurogeom.models.simulate.simulate`.

    See Also
    --------
    data_dir : The folder it lies in.
    sample_nwb : A bundled NWB session.

    Examples
    --------
    >>> run = bundled_run()
    >>> run.name, (run / "spec.json").is_file()
    ('context_dm_checkpoints', True)
    """
    runs = ("context_dm",)
    if name not in runs:
        raise ValueError(f"unknown bundled run {name!r}; choose one of {runs}.")
    path = data_dir() / f"{name}_checkpoints"
    if not (path / "checkpoints").is_dir():
        raise FileNotFoundError(
            f"bundled run {str(path)!r} is missing. Install neurogeom from a repository checkout "
            f"(pip install -e .) or retrain it: neurogeom train tasks/{name}.toml -o {path}."
        )
    return path
