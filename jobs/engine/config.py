"""What a search is asked to do: a plain record, importable without Keras."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.engine.data import TaskType

TUNERS = ("random", "bayesian", "hyperband")
# The tuner a job gets when it names none, by what the model reads and predicts: the one with
# the best mean test score at the same budget in bench/engine_tuners.py (the faster of those
# within 0.5%), figures in docs/benchmarks.md.
DEFAULT_TUNERS: dict[str, str] = {
    "binary": "random",
    "multiclass": "random",
    "regression": "random",
    "multilabel": "random",
    "text": "random",
    "image": "random",
    "forecasting": "bayesian",
}


def default_tuner(task_type: str, dataset_kind: str = "tabular") -> str:
    """The benchmarked default tuner for a task type on a dataset of this kind."""
    if dataset_kind == "image":
        key = "image"
    elif dataset_kind == "text" and task_type != "multilabel":
        key = "text"
    else:
        key = task_type
    return DEFAULT_TUNERS.get(key, "random")


# Time is a job's budget: the search decides how many trials and epochs fit in it. Presets for
# the UI and the API; the default is what a job gets when it names no budget at all.
BUDGET_PRESETS: dict[str, int] = {"quick": 60, "standard": 180, "thorough": 600}
DEFAULT_BUDGET_SECONDS = BUDGET_PRESETS["standard"]
# Trials and epochs are caps, not the budget: a trial's epochs end when early stopping says so.
MAX_TRIALS_CAP = 200
MAX_EPOCHS_CAP = 300
# Trials of one search run at once, each in a process of its own (jobs.engine.pool).
MAX_PARALLEL_TRIALS = 8


@dataclass(frozen=True)
class SearchConfig:
    target: str
    task_type: TaskType
    max_trials: int = MAX_TRIALS_CAP
    max_epochs: int = MAX_EPOCHS_CAP
    seed: int = 0
    batch_size: int = 32
    test_fraction: float = 0.2
    validation_fraction: float = 0.2
    tuner: str = "random"
    # The wall-clock budget of the whole search (None: unlimited, trials and epochs cap it):
    # the running trial stops at its next batch, no new trial starts, the best so far is kept.
    max_seconds: float | None = DEFAULT_BUDGET_SECONDS
    # None: on when the rarest class has under 20% of the training rows.
    class_weights: bool | None = None
    # Average up to this many best trials' models when that beats the best alone (1: never).
    ensemble_size: int = 3
    # Text datasets: the column holding the text (the only input of a text model).
    text_column: str = ""
    # Forecasting: the time order, how many steps ahead, and the window (None: searched).
    timestamp_column: str = ""
    horizon: int = 1
    lookback: int | None = None
    # Multi-label: what separates the labels in the target column (None: detected).
    label_delimiter: str | None = None
