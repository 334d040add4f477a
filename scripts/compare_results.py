"""Compare two run folders' results bitwise: every data variable and coordinate of every
``results/*.nc`` in OLD must be in NEW with the same bytes (attrs may differ).

A rename map says where a variable now lives under another name:

    python scripts/compare_results.py OLD NEW --rename mftma_capacity=capacity_mftma

prints one line per file and exits 1 if anything differs or is missing. NaN equals NaN.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import xarray as xr


def _same(a: xr.DataArray, b: xr.DataArray) -> bool:
    if a.dims != b.dims or a.shape != b.shape:
        return False
    x, y = np.asarray(a.values), np.asarray(b.values)
    if x.dtype.kind in "fc" and y.dtype.kind in "fc":
        return x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True)
    return np.array_equal(x.astype(str), y.astype(str))


def compare(old: Path, new: Path, rename: dict[str, str]) -> list[str]:
    """Problems found, one line each (empty: every variable is bitwise equal)."""
    problems = []
    for path in sorted((old / "results").glob("*.nc")):
        other = new / "results" / path.name
        if not other.exists():
            problems.append(f"{path.name}: missing in {new}")
            continue
        a, b = xr.open_dataset(path), xr.open_dataset(other)
        names = [*a.data_vars, *a.coords]
        bad = []
        for name in names:
            target = rename.get(name, name)
            if target not in b.variables:
                bad.append(f"{name} (missing)")
            elif not _same(a[name], b[target]):
                bad.append(name)
        print(f"{path.name}: {len(names) - len(bad)}/{len(names)} variables bitwise equal")
        problems += [f"{path.name}: {n}" for n in bad]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--rename", action="append", default=[], help="OLD_NAME=NEW_NAME")
    args = parser.parse_args(argv)
    rename = dict(r.split("=", 1) for r in args.rename)
    problems = compare(args.old, args.new, rename)
    for p in problems:
        print("DIFFERS:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
