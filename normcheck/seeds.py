"""Random seeds: the one syntax the CLI and the pytest plugin accept, and the one range check."""

from __future__ import annotations

from .errors import InputError

LIMIT = 2**32
MAX_SEEDS = 100_000  # each seed is a training run per variant: more is weeks of work, and a list that size a mistake
SYNTAX = ("N (seeds 0..N-1), A-B (a range) or a comma list of distinct integers from 0 to 2**32 - 1, "
          f"at most {MAX_SEEDS} seeds")


def span(first: object, last: object, where: str) -> range:
    """first..last as a range of seeds, checked as `--seeds A-B` is; `where` names the record it came from."""
    if (isinstance(first, int) and isinstance(last, int) and not isinstance(first, bool) and not isinstance(last, bool)
            and 0 <= first <= last < LIMIT and last - first < MAX_SEEDS):
        return range(first, last + 1)
    raise InputError(f"{where}: seeds {first!r}-{last!r} are invalid; allowed: {SYNTAX}")


def check(seed: object) -> int:
    """`seed` itself if it is a seed Keras and NumPy accept, else a ValueError naming it."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < LIMIT:
        raise InputError(f"seed={seed!r} is invalid; allowed: an integer from 0 to 2**32 - 1")
    return seed


def parse(text: str) -> list[int]:
    """'N' is seeds 0..N-1, 'A-B' a range, '3,7,11' a list: every seed a run must hold for."""
    text = str(text).strip()
    try:
        if "," in text:
            seeds = [int(t) for t in text.split(",")]  # an empty item is a typo, not nothing
        elif "-" in text.lstrip("-"):
            a, b = (int(t) for t in text.split("-", 1))
            seeds = list(range(a, b + 1)) if 0 <= b - a < MAX_SEEDS else []
        else:
            n = int(text)
            seeds = list(range(n)) if n <= MAX_SEEDS else []
    except ValueError:
        raise InputError(f"seeds {text!r} are invalid; allowed: {SYNTAX}") from None
    if not seeds or len(seeds) > MAX_SEEDS or min(seeds) < 0 or max(seeds) >= LIMIT or len(set(seeds)) != len(seeds):
        raise InputError(f"seeds {text!r} are invalid; allowed: {SYNTAX}")
    return seeds
