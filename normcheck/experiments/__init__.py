"""Experiments that ship with normcheck, each a `normcheck.Spec`: the question itself (its pieces from its own
modules), and the small-batch result, written with the public API (normcheck.spec) only."""
