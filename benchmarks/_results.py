"""Where benchmark figures go: ``benchmarks/results/<name>.json``, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name: str, result: dict) -> Path:
    """Write ``result`` as ``results/<name>.json`` (temporary file, then rename); print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    with tempfile.NamedTemporaryFile("w", dir=RESULTS, delete=False, suffix=".tmp") as fh:
        json.dump(result, fh, indent=1)
        fh.write("\n")
    os.chmod(fh.name, 0o644)
    os.replace(fh.name, path)
    print(json.dumps(result, indent=1))
    return path
