"""normcheck's own complaints about its input, apart from everything else that can go wrong.

The CLI exits 2 with one line for an `InputError`, and 3 with a traceback for
anything else (a crash inside a framework is not the user's bad argument).
`InputError` is a `ValueError`, so library callers catch it as one.
"""


class InputError(ValueError):
    """A value normcheck was given is not allowed; the message names it and what is."""
