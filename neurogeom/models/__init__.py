"""Task-trained recurrent networks: architectures, training with checkpoints, simulation.

Names are imported on first use, so ``import neurogeom`` stays light (torch loads only when a model
is built, trained or run). :func:`~neurogeom.models.train.train` and
:func:`~neurogeom.models.simulate.simulate` share their names with their modules, so they are
imported from those: ``from neurogeom.models.train import train``.
"""

from __future__ import annotations

from neurogeom._lazy import lazy_exports

# public name -> submodule that defines it (imported on first use)
_EXPORTS: dict[str, str] = {
    "CTRNN": "rnn",
    "GRUNet": "rnn",
    "build_network": "rnn",
    "truncate_rank": "rnn",
    "TrainResult": "train",
    "log_schedule": "train",
    "predict_choices": "train",
    "load_run_network": "train",
    "run_spec": "train",
    "load_checkpoint": "checkpoints",
    "list_checkpoints": "checkpoints",
    "analysis_bank": "simulate",
    "bank_choices": "simulate",
    "MLP": "feedforward",
    "SmallCNN": "feedforward",
    "train_classifier": "feedforward",
    "weight_change": "feedforward",
    "load_digits_split": "images",
    "corrupt": "images",
    "linear_probe": "images",
    "gaussian_mixture": "bayesian",
    "digits": "bayesian",
    "PosteriorSamples": "bayesian",
    "sample_posterior": "bayesian",
    "kernel_predictor": "bayesian",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
