"""Write the demo's extra network seeds: data/context_dm_seed1/ and data/context_dm_seed2/.

Trains tasks/context_dm.toml (the recipe of data/context_dm_checkpoints, seed 0) with
``[training] seed`` 1 and 2, at the same step count, and keeps of each run only what the demo
reads: ``spec.json``, ``metrics.csv`` and the network weights of the checkpoints at
:data:`DEMO_STEPS` (the optimiser and RNG state are dropped, so these folders are read, not
resumed). About 15 s of CPU per seed.

Run from the repository root:  python scripts/make_demo_networks.py
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

#: The checkpoints the demo reads (tasks/demo.toml, [models.*] steps).
DEMO_STEPS = (0, 2, 5, 10, 16, 26, 42, 85, 170, 400)
SEEDS = (1, 2)


def keep_weights(src: Path, dst: Path) -> None:
    """Copy a checkpoint with its network weights and step only."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(src), framework="np") as f:
        meta = json.loads(f.metadata()["neurogeom"])
        tensors = {k: f.get_tensor(k) for k in f.keys() if k.startswith("model.")}
    keep = {k: meta[k] for k in ("step", "n_input", "n_output", "dt_ms") if k in meta}
    save_file(tensors, str(dst), metadata={"neurogeom": json.dumps(keep)})


def main(root: Path | None = None) -> list[Path]:
    from neurogeom.models.train import train
    from neurogeom.workflows.preflight import load_spec

    root = root or Path(__file__).resolve().parents[1]
    recipe = (root / "tasks" / "context_dm.toml").read_text(encoding="utf-8")
    out = []
    for seed in SEEDS:
        with tempfile.TemporaryDirectory() as tmp:
            text, n = re.subn(r"(?m)^seed = 0$", f"seed = {seed}", recipe, count=1)
            assert n == 1, "tasks/context_dm.toml has no [training] seed = 0 line"
            spec_path = Path(tmp) / "context_dm.toml"
            spec_path.write_text(text, encoding="utf-8")
            run = Path(tmp) / "run"
            train(load_spec(spec_path), run)
            dest = root / "data" / f"context_dm_seed{seed}"
            shutil.rmtree(dest, ignore_errors=True)
            (dest / "checkpoints").mkdir(parents=True)
            for name in ("spec.json", "metrics.csv"):
                shutil.copy(run / name, dest / name)
            for step in DEMO_STEPS:
                name = f"step_{step:07d}.safetensors"
                keep_weights(run / "checkpoints" / name, dest / "checkpoints" / name)
            out.append(dest)
    return out


if __name__ == "__main__":
    for p in main():
        size = sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        print(f"wrote {p} ({size / 1e3:.0f} kB)")
