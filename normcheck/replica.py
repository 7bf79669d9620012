"""The replica of fit, at its old import path: it lives in `normcheck.calibration.engine` (runs) and `.store` (files).

Kept so `from normcheck import replica` goes on working; new code imports the calibration package.
"""

from .calibration.engine import calibration_runs, initial_weights, simulate
from .calibration.store import load_replica_runs as load
from .calibration.store import save_replica_runs as save

__all__ = ["calibration_runs", "initial_weights", "load", "save", "simulate"]
