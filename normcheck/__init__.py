"""normcheck: the input-normalization vs BatchNormalization puzzle as checks a machine runs.

Importing normcheck does not import Keras: choose a backend first with
`normcheck.select_backend(...)` (or KERAS_BACKEND), then train.
"""

from .claims import CLAIMS, Claim, Verdict, check_all, get_claim
from .experiment import QUESTION_EXPERIMENT, Experiment
from .framework import BACKENDS, BackendError, select_backend
from .run import Run
from .training import train
from .variants import QUESTION_VARIANTS, VARIANTS, Variant, build_model, get_variant

__all__ = [
    "BACKENDS",
    "CLAIMS",
    "QUESTION_EXPERIMENT",
    "QUESTION_VARIANTS",
    "VARIANTS",
    "BackendError",
    "Claim",
    "Experiment",
    "Run",
    "Variant",
    "Verdict",
    "build_model",
    "check_all",
    "get_claim",
    "get_variant",
    "select_backend",
    "train",
]
__version__ = "0.1.0"
