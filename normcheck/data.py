"""The step data set and the question's input normalization."""

from __future__ import annotations

import numpy as np

from .experiment import Experiment


def raw_inputs(experiment: Experiment) -> np.ndarray:
    """X * scale + shift for X = 0..n-1, float64, shape (n, 1)."""
    x = np.arange(experiment.n_samples, dtype=np.float64)
    return (x * experiment.scale + experiment.shift).reshape(-1, 1)


def labels(experiment: Experiment) -> np.ndarray:
    """0 for the first half of X and 1 from the middle on, as the question's np.append(zeros, ones)."""
    n = experiment.n_samples
    return np.append(np.zeros(n // 2), np.ones(n - n // 2)).astype(np.float32).reshape(-1, 1)


def standardize(x: np.ndarray) -> np.ndarray:
    """The question's (X - mean) / std, in float64."""
    return (x - x.mean()) / x.std()


def dataset(experiment: Experiment, input_norm: bool) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) as float32 arrays, the way Keras receives them."""
    x = raw_inputs(experiment)
    if input_norm:
        x = standardize(x)
    return x.astype(np.float32), labels(experiment)


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The sample order of one epoch: a fresh permutation per (seed, epoch), on every backend."""
    return np.random.default_rng([seed, epoch]).permutation(n)
