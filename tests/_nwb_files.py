"""NWB files written for tests and benchmarks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np


def many_units_nwb(path: Path, n_units: int = 100, n_spikes: int = 10000, seed: int = 0) -> Path:
    """An NWB file of ``n_units`` units (``n_spikes`` uniform spikes each over 200 s) and 50
    trials 4 s apart (3 s long, ``side`` alternating), written with pynwb.

    The spike times are one uncompressed ``spike_times`` dataset, as pynwb writes it.
    """
    from hdmf.common import VectorData, VectorIndex
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.misc import Units

    rng = np.random.default_rng(seed)
    nwb = NWBFile(
        session_description="many units",
        identifier=path.stem,
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    nwb.add_trial_column(name="side", description="left/right")
    for i in range(50):
        nwb.add_trial(start_time=4.0 * i, stop_time=4.0 * i + 3.0, side="lr"[i % 2])
    trains = np.sort(rng.uniform(0.0, 200.0, (n_units, n_spikes)), axis=1)
    times = VectorData(name="spike_times", description="spike times (s)", data=trains.ravel())
    index = VectorIndex(
        name="spike_times_index", data=n_spikes * np.arange(1, n_units + 1), target=times
    )
    nwb.units = Units(name="units", columns=[times, index], id=np.arange(n_units))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path
