"""The glossary: every public parameter name of neurogeom, its meaning, unit and default.

One name and one default per idea across the public API; where a name's default differs between
functions, the entry says why (``default=VARIES`` with ``why``, or ``exceptions`` naming the
functions that differ). The test suite checks every parameter of every public function against
this table (``tests/test_glossary.py``), and ``docs/glossary.md`` is rendered from it by
:func:`glossary_markdown`.

Conventions the table encodes:

* ``by`` (the label argument) comes first after the data argument everywhere.
* ``n_boot`` counts resampling replicates for an interval, ``n_perm`` permutations (shuffles, sign
  flips, orderings) for a null and its p-value; 0 turns either off. ``n_reps`` (MFTMA) counts
  solver restarts and is a different idea.
* ``progress`` is a callable ``progress(phase, done, total)``; only the command line has a
  ``--progress`` flag.
* p-values in results are named ``p_value``, or ``<quantity>_p_value`` beside ``<quantity>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = [
    "DEPRECATED",
    "GLOSSARY",
    "KNOWN_SYNONYMS",
    "REQUIRED",
    "VARIES",
    "Term",
    "glossary_markdown",
]


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: The parameter has no default.
REQUIRED: Any = _Marker("REQUIRED")
#: The default differs between functions, for the reason in ``Term.why``.
VARIES: Any = _Marker("VARIES")


class Term(NamedTuple):
    """One parameter name: what it means, its unit, its default (and why it differs, if so)."""

    meaning: str
    unit: str
    default: Any
    why: str = ""
    #: function name -> its default, where it differs from ``default`` (the reason in ``why``)
    exceptions: Mapping[str, Any] = {}


#: Old argument names, accepted with a FutureWarning until 0.3.0: function -> {old: new}.
DEPRECATED: dict[str, dict[str, str]] = {
    "reading": {"result": "ds"},
    "trajectory_table": {"traj": "trajectory"},
    "trajectory_reading": {"traj": "trajectory"},
    "trajectory": {"n_null": "n_perm"},
    "match_conditions": {"on": "by"},
    "NgAccessor.measure": {"name": "measure"},
}

#: Names that still share one meaning, each group to become one name (with a deprecated alias).
KNOWN_SYNONYMS: tuple[tuple[str, ...], ...] = (("n", "n_threads"),)

# fmt: off
GLOSSARY: dict[str, Term] = {
    'a': Term('first population tensor of a comparison', 'tensor', REQUIRED),
    'across_stages': Term('use one count for every stage', 'bool', True),
    'activation': Term('nonlinearity of a network layer', 'name', VARIES, 'varies with the network family: relu for feedforward nets, erf/sigmoid where the paper under reproduction used them'),
    'activations': Term('nonlinearities swept over', 'names', ('linear', 'erf', 'relu')),
    'active_threshold': Term('fraction of maximal response above which a unit counts as active', 'fraction', 0.2),
    'align': Term('event column trials are aligned to', 'name', None),
    'alignment': Term('how the alignment of manifold centres and axes is measured', 'name', 'cosine'),
    'allowed': Term('keys a spec section accepts', 'names', REQUIRED),
    'alpha': Term("lazy-to-rich scale of a network's output", '1', VARIES, 'optional (None: no rescaling) where a network is built from a spec, 1.0 otherwise'),
    'analysis': Term("a spec's analysis section", 'mapping', REQUIRED),
    'anchor_center': Term('which point of a manifold anchors its centre', 'name', 'active'),
    'area': Term('brain area recorded', 'text', None),
    'attrs': Term('extra attributes of the result', 'mapping', None),
    'axis': Term('array axis or plotting axis the function works along', 'index or name', VARIES, 'an array axis (0) in statistics, the plotting axis ("position") in figures'),
    'b': Term('second population tensor of a comparison', 'tensor', REQUIRED),
    'backend': Term('computation or parallel backend', 'name', VARIES, 'the array library ("numpy") for the estimators, None (chosen from the other arguments) for parallel_map'),
    'bank': Term('a trial bank the network is run on', 'TrialBank', VARIES, "required where it is the input, optional (the spec's own) otherwise"),
    'baseline': Term('the response level coding is measured against', 'name', 'zero'),
    'batch_size': Term('examples per optimisation step', 'count', VARIES, "None (full batch) in train_classifier, 128 in the spec's training"),
    'bias': Term('whether a learned or fitted bias term is used', 'bool', VARIES, "each model's convention: no bias in the capacity estimator and the tutorial nets, a bias in the spec-built readouts"),
    'bin_size_s': Term('width of one time bin', 's', None),
    'brain': Term('the recorded population tensor', 'tensor', REQUIRED),
    'by': Term('trial label(s) whose values define the manifolds or conditions; the label argument, first after the data', 'label names', VARIES, 'required where manifolds are built; optional (None: no grouping) in average; "ground_truth" in bank_choices, the trial bank\'s own label'),
    'C': Term('inverse regularisation strength of the decoder', '1', 1.0),
    'c': Term('regularisation constant of the linear probe', '1', 1.0),
    'canonical_signs': Term('fix the sign of each fitted axis', 'bool', True),
    'center': Term('subtract the mean before measuring', 'bool', VARIES, "each estimator's published convention (GLUE and MFTMA centre, CKA variants and distances differ); required or None where it is taken from a spec"),
    'cfg': Term('a checked spec section', 'mapping', REQUIRED),
    'channels': Term('channels of each convolution layer', 'counts', (8, 16)),
    'checkpoint_steps': Term('training steps at which to keep a checkpoint', 'steps', None),
    'checkpoints': Term('saved checkpoints of a run', 'list', REQUIRED),
    'chunk_size': Term('points evaluated per batch', 'count', None),
    'citation': Term('reference of a measure', 'text', REQUIRED),
    'classes': Term('class labels kept', 'labels', VARIES, 'the three digit classes of the bundled task in digits, all classes (None) elsewhere'),
    'classifier': Term('a trained classifier to analyse', 'callable', VARIES, 'required where it is analysed, optional (fitted here) where it can be fitted'),
    'clip_to_trial': Term('drop spikes outside each trial', 'bool', False),
    'cluster_distance': Term('distance below which response clusters merge', '1', 0.1),
    'compare': Term("a run spec's compare section or its results", 'mapping', VARIES, 'required in the report that draws it, optional elsewhere'),
    'conditions': Term('trial conditions to analyse', 'mapping', VARIES, 'required where conditions are read, optional (all) in a spec'),
    'confidence': Term('coverage of intervals', 'fraction', 0.95),
    'condition_names': Term('names of condition values, per label (from a spec\'s mapping)', 'mapping', None),
    'config': Term('a network configuration', 'NetworkConfig', REQUIRED),
    'coord': Term('coordinate that orders the stages', 'name', None),
    'dale': Term("excitatory and inhibitory units obey Dale's law", 'bool', False),
    'data': Term('the data array', 'array', REQUIRED),
    'decision_period': Term('the task period in which the choice is read', 'name', REQUIRED),
    'describe': Term('an item in words, for error messages', 'callable', None),
    'device': Term('torch device', 'name', 'auto'),
    'dichotomies': Term('which dichotomies of the manifolds are used', 'name', 'nontrivial'),
    'dim': Term('the dim the function works along', 'dim name', 'trial'),
    'dimension': Term('manifold dimension, or the name of its variable', '1', VARIES, 'a value where it is given, a variable name where it is looked up'),
    'dims': Term('dim names of an array', 'names', REQUIRED),
    'direction': Term("which way a measure's values go for more similar", 'name', REQUIRED),
    'done': Term('whether training reached its end', 'bool', REQUIRED),
    'dpi': Term('figure resolution', 'dots per inch', 150),
    'draw': Term('index of the pseudo-population draw', 'index', 0),
    'ds': Term('a result Dataset', 'Dataset', REQUIRED),
    'dt_ms': Term('integration time step', 'ms', VARIES, "100.0 for the networks; required in the trial bank, which takes the task's own step"),
    'dtype': Term('floating-point type of the computation', 'dtype', VARIES, "the array library's own float64 type (numpy or torch)"),
    'early_stop': Term('stop training at the target accuracy', 'bool', False),
    'env_kwargs': Term('options of the task environment', 'mapping', VARIES, 'required in a trial bank, optional elsewhere'),
    'error': Term('variable holding the error bars', 'name', None),
    'eval_every': Term('steps between evaluations', 'steps', 25),
    'event_times': Term('which trial times are events', 'names', 'auto'),
    'exact': Term('a p-value over every permutation (no +1)', 'bool', False),
    'experiment_description': Term('NWB experiment description', 'text', None),
    'experimenter': Term('NWB experimenter', 'text', 'Unknown, Experimenter'),
    'feature_map': Term('function from inputs to features', 'callable', REQUIRED),
    'feature_names': Term('names of the feature columns', 'names', REQUIRED),
    'features_test': Term('held-out features', 'array', REQUIRED),
    'features_train': Term('training features', 'array', REQUIRED),
    'fig': Term('a matplotlib figure', 'Figure', REQUIRED),
    'figures': Term('figures of a report', 'mapping', REQUIRED),
    'fingerprint': Term('hash identifying a sweep grid', 'text', REQUIRED),
    'first': Term('first stage', 'label', REQUIRED),
    'fixation_weight': Term('loss weight of the fixation period', '1', 0.1),
    'force': Term('recompute results even if saved', 'bool', False),
    'format': Term('file format', 'name', None),
    'frac_excitatory': Term('fraction of excitatory units', 'fraction', 0.8),
    'fraction': Term('share of trials in a subsample', 'fraction', 0.5),
    'func': Term('function applied to each item, or the function that computes a measure', 'callable', REQUIRED, 'a registered Measure may be built before its function is bound', {'Measure': None}),
    'function': Term('the function computing a measure', 'callable', REQUIRED),
    'g': Term('gain of the recurrent weights at initialisation', '1', 1.0),
    'geometry_seed': Term('seed of the geometry computed while training', 'seed', 0),
    'grad_clip': Term('maximal gradient norm', '1', 1.0),
    'grids': Term('volume-element grids to draw, by panel title', 'mapping of Datasets', REQUIRED),
    'hidden': Term('hidden-layer activity', 'array', REQUIRED),
    'hue': Term('label coloured in a figure', 'name', 'context'),
    'ideal': Term('ideal observer accuracy', 'fraction', REQUIRED),
    'ideal_accuracy': Term('accuracy of the ideal observer', 'fraction', REQUIRED),
    'identifier': Term('NWB identifier', 'text', None),
    'image_shape': Term('height and width of an image', 'pixels', VARIES, 'required in the CNN (its input), (8, 8) for the bundled digits'),
    'init': Term('weight initialisation', 'name', 'normal'),
    'input_names': Term('names of the task inputs', 'names', REQUIRED),
    'inputs': Term('what a measure takes, or the network inputs', 'name or array', VARIES, 'the input kind ("points_labels") of a registered measure; arrays (required or None) for networks'),
    'institution': Term('NWB institution', 'text', 'unknown'),
    'invariances': Term('transformations a measure ignores', 'names', REQUIRED, 'the decorator defaults to none stated', {'register_measure': ()}),
    'is_metric': Term('whether a distance is a metric', 'bool', REQUIRED, 'the decorator defaults to not a metric', {'register_measure': False}),
    'items': Term('items to process', 'sequence', REQUIRED),
    'jitter': Term('noise added to break ties', '1', 0.0),
    'k': Term('neighbours or components used', 'count', None),
    'kappa': Term('margin of the separating hyperplane', '1', 0.0),
    'keep_replicates': Term('also return the replicates', 'bool', False),
    'keywords': Term('NWB keywords', 'texts', None),
    'kind': Term('which variant of an object or axis', 'name', VARIES, 'the learning axis ("fraction") in comparisons; required where it names the kind of a registered measure, a spec source or a corruption'),
    'lab': Term('NWB lab', 'text', None),
    'label': Term('figure label of a measure output (its long_name in results)', 'text', ''),
    'labels': Term('one integer or label per point', 'array', VARIES, 'required by the manifold measures; optional (None: no grouping) in the similarity helpers'),
    'labels_a': Term('labels of stage a', 'array', REQUIRED),
    'labels_b': Term('labels of stage b', 'array', REQUIRED),
    'last': Term('last stage', 'label', REQUIRED),
    'lengths': Term('trial lengths', 'steps', REQUIRED),
    'live': Term('compute geometry while training', 'bool', False),
    'loss': Term('training loss', 'name', 'decision'),
    'lr': Term('learning rate', '1', VARIES, "0.1 for SGD on the small classifiers, 0.01 (Adam) in the spec's training"),
    'lr_schedule': Term('learning-rate schedule', 'name', 'constant'),
    'make': Term('function that draws a report', 'callable', REQUIRED),
    'mapping': Term('how model labels become brain labels', 'mapping', None),
    'max_bytes': Term('largest amount read', 'bytes', None),
    'max_coding_fraction': Term('largest fraction of coding units', 'fraction', 0.25),
    'max_iter': Term('iterations of the solver', 'count', 300),
    'max_steps': Term('stop after this training step', 'steps', None),
    'measure': Term('registry name of a measure', 'name', VARIES, '"glue" where a population measure is computed; "capacity" where a variable is plotted; required in register'),
    'measure_output': Term('the output of a measure compared', 'name', None),
    'measures': Term('registry names of measures or their outputs', 'names', VARIES, "each function's own set: the measures it computes (glue; the pair measures) or the outputs it summarises"),
    'method': Term('rank-correlation method', 'name', 'spearman'),
    'metric': Term('dissimilarity of an RDM', 'name', 'correlation'),
    'metrics': Term('training metrics table', 'DataFrame', REQUIRED),
    'min_cluster_fraction': Term('smallest cluster kept', 'fraction', 0.02),
    'min_points': Term('fewest points a manifold needs', 'count', 2),
    'mode': Term('how a quantity is computed', 'name', 'auto'),
    'model': Term('the model population tensor, or a model', 'tensor', REQUIRED),
    'models': Term('models of a report', 'mapping', VARIES, 'required in the report, an empty tuple where models are optional'),
    'momentum': Term('SGD momentum', '1', 0.9),
    'n': Term('threads', 'count', 1),
    'n_boot': Term('resampling (bootstrap or subsample) replicates for an interval; 0 gives no interval', 'count', 100, '100 where the function exists to give an interval (trajectory, stage_difference, difference_test, paired_difference); 0 in coding_scheme, where the interval is optional', exceptions={'coding_scheme': 0}),
    'n_chains': Term('MCMC chains', 'count', 4),
    'n_classes': Term('classes of a mixture', 'count', 3),
    'n_dichotomies': Term('random dichotomies sampled', 'count', 101),
    'n_examples': Term('examples printed', 'count', 3),
    'n_grid': Term('points of a grid', 'count', VARIES, "each grid's own resolution: 101 points for a metric grid, None (the larger number of stages) for a trajectory axis"),
    'n_input': Term('network inputs', 'count', REQUIRED),
    'n_inputs': Term('input dimension of a generated data set', 'count', VARIES, 'required where a network is built, 20 for a generated data set'),
    'n_jobs': Term('worker processes; the numbers do not depend on it', 'count', VARIES, "1 (serial) in functions; required or None (the spec's) in run specs and options"),
    'n_levels': Term('contour levels', 'count', 8),
    'n_monitor_trials': Term('trials of the monitoring bank', 'count', None),
    'n_output': Term('network outputs', 'count', REQUIRED),
    'n_outputs': Term('classifier outputs', 'count', REQUIRED),
    'n_paths': Term('paths sampled', 'count', 16),
    'n_per_class': Term('examples per class', 'count', VARIES, "each bundled data set's size"),
    'n_perm': Term('permutations (shuffles, sign flips, orderings) for a null and its p-value; 0 gives none', 'count', 100, '100 where the function exists to give a p-value or a null (trajectory, stage_difference, difference_test, paired_difference, compare_trajectories); 0 in compare_representations and compare_strategy_paths, where the null is optional', exceptions={'compare_representations': 0, 'compare_strategy_paths': 0}),
    'n_points': Term('points per route or per manifold', 'count', VARIES, '200 points per route; None (the smallest count) when balancing'),
    'n_points_per_manifold': Term('points kept per manifold', 'count', VARIES, 'optional (all points) in the estimators, required where manifolds are built to a size'),
    'n_reps': Term('restarts of the MFTMA solver (not probes: each repeats the anchor-point optimisation)', 'count', 10),
    'n_samples': Term('posterior samples kept per chain', 'count', 10),
    'n_splits': Term('cross-validation folds', 'count', 5),
    'n_steps': Term('optimisation or integration steps', 'steps', VARIES, "each procedure's own length: training steps (1000 for the classifiers, 2000 in a spec), MCMC steps (3000), ODE steps (65); required in log_schedule"),
    'n_t': Term('Gaussian samples of the capacity estimators', 'count', 200),
    'n_test_trials': Term('held-out trials', 'count', 2000),
    'n_threads': Term('threads', 'count', 1),
    'n_train_trials': Term('training trials', 'count', 8192),
    'n_trials': Term('trials', 'count', VARIES, "the data's own count (None) when reading; required or a task's bank size when simulating"),
    'n_units': Term('hidden units', 'count', VARIES, "each model family's own width"),
    'n_workers': Term('dask worker processes', 'count', None),
    'name': Term('the name of an object', 'name', VARIES, "required where an object is named; the bundled task's name as a default where one is bundled"),
    'names': Term('names given colours', 'names', REQUIRED),
    'net': Term('a network', 'Module', REQUIRED),
    'network': Term('a trained network', 'Module', REQUIRED),
    'noise': Term('noise model or level', 'name or 1', VARIES, 'a noise model ("residual") for RDMs, a noise level (0.5) for generated data'),
    'notes': Term('notes of a report', 'texts', VARIES, 'required in the report, an empty tuple where notes are optional'),
    'noun': Term('what the unknown keys are called', 'text', 'key(s)'),
    'null': Term('null distribution', 'array', REQUIRED),
    'obj': Term('the object wrapped', 'object', REQUIRED),
    'observed': Term('the observed statistic', '1', REQUIRED),
    'observers': Term('callbacks per checkpoint', 'callables', ()),
    'of': Term('what is measured', 'name', 'points'),
    'on_result': Term('callback per result', 'callable', None),
    'optimizer': Term('optimiser', 'name', 'adam'),
    'options': Term('options of a measure or a spec section', 'mapping', VARIES, 'required in a spec source, optional (None) in the workflows'),
    'others': Term('other tensors pooled', 'tensors', REQUIRED),
    'out': Term('output folder', 'path', REQUIRED),
    'out_dir': Term('output folder of the runs', 'path', REQUIRED),
    'output_names': Term('names of the task outputs', 'names', REQUIRED),
    'outputs': Term('outputs of a measure', 'names', VARIES, "each function's own set: all of a measure's outputs (None), the three main ones in comparisons, required in a registration"),
    'over': Term('extra dims measured at every index', 'dims', ('stage',)),
    'overrides': Term('spec values replaced', 'mapping', None),
    'overwrite': Term('replace existing output', 'bool', VARIES, 'True where a file is rewritten by design, False where data could be lost'),
    'paper': Term('reference values of a published study drawn beside the measured ones: alpha -> capacity', 'mapping', None),
    'path': Term('a file or folder', 'path', REQUIRED),
    'path_a': Term('first route in the strategy plane', 'Dataset', REQUIRED),
    'path_b': Term('second route in the strategy plane', 'Dataset', REQUIRED),
    'path_or_paths': Term('one file or several', 'paths', REQUIRED),
    'path_stem': Term('file path without extension', 'path', REQUIRED),
    'patience': Term('evaluations at the target before stopping', 'count', 3),
    'penalty': Term('change-point penalty', '1', None),
    'penalty_c': Term('factor of the default penalty', '1', 2.0),
    'period': Term('task period', 'name', VARIES, 'required where a period is read, optional (the whole trial) otherwise'),
    'periods': Term('task periods', 'mapping', REQUIRED),
    'points': Term('the points of the manifolds, or which points a tensor gives', 'array or name', VARIES, 'required array in the estimators; which points ("mean" of each trial) where a tensor gives them'),
    'points_a': Term('points of stage a', 'array', REQUIRED),
    'points_b': Term('points of stage b', 'array', REQUIRED),
    'pool_by': Term('labels balanced when pooling', 'names', None),
    'pop': Term('a population tensor', 'tensor', REQUIRED),
    'pops': Term('population tensors', 'tensors', REQUIRED),
    'prior_scale': Term('scale of the weight prior', '1', VARIES, 'required in the posterior objects, 1.0 in the samplers'),
    'prior_scales': Term('prior scales swept over', 'values', (1.0,)),
    'problem': Term('which problem each stacked point belongs to (one index per point)', 'array', None),
    'progress': Term('callback progress(phase, done, total) as work advances; None shows nothing', 'callable', None),
    'projection_dim': Term('random projection dimension', 'count', None),
    'pseudo': Term('sessions recorded apart, for pseudo-population draws', 'tensors', None),
    'quantile': Term('quantile of the boundary', 'fraction', 0.2),
    'quantity': Term('what the values are', 'name', VARIES, 'each reader\'s own: what the file holds ("rate_hz", "continuous"), required or None where the caller states it'),
    'radius': Term('manifold radius, or the name of its variable', '1', VARIES, 'a value where it is given, a variable name where it is looked up'),
    'rank': Term('rank of the recurrent weights', 'count', VARIES, 'required in truncate_rank, "full" in a network config'),
    'ranks': Term('ranks swept over', 'counts', None),
    'raw': Term('a raw spec', 'mapping', REQUIRED),
    'rdm_x': Term('first RDM', 'array', REQUIRED),
    'rdm_y': Term('second RDM', 'array', REQUIRED),
    'readout': Term('readout weights', 'array', REQUIRED),
    'readout_bias': Term('readout has a bias', 'bool', True),
    'recordings': Term('recordings of a report', 'mapping', VARIES, 'required in the report, an empty tuple where recordings are optional'),
    'remove_center_correlations': Term('remove correlations between manifold centres', 'bool', True),
    'replace': Term('replace an existing registration', 'bool', False),
    'replicates': Term('resampled trajectories', 'Dataset', VARIES, 'required where they are summarised, optional (None) in learning_stages'),
    'resample': Term('how trials are resampled', 'name', 'subsample'),
    'response_threshold': Term('response above which a unit responds', 'fraction', 0.5),
    'results': Term('result Datasets of a run', 'mapping', REQUIRED),
    'return_anchors': Term('also return anchor points', 'bool', False),
    'reused': Term('results reused from disk', 'names', REQUIRED),
    'run_dir': Term('a run folder', 'path', REQUIRED),
    'save_every': Term('steps between checkpoints', 'steps', 50),
    'scaling': Term('parametrisation of the network', 'name', VARIES, 'required in the posterior objects, "mean_field" in the network config'),
    'scalings': Term('parametrisations swept over', 'names', ('mean_field', 'standard')),
    'schedule': Term('checkpoint schedule', 'name', 'log'),
    'scheduler': Term('dask scheduler address or client', 'text', None),
    'score_method': Term('score of the Procrustes distance', 'name', 'angular'),
    'seconds': Term('timings of phases', 's', REQUIRED),
    'section': Term('name of a spec section', 'name', REQUIRED),
    'seed': Term('the one seed; child seeds derive from it', 'seed', VARIES, '0 everywhere a computation is seeded; None (fresh entropy) in the trial-bank helpers that draw once; 12345 in the bundled NWB writer, whose files are pinned'),
    'seeds': Term('seeds swept over', 'seeds', None),
    'series': Term('NWB series read', 'name', None),
    'session': Term('which bundled session', 'name', 'late'),
    'session_description': Term('NWB session description', 'text', None),
    'session_start_time': Term('NWB session start', 'datetime', None),
    'sessions': Term('session of each tensor', 'names', None),
    'setting': Term('named setting of a spec', 'name', VARIES, "required in the reports, optional (the spec's) in the runs"),
    'settings': Term('settings of a report', 'mapping', VARIES, 'required in the report, optional elsewhere'),
    'severity': Term('strength of a corruption', '1', REQUIRED),
    'similarity': Term('similarity results drawn', 'Dataset', None),
    'similarity_name': Term('similarity variable drawn', 'name', 'cka_similarity'),
    'size': Term('units and trials of a source, at most (for the memory estimate)', 'counts', None),
    'source': Term('where the data came from', 'text', None),
    'sparsity': Term('fraction of zero recurrent weights', 'fraction', 0.0),
    'spec': Term('a spec, or its path', 'mapping or path', VARIES, 'required everywhere but in analysis_bank, where an empty spec means the bundled task'),
    'spec_path': Term('path of a spec', 'path', REQUIRED),
    'species': Term('species recorded', 'text', None),
    'split': Term('a label analysed separately per value', 'label name', None),
    'splits': Term('cross-validation split of each row', 'array', None),
    'stage': Term('one stage', 'label', None, 'required where a stage is selected', {'select_stage': REQUIRED}),
    'stage_coords': Term('coords of the stage dim', 'mapping', None),
    'stages': Term('stages used', 'labels', VARIES, 'each function\'s own stage selection: "matched" stages in compare_representations, ("before", "after") in stage_difference, required or None (all) elsewhere'),
    'state': Term('network state', 'mapping', None),
    'statistic': Term('function of points and labels', 'callable', REQUIRED),
    'step': Term('a training step', 'step', VARIES, 'required where a step is named, None (the last) where it is optional'),
    'step_label': Term('axis label of steps', 'text', VARIES, 'the axis label of each figure (log scale where the axis is logarithmic)'),
    'step_size': Term('MCMC step size', '1', VARIES, 'required in the posterior objects, None (adapted) in the sampler'),
    'steps': Term('training steps', 'steps', None),
    'store': Term('a zarr store', 'path', REQUIRED),
    'subject': Term('subject recorded', 'text', None),
    'subjects': Term('subject names', 'names', None),
    't_vectors': Term('Gaussian vectors given', 'array', None),
    'table': Term('label table of the manifolds', 'DataFrame', REQUIRED),
    'target': Term('target accuracy', 'fraction', REQUIRED),
    'target_accuracy': Term('accuracy at which training stops', 'fraction', None),
    'targets': Term('task targets', 'array', REQUIRED),
    'task': Term('a task', 'name or spec', REQUIRED),
    'tau_ms': Term('unit time constant', 'ms', None),
    'tell': Term('progress callback of a run', 'callable', REQUIRED),
    'temperature': Term('posterior temperature', '1', VARIES, 'required in the posterior objects, 0.01 in the sampler'),
    'test_fraction': Term('share of held-out data', 'fraction', 0.3),
    'test_outputs': Term('outputs on test inputs', 'array', REQUIRED),
    'threads': Term('torch threads', 'count', 1),
    'threads_per_worker': Term('threads per dask worker', 'count', 1),
    'time': Term('time coords', 's', None),
    'time_window': Term('time window selected', 'label', None),
    'title': Term('a title', 'text', VARIES, 'required in the reports, optional elsewhere'),
    'tol': Term('numerical tolerance', '1', 1e-08),
    'traj_a': Term('first trajectory', 'Dataset', REQUIRED),
    'traj_b': Term('second trajectory', 'Dataset', REQUIRED),
    'trajectories': Term('trajectories drawn', 'mapping', REQUIRED),
    'trajectory': Term('a trajectory', 'Dataset', REQUIRED),
    'trial_columns': Term('trial table columns kept', 'names', None),
    'trial_coords': Term('trial coords written', 'names', None),
    'trial_filter': Term('trials kept', 'callable', None),
    'type': Term('network type', 'name', 'ctrnn'),
    'unique_unit_ids': Term('make unit ids unique', 'bool', True),
    'unit': Term('unit coords', 'mapping', None),
    'unit_coords': Term('coords of the unit dim', 'mapping', None),
    'unit_filter': Term('units kept', 'callable', None),
    'units': Term('unit ids', 'array', VARIES, 'required where units are given, None (all) where they are selected'),
    'unknown': Term('keys not accepted', 'names', REQUIRED),
    'utility': Term('utility of a manifold', '1', 1.0),
    'values': Term('label values', 'mapping', REQUIRED),
    'values_a': Term('values at stage a', 'array', REQUIRED),
    'values_b': Term('values at stage b', 'array', REQUIRED),
    'w': Term('a weight matrix', 'array', REQUIRED),
    'weight': Term('a weight matrix of one layer', 'array', REQUIRED),
    'weight_decay': Term('L2 weight decay', '1', 0.0),
    'what': Term('what is read', 'text', 'spec'),
    'where': Term('where an error is', 'text', VARIES, 'the error context: "spec" for a whole spec, empty for a section'),
    'width': Term('units per layer', 'count', 64),
    'widths': Term('units of each layer', 'counts', REQUIRED),
    'window_s': Term('time window (start, stop) after the aligning event', 's', VARIES, 'required where a window is the argument, None (every bin) where it is optional'),
    'within': Term('labels whose product with by makes joint manifolds', 'label names', VARIES, "None in the functions, an empty tuple in the spec's config"),
    'within_stage': Term('z-score within each stage', 'bool', True),
    'X': Term('first representation, rows are conditions or trials', 'array', REQUIRED),
    'x': Term('the x variable or input array', 'array or name', VARIES, 'required array in the estimators, a label name ("coherence") in the figures'),
    'x_label': Term('x axis label', 'text', 'coherence (signed stimulus strength, unitless)'),
    'x_range': Term('x range of a grid', '1', (-1.5, 1.5)),
    'x_test': Term('test inputs', 'array', VARIES, 'required where predictions are made, None where they are optional'),
    'Y': Term('second representation, the same rows as X', 'array', REQUIRED),
    'y': Term('the y variable or targets', 'array or name', VARIES, 'required targets in training, a variable name ("accuracy") in figures'),
    'y_range': Term('y range of a grid', '1', (-1.5, 1.5)),
    'y_test': Term('test labels', 'array', REQUIRED),
    'y_train': Term('training labels', 'array', REQUIRED),
    'z_threshold': Term('z-score above which a change is a stage', '1', 3.0),

}
# fmt: on


def _default_text(term: Term) -> str:
    if term.default is VARIES:
        return "varies: " + term.why
    text = "required" if term.default is REQUIRED else f"`{term.default!r}`"
    if term.exceptions:
        others = ", ".join(f"`{k}`: `{v!r}`" for k, v in term.exceptions.items())
        text += f" ({others}: {term.why})"
    return text


def glossary_markdown() -> str:
    """The glossary as Markdown (the text of ``docs/glossary.md``)."""
    lines = [
        "# Glossary",
        "",
        "Every public parameter name of neurogeom: its meaning, unit and default. Generated from",
        "`neurogeom/_glossary.py` by `glossary_markdown()`; do not edit by hand.",
        "",
        "Deprecated names (accepted with a `FutureWarning` until 0.3.0): "
        + ", ".join(
            f"`{f}({old}=)` -> `{new}`" for f, m in DEPRECATED.items() for old, new in m.items()
        )
        + ".",
        "",
        "| name | meaning | unit | default |",
        "| --- | --- | --- | --- |",
    ]
    for name, term in GLOSSARY.items():
        cells = [f"`{name}`", term.meaning, term.unit or "-", _default_text(term)]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"
