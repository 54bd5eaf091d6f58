"""Module paths of 0.2.0 keep importing after the package was grouped by job, with a warning."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from lstmkit._moved import MOVED

# In a fresh interpreter, so that no earlier import has loaded an old path already.
IMPORT_OLD_PATHS = """
import importlib, json, sys, warnings
from lstmkit._moved import MOVED
found = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from lstmkit import plots
    from lstmkit.cli import main
found["from lstmkit import plots"] = [plots.__name__, main.__module__,
                                      [str(w.message) for w in caught]]
for old, new in MOVED.items():
    sys.modules.pop(old, None)          # lstmkit.plots: loaded by the import above
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    found[old] = [module is importlib.import_module(new),
                  [str(w.message) for w in caught if w.category is DeprecationWarning]]
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def found():
    out = subprocess.run([sys.executable, "-c", IMPORT_OLD_PATHS], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_module_path_gives_the_moved_module_and_says_where_it_went(found, old):
    same, warnings = found[old]
    assert same
    assert any(f"{old} moved to {MOVED[old]}" in w for w in warnings), warnings


def test_the_readme_forms_of_0_2_0_still_work(found):
    plots, main_module, warnings = found["from lstmkit import plots"]
    assert (plots, main_module) == ("lstmkit.analysis.plots", "lstmkit.cli.command")
    assert any("lstmkit.plots moved to lstmkit.analysis.plots" in w for w in warnings)
    assert any("lstmkit.cli.main moved to lstmkit.cli.command.main" in w for w in warnings)


def test_a_package_gives_its_own_modules_without_a_warning(recwarn):
    from lstmkit.training import checkpoint

    assert checkpoint.__name__ == "lstmkit.training.checkpoint"
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        assert importlib.import_module("lstmkit.cli").nothing_here is None
