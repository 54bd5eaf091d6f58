"""Predicting loads no Lightning, and lstmkit's modules import each other without a cycle.

Each command runs in a fresh ``python -X importtime`` process, which lists every module it
imports on stderr: loading a saved model and predicting (Python and ``lstmkit predict``),
``evaluate``, ``export``, ``serve`` (answering a real request) and ``--help`` must list none
of Lightning's. The import graph is read from the source with ``ast``: every import,
at module level or inside a function, counts; only ``if TYPE_CHECKING:`` imports do not.
"""

from __future__ import annotations

import ast
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from lstmkit import LSTMModel
from lstmkit.training.config import RANK_VARIABLES, global_rank

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src"
MODEL = ROOT / "tests" / "fixtures" / "v0_2_0" / "models" / "forecast_default"
LIGHTNING = ("lightning", "pytorch_lightning", "lightning_fabric")


def imported_modules(args: list[str], cwd: Path) -> set[str]:
    """The modules ``python -X importtime ARGS`` imports; fails the test unless it exits 0."""
    result = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=cwd,
                            env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return _modules(result.stderr)


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")])}


def _modules(importtime: str) -> set[str]:
    """Module names from ``-X importtime`` lines: ``import time: self | cumulative | name``."""
    return {line.rsplit("|", 1)[1].strip() for line in importtime.splitlines()
            if line.startswith("import time:") and line.count("|") == 2}


def lightning_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in LIGHTNING)


@pytest.fixture
def model_dir(tmp_path) -> Path:
    """A model saved by lstmkit 0.2.0 (ETTh1, lookback 24, horizon 6), copied."""
    return shutil.copytree(MODEL, tmp_path / "model")


@pytest.fixture
def table(tmp_path, etth1) -> Path:
    """100 rows of ETTh1 as a CSV: enough windows to evaluate, the last 24 to predict."""
    path = tmp_path / "etth1.csv"
    etth1.iloc[:100].to_csv(path, index=False)
    return path


def test_the_check_sees_lightning_where_it_is_loaded(tmp_path):
    assert "lightning.pytorch" in imported_modules(["-c", "import lstmkit.training.loop"], tmp_path)


def test_loading_a_saved_model_and_predicting_imports_no_lightning(model_dir, table, tmp_path):
    code = ("import sys; from lstmkit import LSTMModel; "
            "LSTMModel.load(sys.argv[1]).predict(sys.argv[2]).to_csv(sys.argv[3], index=False)")
    out = tmp_path / "predicted.csv"
    modules = imported_modules(["-c", code, str(model_dir), str(table), str(out)], tmp_path)
    assert "lstmkit.model" in modules and not lightning_in(modules), lightning_in(modules)
    expected = LSTMModel.load(model_dir).predict(table)
    pd.testing.assert_frame_equal(pd.read_csv(out, parse_dates=["origin", "time"]), expected,
                                  check_exact=False, rtol=1e-6, check_dtype=False)


@pytest.mark.parametrize("command", ["predict", "evaluate", "export", "help"])
def test_commands_that_use_a_saved_model_import_no_lightning(command, model_dir, table,
                                                              tmp_path):
    out = tmp_path / "out"
    args = {"predict": ["predict", str(model_dir), str(table), "--output", f"{out}.csv",
                        "--no-progress"],
            "evaluate": ["evaluate", str(model_dir), str(table), "--json", f"{out}.json"],
            "export": ["export", str(model_dir), "--onnx", f"{out}.onnx"],
            "help": ["--help"]}[command]
    modules = imported_modules(["-m", "lstmkit", *args], tmp_path)
    assert "lstmkit.cli.command" in modules and not lightning_in(modules), lightning_in(modules)
    if command != "help":
        written = next(tmp_path.glob("out.*"))
        assert written.stat().st_size > 0
        assert command != "export" or "lstmkit.deploy.export" in modules


def test_serving_a_model_imports_no_lightning(model_dir, etth1, tmp_path):
    log = tmp_path / "serve.log"
    with running_server(model_dir, log) as url:
        body = etth1.iloc[:24].to_csv(index=False).encode()
        answer = httpx.post(f"{url}/predict", content=body, timeout=60,
                            headers={"content-type": "text/csv"})
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 6          # one origin, horizon 6
    modules = _modules(log.read_text())
    assert "lstmkit.deploy.serve" in modules and "lstmkit.pipeline" in modules
    assert not lightning_in(modules), lightning_in(modules)


@contextlib.contextmanager
def running_server(model_dir: Path, log: Path) -> Iterator[str]:
    """``python -X importtime -m lstmkit serve`` on a free port, everything it prints in
    ``log``; its URL once it answers, stopped afterwards."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "lstmkit", "serve",
                                    str(model_dir), "--port", str(port)], env=_env(),
                                   stdout=output, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while not _answers(url):
                assert process.poll() is None, f"the server exited: {log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, "the server did not answer within 120 s"
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.parametrize("variable", RANK_VARIABLES)
def test_the_rank_is_read_from_the_launcher_as_lightning_reads_it(variable, monkeypatch):
    from lightning.fabric.utilities.rank_zero import _get_rank

    for name in RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert global_rank() == 0 and _get_rank() is None
    monkeypatch.setenv(variable, "3")
    assert global_rank() == _get_rank() == 3


# -- the import graph --------------------------------------------------------------------
def import_graph(source: Path, package: str) -> dict[str, set[str]]:
    """Each module of ``package`` (under ``source``) -> the package's modules it imports,
    at module level or inside functions; imports under ``if TYPE_CHECKING:`` do not count,
    nor does the implicit import of a module's parent packages."""
    files = {_module_name(path, source): path for path in (source / package).rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package_parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        graph[name] = {
            _known(target, files) for node in _imports(ast.parse(path.read_text()))
            for target in _targets(node, package_parts, files)} - {name, None}
    return graph


def _module_name(path: Path, source: Path) -> str:
    parts = path.relative_to(source).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for branch in child.orelse:
                yield from _imports_in(branch)
            continue
        yield from _imports_in(child)


def _imports_in(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    yield from _imports(node)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(node: ast.Import | ast.ImportFrom, package_parts: list[str],
             files: dict[str, Path]) -> list[str]:
    """The dotted names an import statement loads: ``from . import x`` loads module ``x``
    where there is one, else the package it names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        parent = package_parts[:len(package_parts) - node.level + 1]
        base = ".".join([*parent, *([node.module] if node.module else [])])
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
            for alias in node.names]


def _known(name: str, files: dict[str, Path]) -> str | None:
    """``name``, or the innermost module of the package that holds it; None if outside."""
    while name and name not in files:
        name = name.rpartition(".")[0]
    return name or None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or None if it has none."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == "open":
                return [*path[path.index(child):], child]
            if child not in state and (cycle := visit(child)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_lstmkit_imports_its_modules_without_a_cycle():
    graph = import_graph(SOURCE, "lstmkit")
    assert {"lstmkit.model", "lstmkit.storage.artifact", "lstmkit.cli.config",
            "lstmkit.tuning.tune"} <= set(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_graph_counts_imports_in_functions_and_not_type_checking_ones(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "low.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                    "    from .high import High\n")
    (package / "high.py").write_text("from . import low\n\ndef f():\n"
                                     "    from .sub.lazy import g\n    return g\n")
    (package / "sub" / "lazy.py").write_text("import os\n\nclass C:\n    def m(self):\n"
                                             "        from ..high import f\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph == {"pkg": set(), "pkg.sub": set(), "pkg.low": set(),
                     "pkg.high": {"pkg.low", "pkg.sub.lazy"}, "pkg.sub.lazy": {"pkg.high"}}
    assert find_cycle(graph) == ["pkg.high", "pkg.sub.lazy", "pkg.high"]
