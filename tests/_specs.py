"""Training specs shared by the tests."""

from __future__ import annotations

# A training spec small enough to train in about a second (32 units, 40 steps).
TINY_SPEC = {
    "task": {"name": "ContextDecisionMaking-v0", "kwargs": {"use_expl_context": True}},
    "network": {"n_units": 32, "init": "identity", "g": 0.1},
    "training": {
        "n_steps": 40,
        "batch_size": 32,
        "lr": 0.003,
        "n_train_trials": 256,
        "n_test_trials": 100,
        "eval_every": 10,
        "seed": 4,
    },
    "checkpoints": {"save_every": 7},
}


def spec_toml(spec: dict) -> str:
    """A spec dict as TOML text (tables of plain values and one level of sub-tables)."""

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    lines: list[str] = []
    for section, table in spec.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {value(v)}" for k, v in table.items() if not isinstance(v, dict)]
        for key, sub in table.items():
            if isinstance(sub, dict):
                lines.append(f"[{section}.{key}]")
                lines += [f"{k} = {value(v)}" for k, v in sub.items()]
    return "\n".join(lines) + "\n"
