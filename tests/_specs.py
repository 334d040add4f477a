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
