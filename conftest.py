"""Repository conftest: normcheck's own tests set normcheck up, register hypothesis profiles, mark unit tests.

The plugin itself (entry point `normcheck`, loaded because the README installs the
package) stays passive until asked; this project asks at configure time.

Profiles: `dev` (default; few examples) and `ci` (derandomized, so CI never
flakes), chosen with HYPOTHESIS_PROFILE or `--hypothesis-profile`; CI=true picks `ci`.
"""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from normcheck.plugin import activate

pytest_plugins = ["pytester"]

_common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow], "print_blob": True}
settings.register_profile("dev", max_examples=3, **_common)
settings.register_profile("ci", max_examples=3, derandomize=True, **_common)
settings.register_profile("thorough", max_examples=25, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


UNIT = Path(__file__).parent / "tests" / "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The folder is the kind: tests/unit items carry the `unit` marker, so `-m "unit or upgrade"` selects by kind."""
    for item in items:
        if UNIT in item.path.parents:
            item.add_marker(pytest.mark.unit)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    activate(config)
