"""Experiments that ship with normcheck, each written with the public API (normcheck.spec) only."""
