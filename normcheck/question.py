"""What the question's question reported (its printed Keras logs, as a table)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class ReportedEpoch:
    variant: str
    epoch: int
    seconds: float
    loss: float
    accuracy: float


@cache
def reported() -> dict[str, list[ReportedEpoch]]:
    """Per variant, the question's epochs in order."""
    text = resources.files("normcheck").joinpath("question_reported.csv").read_text()
    out: dict[str, list[ReportedEpoch]] = {}
    for row in csv.DictReader(text.splitlines()):
        out.setdefault(row["variant"], []).append(
            ReportedEpoch(row["variant"], int(row["epoch"]), float(row["seconds"]), float(row["loss"]), float(row["accuracy"]))
        )
    return out
