"""The seeded train/validation/test split, label indexing and the class-weight rule: core,
shared by every task."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from jobs.engine.config import SearchConfig

RARE_CLASS_SHARE = 0.05


def split_frame(
    frame: pd.DataFrame, config: SearchConfig, *, stratify: pd.Series | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """60/20/20 by default, shuffled with the job's seed; stratified when asked."""
    rest, test = train_test_split(
        frame,
        test_size=config.test_fraction,
        random_state=config.seed,
        stratify=None if stratify is None else stratify,
    )
    val_share = config.validation_fraction / (1 - config.test_fraction)
    train, val = train_test_split(
        rest,
        test_size=val_share,
        random_state=config.seed,
        stratify=None if stratify is None else stratify.loc[rest.index],
    )
    return train, val, test


def split_by_target(
    frame: pd.DataFrame, config: SearchConfig
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """split_frame, stratified by the target's classes unless the task is a regression."""
    classify = config.task_type != "regression"
    stratify = frame[config.target].astype(str) if classify else None
    return split_frame(frame, config, stratify=stratify)


def index_labels(values: pd.Series) -> tuple[list[str], np.ndarray]:
    """The classes in sorted order, and each row's class index (as float32)."""
    labels = sorted({str(v) for v in values})
    index = {label: i for i, label in enumerate(labels)}
    return labels, values.astype(str).map(index).to_numpy(dtype="float32")


def class_weights(
    config: SearchConfig, y_train: np.ndarray, n_classes: int
) -> dict[int, float] | None:
    """Balanced class weights, on by default only when the rarest class is under 5% of rows.

    Weights trade accuracy and calibrated probabilities for recall on the rare class: worth it
    by default only where a plain model would learn to never predict that class.
    """
    if config.task_type == "regression" or config.class_weights is False:
        return None
    counts = np.bincount(y_train.astype(int), minlength=n_classes)
    if config.class_weights is None and counts.min() / counts.sum() >= RARE_CLASS_SHARE:
        return None
    return {i: float(counts.sum() / (n_classes * max(c, 1))) for i, c in enumerate(counts)}
