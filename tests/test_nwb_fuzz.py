"""Byte-flipping fuzz: damaged copies of a valid NWB file through read_nwb and ``neurogeom info``.

A small NWB file is written with pynwb; seeded mutants flip 1 to 32 random bits each. Every mutant
goes, in a child process (h5py can crash on damaged files), through what the command line and a
careful caller do: ``neurogeom info`` (which reads the file's structure in a grandchild first,
:func:`~neurogeom.io._nwb_open.probe_hdf5`) and, where that found no crash, :func:`read_nwb`. Each must end in a correct read (a well-formed count tensor; equal to the
original's when the flips missed every byte read) or in neurogeom's own clear error naming the
file; never in a crash, a hang or a foreign exception.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_nwb_read import make_nwb

REPO = Path(__file__).resolve().parents[1]
N_MUTANTS = int(os.environ.get("NEUROGEOM_FUZZ_MUTANTS", "30"))
SEED = 20241
READ = dict(align="cue_time", window_s=(-0.5, 1.0), bin_size_s=0.5)

#: one JSON line per mutant: what the probe, read_nwb and `neurogeom info` ended in
_WORKER = r"""
import json, sys, warnings
import numpy as np
from typer.testing import CliRunner
from neurogeom.cli import app
from neurogeom.io.nwb import read_nwb

settings = json.loads(sys.argv[1])
runner = CliRunner()
for path in sys.argv[2:]:
    row = {"path": path}
    result = runner.invoke(app, ["info", path])  # reads the file in a grandchild first
    row["info"] = [result.exit_code, result.output]
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        row["info_exception"] = type(result.exception).__name__
    crashed = "crashed the HDF5 library" in result.output
    row["probe"] = result.output if crashed else "ok"
    if not crashed:  # what probe_hdf5 found safe: read it in this process
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pop = read_nwb(path, **settings)
            values = pop.values
            row["read"] = {
                "dims": list(pop.dims), "shape": list(values.shape),
                "counts": bool(np.all(np.isfinite(values)) and np.all(values >= 0)
                               and np.all(values == np.round(values))),
                "values": values.tolist(),
            }
        except Exception as exc:
            row["error"] = [type(exc).__name__, str(exc)]
    print(json.dumps(row), flush=True)
"""


def mutants(original: Path, folder: Path, n: int, seed: int) -> list[Path]:
    rng = np.random.default_rng(seed)
    data = original.read_bytes()
    out = []
    for i in range(n):
        buf = bytearray(data)
        for _ in range(int(rng.integers(1, 33))):
            at = int(rng.integers(0, len(buf)))
            buf[at] ^= 1 << int(rng.integers(0, 8))
        path = folder / f"mutant_{i:03d}.nwb"
        path.write_bytes(bytes(buf))
        out.append(path)
    return out


def run_worker(paths: list[Path]) -> list[dict]:
    """Rows for ``paths``; a worker that dies (a crash) marks its current file and restarts."""
    rows: list[dict] = []
    todo = list(paths)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", COLUMNS="400")
    while todo:
        try:
            done = subprocess.run(
                [sys.executable, "-c", _WORKER, json.dumps(READ), *map(str, todo)],
                capture_output=True,
                text=True,
                env=env,
                timeout=300,
            )
            stdout, code = done.stdout, done.returncode
        except subprocess.TimeoutExpired as exc:
            stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
            code = "timeout"
        lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        rows += lines
        todo = todo[len(lines) :]
        if todo and code != 0:
            rows.append({"path": str(todo[0]), "crash": code})
            todo = todo[1:]
        elif todo:
            raise AssertionError(f"worker stopped early without an error: {done.stderr[-2000:]}")
    return rows


@pytest.mark.slow
def test_byte_flipped_nwb_files_end_in_a_read_or_a_clear_error(tmp_path):
    rng = np.random.default_rng(SEED)
    units = [np.sort(rng.uniform(0.0, 20.0, 80)) for _ in range(3)]
    original = make_nwb(tmp_path / "valid.nwb", units=units)
    reference = run_worker([original])[0]
    assert reference["probe"] == "ok" and "read" in reference, reference
    assert reference["info"][0] == 0, reference["info"]
    expected = np.asarray(reference["read"]["values"])
    assert expected.shape == (10, 3, 3) and expected.sum() > 0

    rows = run_worker(mutants(original, tmp_path, N_MUTANTS, SEED))
    assert len(rows) == N_MUTANTS
    outcomes = {"equal": 0, "changed": 0, "error": 0, "probe": 0}
    failures = []
    for row in rows:
        name = Path(row["path"]).name
        if "crash" in row:
            failures.append(f"{name}: the worker died ({row['crash']})")
            continue
        if row.get("info_exception"):
            failures.append(f"{name}: neurogeom info raised {row['info_exception']}")
        code, output = row["info"]
        lines = [line for line in output.strip().splitlines() if line.strip()]
        if code == 1:
            if not (len(lines) == 1 and lines[0].startswith("error:") and name in lines[0]):
                failures.append(f"{name}: neurogeom info printed {output!r}")
        elif code != 0 or "units:" not in output:
            failures.append(f"{name}: neurogeom info exited {code}: {output!r}")
        if row["probe"] != "ok":
            outcomes["probe"] += 1
            if code != 1:
                failures.append(f"{name}: info did not fail on a crashing file: {output!r}")
        elif "error" in row:
            kind, message = row["error"]
            outcomes["error"] += 1
            if kind not in ("ValueError", "FileNotFoundError") or name not in message:
                failures.append(f"{name}: read_nwb raised {kind}: {message[:300]}")
        else:
            read = row["read"]
            if read["dims"] != ["trial", "time", "unit"] or not read["counts"]:
                failures.append(f"{name}: read_nwb gave a malformed tensor {read['shape']}")
            same = read["shape"] == list(expected.shape) and np.array_equal(
                np.asarray(read["values"]), expected
            )
            outcomes["equal" if same else "changed"] += 1
    print(f"{N_MUTANTS} mutants: {outcomes}")
    assert not failures, "\n".join(failures)
    assert outcomes["error"] + outcomes["probe"] >= 3, outcomes  # the fuzz does damage files
    assert outcomes["equal"] >= 3, outcomes  # and flips in unused bytes leave the read intact
