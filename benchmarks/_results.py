"""Where benchmark figures go: ``benchmarks/results/<name>.json``, written atomically."""

from __future__ import annotations

from pathlib import Path

from neurogeom._files import to_json, write_atomic

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name: str, result: dict) -> Path:
    """Write ``result`` as ``results/<name>.json`` (temporary file, then rename); print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = to_json(result, indent=1)
    path = write_atomic(RESULTS / f"{name}.json", text + "\n")
    print(text)
    return path
