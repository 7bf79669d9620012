"""normcheck: the input-normalization vs BatchNormalization puzzle as checks a machine runs.

Importing normcheck does not import Keras: choose a backend first with
`normcheck.select_backend(...)` (or KERAS_BACKEND), then train.
"""

__version__ = "0.1.0"  # before the imports: modules below read it while this package is still loading

from .claims import CLAIMS, Claim, Verdict, check_all, get_claim
from .experiment import QUESTION_EXPERIMENT, Experiment
from .framework import BACKENDS, BackendError, select_backend
from .run import Run
from .spec import Data, Spec, SpecRun
from .spec_checks import check_experiment, parametrize_claims
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
    "Data",
    "Experiment",
    "Run",
    "Spec",
    "SpecRun",
    "Variant",
    "Verdict",
    "build_model",
    "check_all",
    "check_experiment",
    "get_claim",
    "get_variant",
    "parametrize_claims",
    "select_backend",
    "train",
]
