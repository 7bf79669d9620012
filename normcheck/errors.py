"""normcheck's own complaints about its input, apart from everything else that can go wrong.

The CLI exits 2 with one line for an `InputError`, and 3 with a traceback for
anything else (a crash inside a framework is not the user's bad argument).
`InputError` is a `ValueError`, so library callers catch it as one.
"""

import reprlib
from typing import Any

SHOWN_CHARS = 200  # a bad value longer than this is cut in the message: the line names it, it does not reprint it


class InputError(ValueError):
    """A value normcheck was given is not allowed; the message names it and what is."""


class ChildError(RuntimeError):
    """A process normcheck started failed; the message is the child's own last words. The CLI exits 3 with one line."""


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """`repr(value)` for an error line, cut to `limit` characters with the full length said."""
    full = len(value) if isinstance(value, str) else None
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict = 3, 10, 10
    short.maxstring = short.maxother = short.maxlong = limit
    text = short.repr(value)
    if full is not None and full + 2 > limit:
        return f"{text[:limit]} ({full} characters)"
    return text if len(text) <= limit else f"{text[:limit]}..."
