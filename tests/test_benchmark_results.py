"""Every benchmark's raw results file reproduces the table BENCHMARKS.md shows for it.

``benchmarks/record.py`` is the one record of the benchmarks' raw figures; each committed
file under ``benchmarks/results/`` must parse, and the table its script prints from it
(``--table``: the same function, called here without measuring) must stand in
BENCHMARKS.md line for line, so that a table cannot drift from its file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results"
COMMITTED = sorted(p for p in RESULTS.iterdir() if not p.name.endswith("-quick.jsonl"))


def script(name: str) -> ModuleType:
    """The benchmark script ``benchmarks/NAME.py`` (or the peers' runner) as a module."""
    path = BENCHMARKS / ("peers/run_peers.py" if name == "peers" else f"{name}.py")
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", path)
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


def documented_lines() -> set[str]:
    return {line.strip() for line in (ROOT / "BENCHMARKS.md").read_text().splitlines()}


def test_a_run_and_its_cases_round_trip_through_the_results_file(tmp_path):
    record = script("record")
    path = tmp_path / "results" / "demo.jsonl"
    first = record.start(argparse.Namespace(results=path, table=False, repeats=3), "demo",
                         peak_gflops=82.5)
    first.add({"case": "a", "seconds": [0.25, 0.5, 0.75]})
    first.add({"case": "b", "seconds": [1.0]})
    second = record.start(argparse.Namespace(results=path, table=False, repeats=1), "demo")
    second.add({"case": "a", "seconds": [2.0]})

    (about, cases), (about_2, cases_2) = record.runs(path)
    assert cases == [{"case": "a", "seconds": [0.25, 0.5, 0.75]}, {"case": "b", "seconds": [1.0]}]
    assert cases_2 == [{"case": "a", "seconds": [2.0]}]
    assert about["options"] == {"repeats": 3} and about_2["options"] == {"repeats": 1}
    assert about["peak_gflops"] == 82.5 and about["benchmark"] == "demo"
    assert about["commit"] and about["date"].endswith("+00:00")
    assert about["command"].startswith("python ")
    assert about["machine"]["cores"] >= 1 and about["machine"]["packages"]["pandas"]
    assert "commit" in record.heading(about) and about["machine"]["cpu"] in record.heading(about)


def test_a_line_that_is_not_a_record_is_refused_with_its_file_and_line(tmp_path):
    record = script("record")
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps({"run": {"date": "x"}, "a": 1}) + "\n{not json\n")
    with pytest.raises(SystemExit, match=r"broken\.jsonl, line 2: not a benchmark record"):
        record.runs(path)


def test_quick_runs_go_to_a_file_of_their_own_unless_one_is_named():
    record = script("record")
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    record.add_options(parser, "speed")
    quick = parser.parse_args(["--quick"])
    record.quick_path(quick, parser)
    assert quick.results == RESULTS / "speed-quick.jsonl"
    named = parser.parse_args(["--quick", "--results", "x.jsonl"])
    record.quick_path(named, parser)
    assert named.results == Path("x.jsonl")
    assert parser.parse_args([]).results == RESULTS / "speed.jsonl"


@pytest.mark.parametrize("path", COMMITTED, ids=[p.name for p in COMMITTED])
def test_each_committed_results_file_reproduces_its_table_in_benchmarks_md(path):
    documented = documented_lines()
    if path.name == "import_time.jsonl":        # its own format: one line per phase and run
        runs = [json.loads(line) for line in path.read_text().splitlines()]
        labels = list(dict.fromkeys(r["label"] for r in runs))
        for phase in dict.fromkeys(r["phase"] for r in runs):
            medians = [statistics.median(r["seconds"] for r in runs
                                         if (r["label"], r["phase"]) == (label, phase))
                       for label in labels]
            cells = " | ".join(f"{m:.3f}" for m in medians) + " |"
            assert any(line.endswith(cells) for line in documented), (phase, cells)
        return
    if path.name == "read_limits.json":         # its own format: one object per label
        lines = script("read_limits").table(json.loads(path.read_text())).splitlines()
    else:
        record = script("record")
        lines = []
        for about, cases in record.runs(path):
            benchmark = script(about["benchmark"])
            if hasattr(benchmark, "file_table"):   # one table over runs (resumed ones)
                lines = benchmark.file_table(path)
                break
            lines += benchmark.table(about, cases)
    assert lines
    missing = [line for line in lines if line.strip() not in documented]
    assert not missing, f"{path.name}: not in BENCHMARKS.md: {missing}"


def zoo(name: str) -> ModuleType:
    """A script of ``benchmarks/zoo`` as a module (its siblings importable)."""
    folder = str(BENCHMARKS / "zoo")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(f"zoo_{name}", BENCHMARKS / "zoo" / f"{name}.py")
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


def test_the_classification_zoo_tables_stand_in_benchmarks_md():
    """``classify.py --report`` (TEST), its ``--development`` and ``--held-out`` tables and
    the neighbour rules' study (``neighbour_rules.py --report``), from their committed rows."""
    classify, rules = zoo("classify"), zoo("neighbour_rules")

    def rows(path: Path) -> list[dict]:
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    tables = [classify.report(rows(classify.RESULTS)),
              classify.report(rows(classify.HELD_RESULTS)),
              classify.development_report(rows(classify.RESULTS.with_name(
                  "results-classify-development.jsonl"))),
              rules.report(rows(rules.RESULTS))]
    documented = documented_lines()
    missing = [line for table in tables for line in table.splitlines()
               if line.strip() not in documented]
    assert not missing, f"not in BENCHMARKS.md: {missing}"


def zoo_report_commands() -> list[list[str]]:
    """The labels of each ``benchmarks/zoo/run.py --report LABEL...`` command in
    BENCHMARKS.md (lines continued with a backslash joined; comments dropped)."""
    import shlex

    text = (ROOT / "BENCHMARKS.md").read_text().replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True) if line.startswith("python ") else []
        if words[1:2] == ["benchmarks/zoo/run.py"] and "--report" in words:
            labels = words[words.index("--report") + 1:]
            commands.append(labels[:next((i for i, w in enumerate(labels)
                                           if w.startswith("--")), len(labels))])
    return commands


def test_the_forecasting_zoo_tables_stand_in_benchmarks_md():
    """Each ``run.py --report LABEL...`` in BENCHMARKS.md (the development zoo, its held-out
    tables) prints, from the committed rows, a table that stands there line for line."""
    run = zoo("run")
    results = run._read(run.RESULTS)
    commands = zoo_report_commands()
    assert len(commands) >= 2 and all(commands)
    documented = documented_lines()
    for labels in commands:
        assert set(labels) <= {r["label"] for r in results}, labels
        table = run.report([r for r in results if r["label"] in labels], labels)
        missing = [line for line in table.splitlines() if line.strip() not in documented]
        assert not missing, f"{labels}: not in BENCHMARKS.md: {missing}"


def test_the_classical_forecasters_tables_stand_in_benchmarks_md():
    """``classical.py --report`` and ``--report --heldout`` print, from the committed rows
    and ``run.py``'s, tables (the forecasters; the default with candidates chosen on
    validation) that stand in BENCHMARKS.md line for line."""
    classical = zoo("classical")
    records = classical.zoo._read(classical.RESULTS)
    documented = documented_lines()
    for which, label in classical.LABELS.items():
        rows = [r for r in records if r["zoo"] == which]
        assert rows, which
        default = classical.lstmkit_rows(label)
        table = classical.report(rows, default) + "\n" + classical.choices_report(rows, default)
        missing = [line for line in table.splitlines() if line.strip() not in documented]
        assert not missing, f"{which}: not in BENCHMARKS.md: {missing}"
