"""Nothing the user had is lost: every command that writes, played through the real CLI on
real files, and the same promises through the Python API.

Each refusal row hashes every file, directory and link under the test's folder before and
after the command and asserts they are identical, and that the command printed one line
``error: ...`` and exited with the class's code. The rows run before any training: the
checks come first. Models are copies of the one lstmkit 0.2.0 saved (tests/fixtures), so
most rows train nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file

from lstmkit import ArtifactError, ConfigError, LSTMModel
from lstmkit.analysis import plots
from lstmkit.cli.command import main
from lstmkit.deploy.batch import write_predictions
from lstmkit.training import checkpoint
from tests.fixtures.v0_2_0.make import etth1, unfinished_data

FIXTURES = Path(__file__).parent / "fixtures" / "v0_2_0"
UNWRITABLE = Path("/proc")     # a folder nobody, root included, can create anything in
CONFIG = {"spec": {"time": "date", "inputs": ["HUFL", "OT"], "targets": ["OT"],
                   "lookback": 12, "horizon": 2},
          "model": {"hidden": 4}, "training": {"max_epochs": 1, "batch_size": 64}}
SEARCH = {"model.hidden": {"choice": [4, 5]}}


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``: a file's sha256, a link's target, or 'dir'."""
    entries = {}
    for root, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = Path(root) / name
            key = str(path.relative_to(folder))
            if path.is_symlink():
                entries[key] = f"link -> {os.readlink(path)}"
            elif path.is_dir():
                entries[key] = "dir"
            else:
                entries[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return entries


def write_config(path: Path, data: Path, **sections) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"data": {"path": str(data)}, **CONFIG, **sections}))
    return path


@pytest.fixture
def home(tmp_path, monkeypatch) -> SimpleNamespace:
    """The user's folder (also the current directory): a config and its data, a project
    folder with notes and their own PyTorch checkpoint, a model lstmkit saved and a table."""
    unfinished_data().to_csv(tmp_path / "data.csv", index=False)
    config = write_config(tmp_path / "config.yaml", tmp_path / "data.csv")
    proj = tmp_path / "proj"
    (proj / "checkpoints").mkdir(parents=True)
    (proj / "notes.md").write_text("# what I tried\n")
    (proj / "checkpoints" / "epoch10.pt").write_bytes(b"my own torch.save of epoch 10")
    model = shutil.copytree(FIXTURES / "models" / "forecast_default", tmp_path / "model")
    etth1(300).to_csv(tmp_path / "recent.csv", index=False)
    monkeypatch.chdir(tmp_path)
    return SimpleNamespace(tmp=tmp_path, config=config, data=tmp_path / "data.csv", proj=proj,
                           model=model, recent=tmp_path / "recent.csv")


def _hard_link(h: SimpleNamespace) -> Path:
    os.link(h.recent, h.tmp / "linked.csv")
    return h.tmp / "linked.csv"


def _symlink(h: SimpleNamespace, target: Path, name: str = "link") -> Path:
    (h.tmp / name).symlink_to(target)
    return h.tmp / name


def _own_run_with_notes(h: SimpleNamespace) -> Path:
    run = shutil.copytree(h.model, h.tmp / "run")
    (run / "notes.md").write_text("results look good\n")
    return run


def _backtest_dir(h: SimpleNamespace, *more: str) -> Path:
    (h.tmp / "bt").mkdir()
    for name in ("backtest.csv", "backtest.png", *more):
        (h.tmp / "bt" / name).write_text("0\n")
    return h.tmp / "bt"


def _users_best(h: SimpleNamespace) -> Path:
    (h.tmp / "search").mkdir()
    (h.tmp / "search" / "best.yaml").write_text("model: {hidden: 64}   # what worked for me\n")
    return h.tmp / "search"


def _folder_with_config(h: SimpleNamespace) -> Path:
    shutil.copy(h.data, h.tmp / "exp.csv")
    return write_config(h.tmp / "exp" / "exp.yaml", h.tmp / "exp.csv")


def _data_inside(h: SimpleNamespace) -> Path:
    (h.tmp / "tables").mkdir()
    shutil.copy(h.data, h.tmp / "tables" / "d.csv")
    return write_config(h.tmp / "d.yaml", h.tmp / "tables" / "d.csv")


def _test_section(h: SimpleNamespace, table: str | None) -> Path:
    test = h.tmp / "test.csv"
    if table is not None:
        pd.read_csv(h.data)[["date", table]].to_csv(test, index=False)
    return write_config(h.tmp / "with_test.yaml", h.data, test={"path": str(test)})


def _tune_config(h: SimpleNamespace) -> Path:
    return write_config(h.tmp / "tune.yaml", h.data, search=SEARCH, split={"val_start": 0.7})


def _folder(h: SimpleNamespace, name: str) -> Path:
    (h.tmp / name).mkdir()
    (h.tmp / name / "mine.txt").write_text("mine\n")
    return h.tmp / name


def _file(h: SimpleNamespace, name: str, text: str) -> Path:
    (h.tmp / name).write_text(text)
    return h.tmp / name


Args = Callable[[SimpleNamespace], list]
# id: (the command, given the user's folder; exit code; a fragment of its one-line error)
REFUSALS: dict[str, tuple[Args, int, str]] = {
    # fit: the run directory
    "fit into the user's project folder": (
        lambda h: ["fit", h.config, "--run-dir", h.proj], 2, "lstmkit did not write it"),
    "fit --resume in the user's project folder": (
        lambda h: ["fit", h.config, "--run-dir", h.proj, "--resume"], 2,
        "lstmkit did not write it"),
    "fit --overwrite the user's project folder": (
        lambda h: ["fit", h.config, "--run-dir", h.proj, "--overwrite"], 2,
        "even with --overwrite"),
    "fit --overwrite the current directory": (
        lambda h: ["fit", h.config, "--run-dir", ".", "--overwrite"], 2,
        "is the current directory"),
    "fit --overwrite a folder above the current one": (
        lambda h: ["fit", h.config, "--run-dir", "..", "--overwrite"], 2,
        "the current directory or holds it"),
    "fit --overwrite the config's own folder": (
        lambda h: ["fit", _folder_with_config(h), "--run-dir", h.tmp / "exp", "--overwrite"],
        2, "holds the input"),
    "fit --overwrite a folder above the data": (
        lambda h: ["fit", _data_inside(h), "--run-dir", h.tmp / "tables", "--overwrite"], 2,
        "holds the input"),
    "fit into a file": (
        lambda h: ["fit", h.config, "--run-dir", h.proj / "notes.md", "--overwrite"], 2,
        "exists and is not a directory"),
    "fit into a symlink to a folder": (
        lambda h: ["fit", h.config, "--run-dir", _symlink(h, h.proj), "--overwrite"], 2,
        "is a symbolic link"),
    "fit into a symlink to a model": (
        lambda h: ["fit", h.config, "--run-dir", _symlink(h, h.model), "--overwrite"], 2,
        "is a symbolic link"),
    "fit under a file": (
        lambda h: ["fit", h.config, "--run-dir", h.proj / "notes.md" / "run"], 2,
        "is a file where a directory is expected"),
    "fit inside a model directory": (
        lambda h: ["fit", h.config, "--run-dir", h.model / "again"], 2,
        "inside the lstmkit model directory"),
    "fit in a folder nothing can be written to": (
        lambda h: ["fit", h.config, "--run-dir", UNWRITABLE / "lstmkit-run"], 2,
        "nothing can be created in the folder"),
    "fit --overwrite a run holding the user's notes": (
        lambda h: ["fit", h.config, "--run-dir", _own_run_with_notes(h), "--overwrite"], 2,
        "holds 'notes.md', which lstmkit did not write"),
    "fit --overwrite a backtest": (
        lambda h: ["fit", h.config, "--run-dir", _backtest_dir(h), "--overwrite"], 2,
        "is an lstmkit backtest directory, not a model one"),
    "fit --resume a finished run": (
        lambda h: ["fit", h.config, "--run-dir", h.model, "--resume"], 2,
        "holds a finished run, nothing to resume"),
    "fit with a test file that is missing": (
        lambda h: ["fit", _test_section(h, None), "--run-dir", "runs/new"], 3,
        "does not exist"),
    "fit with a test file without the target": (
        lambda h: ["fit", _test_section(h, "HUFL"), "--run-dir", "runs/new"], 3,
        "section 'test'"),
    # predict -o
    "predict over its input": (
        lambda h: ["predict", h.model, h.recent, "-o", h.recent], 2, "is the input"),
    "predict --overwrite its input": (
        lambda h: ["predict", h.model, h.recent, "-o", h.recent, "--overwrite"], 2,
        "being read, which lstmkit never writes over, even with --overwrite"),
    "predict --overwrite a hard link to its input": (
        lambda h: ["predict", h.model, h.recent, "-o", _hard_link(h), "--overwrite"], 2,
        "is the input"),
    "predict --overwrite a symlink to its input": (
        lambda h: ["predict", h.model, h.recent, "-o", _symlink(h, h.recent, "link.csv"),
                   "--overwrite"],
        2, "is a symbolic link"),
    "predict over an existing file": (
        lambda h: ["predict", h.model, h.recent, "-o", h.data], 2,
        "already exists; pass --overwrite"),
    "predict --overwrite the user's table": (
        lambda h: ["predict", h.model, h.recent, "-o", h.data, "--overwrite"], 2,
        "is not an lstmkit predictions file"),
    "predict --overwrite into the model directory": (
        lambda h: ["predict", h.model, h.recent, "-o", h.model / "out.csv", "--overwrite"], 2,
        "inside the lstmkit model directory"),
    "predict into a directory": (
        lambda h: ["predict", h.model, h.recent, "-o", _folder(h, "out.csv")], 2,
        "is a directory"),
    "predict in a folder nothing can be written to": (
        lambda h: ["predict", h.model, h.recent, "-o", UNWRITABLE / "out.csv"], 2,
        "nothing can be created in the folder"),
    # evaluate --json
    "evaluate --overwrite the model's config": (
        lambda h: ["evaluate", h.model, h.recent, "--json", h.model / "config.json",
                   "--overwrite"], 2, "inside the lstmkit model directory"),
    "evaluate over its input": (
        lambda h: ["evaluate", h.model, h.recent, "--json", h.recent, "--overwrite"], 2,
        "is the input"),
    "evaluate over an existing file": (
        lambda h: ["evaluate", h.model, h.recent, "--json", _file(h, "m.json", "{}")], 2,
        "already exists; pass --overwrite"),
    "evaluate --overwrite the user's JSON": (
        lambda h: ["evaluate", h.model, h.recent, "--json", _file(h, "m.json", '{"a": 1}'),
                   "--overwrite"], 2, "is not an lstmkit metrics file"),
    # calibrate --out
    "calibrate --overwrite the model it reads": (
        lambda h: ["calibrate", h.model, h.recent, "--coverage", "0.8", "--part", "all",
                   "--out", h.model, "--overwrite"], 2, "holds the input"),
    # export --onnx
    "export --overwrite into the model directory": (
        lambda h: ["export", h.model, "--onnx", h.model / "model.onnx", "--overwrite"], 4,
        "inside the lstmkit model directory"),
    "export --overwrite the user's file": (
        lambda h: ["export", h.model, "--onnx", _file(h, "m.onnx", "mine"), "--overwrite"], 4,
        "is not an lstmkit ONNX export"),
    # backtest and tune directories
    "backtest --overwrite the user's project folder": (
        lambda h: ["backtest", h.config, "--folds", "2", "--run-dir", h.proj, "--overwrite"], 2,
        "lstmkit did not write it"),
    "backtest --overwrite a model directory": (
        lambda h: ["backtest", h.config, "--folds", "2", "--run-dir", h.model, "--overwrite"],
        2, "is an lstmkit model directory, not a backtest one"),
    "backtest --overwrite a folder with a backtest.csv and notes": (
        lambda h: ["backtest", h.config, "--folds", "2", "--run-dir", _backtest_dir(h, "notes"),
                   "--overwrite"], 2, "lstmkit did not write it"),
    "tune into the user's project folder": (
        lambda h: ["tune", _tune_config(h), "--trials", "1", "--run-dir", h.proj, "--overwrite"],
        2, "lstmkit did not write it"),
    "tune --overwrite the user's best.yaml": (
        lambda h: ["tune", _tune_config(h), "--trials", "1", "--run-dir", _users_best(h),
                   "--overwrite"], 2, "is not an lstmkit tune result"),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_a_refused_command_changes_nothing(home, capsys, case):
    make, code, fragment = REFUSALS[case]
    args = [str(a) for a in make(home)]
    before = snapshot(home.tmp)
    assert main(args) == code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert fragment in lines[0], lines[0]
    assert snapshot(home.tmp) == before


def test_the_model_still_loads_after_evaluate_was_refused_its_config(home, capsys):
    main(["evaluate", str(home.model), str(home.recent), "--json",
          str(home.model / "config.json"), "--overwrite"])
    LSTMModel.load(home.model).predict(pd.read_csv(home.recent))


def test_lstmkit_replaces_its_own_outputs_with_overwrite_only(home, capsys):
    for command in (["predict", home.model, home.recent, "-o", "out.csv"],
                    ["predict", home.model, home.recent, "-o", "out.parquet"],
                    ["evaluate", home.model, home.recent, "--json", "m.json"]):
        args = [str(a) for a in command]
        assert main(args) == 0, capsys.readouterr().err
        first = snapshot(home.tmp)
        assert main(args) == 2                                # exists: needs --overwrite
        assert "already exists" in capsys.readouterr().err
        assert main([*args, "--overwrite"]) == 0, capsys.readouterr().err
        assert set(snapshot(home.tmp)) == set(first)         # replaced: no file more or less
    pd.testing.assert_frame_equal(pd.read_csv("out.csv", parse_dates=["origin", "time"]),
                                  LSTMModel.load(home.model).predict(pd.read_csv(home.recent)),
                                  check_dtype=False)


def test_a_run_written_by_0_2_0_or_now_is_replaced_with_overwrite(home, capsys):
    user = {k: v for k, v in snapshot(home.tmp).items() if not k.startswith("model")}
    assert main(["fit", str(home.config), "--run-dir", str(home.model), "--overwrite",
                 "--no-progress"]) == 0, capsys.readouterr().err
    assert (home.model / "metrics.json").is_file()           # 0.2.0's model is now a run
    assert main(["fit", str(home.config), "--run-dir", str(home.model), "--overwrite",
                 "--no-progress"]) == 0, capsys.readouterr().err   # every file is lstmkit's
    assert main(["fit", str(home.config), "--run-dir", str(home.model), "--no-progress"]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert {k: v for k, v in snapshot(home.tmp).items() if not k.startswith("model")} == user
    assert not [p for p in home.tmp.iterdir() if p.name.startswith(".")]   # no temporaries


KILLED_BETWEEN_RENAMES = """
import os, signal, sys
rename = os.rename
def dying_rename(source, target):
    rename(source, target)
    if ".old-" in os.fspath(target):          # the run directory was just set aside
        os.kill(os.getpid(), signal.SIGKILL)  # ... and the save dies before the new one is in
os.rename = dying_rename
from lstmkit.cli.command import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_fit_killed_between_the_renames_of_its_save_resumes_without_training(home, capsys):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = subprocess.run([sys.executable, "-c", KILLED_BETWEEN_RENAMES, "fit",
                             str(home.config), "--run-dir", "run", "--no-progress"],
                            cwd=home.tmp, env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (home.tmp / "run").exists()
    (old,) = home.tmp.glob(".run.old-*")
    (new,) = home.tmp.glob(".run.tmp-*")                     # the new run, never swapped in
    trained = checkpoint.read(old / "checkpoints")
    assert trained.meta["finished"]
    expected = load_file(new / "weights.safetensors")         # trained, then set on validation
    user = snapshot(home.tmp / "proj") | {"data": snapshot(home.tmp)["data.csv"]}

    assert main(["fit", str(home.config), "--run-dir", "run", "--resume", "--no-progress"]) == 0
    assert "resuming" in capsys.readouterr().out
    saved = load_file(home.tmp / "run" / "weights.safetensors")
    learned = trained.section("network")
    assert all(torch.equal(saved[k], learned[k]) for k in learned
               if k != "norm.trust")             # not trained again (trust: set afterwards)
    assert saved.keys() == expected.keys()
    assert all(torch.equal(saved[k], expected[k]) for k in expected)   # what the killed run had
    assert not [p for p in home.tmp.iterdir() if p.name.startswith(".run.")]
    assert snapshot(home.tmp / "proj") | {"data": snapshot(home.tmp)["data.csv"]} == user


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_temporaries_of_gone_writers_are_removed_and_live_ones_kept(home, capsys):
    dead, day = _dead_pid(), 24 * 3600
    live = os.getpid()
    names = {"dead": f".out.csv.tmp-{dead}-0123abcd", "live": f".out.csv.tmp-{live}-456789ab",
             "old_0_2_0": ".out.csv.tmp-0badcafe", "young_0_2_0": ".out.csv.tmp-1badcafe",
             "dead_dir": f".saved.tmp-{dead}-0123abcd", "dead_aside": f".saved.old-{dead}-4567abcd",
             "live_dir": f".saved.tmp-{live}-89abcdef"}
    for key, name in names.items():
        path = home.tmp / name
        if "dir" in key or "aside" in key:
            path.mkdir()
            (path / "weights.safetensors").write_bytes(b"half")
        else:
            path.write_bytes(b"half")
    os.utime(home.tmp / names["old_0_2_0"], (time.time() - 2 * day,) * 2)
    os.utime(home.tmp / names["young_0_2_0"], (time.time() - day / 2,) * 2)
    (home.tmp / "saved").mkdir()                 # the target exists: the aside one is stale

    assert main(["predict", str(home.model), str(home.recent), "-o", "out.csv"]) == 0
    LSTMModel.load(home.model).save(home.tmp / "saved", overwrite=True)
    left = {key for key, name in names.items() if (home.tmp / name).exists()}
    assert left == {"live", "young_0_2_0", "live_dir"}


# -- the Python API -----------------------------------------------------------------------
@pytest.fixture
def model(home) -> LSTMModel:
    return LSTMModel.load(home.model)


def _frames(model: LSTMModel, h: SimpleNamespace) -> list[pd.DataFrame]:
    return [model.predict(pd.read_csv(h.recent))]


Call = Callable[[LSTMModel, SimpleNamespace, Path], object]
# id: (the path, given the user's folder; the call that writes it; the error; a fragment)
API: dict[str, tuple[Callable[[SimpleNamespace], Path], Call, type, str]] = {
    "save over the user's folder": (
        lambda h: h.proj, lambda m, h, p: m.save(p, overwrite=True), ArtifactError,
        "lstmkit did not write it"),
    "save over a model holding the user's notes": (
        _own_run_with_notes, lambda m, h, p: m.save(p, overwrite=True), ArtifactError,
        "holds 'notes.md'"),
    "save into the current directory": (
        lambda h: Path("."), lambda m, h, p: m.save(p, overwrite=True), ArtifactError,
        "is the current directory"),
    "save inside a model": (
        lambda h: h.model / "copy", lambda m, h, p: m.save(p), ArtifactError,
        "inside the lstmkit model directory"),
    "save over a symlink": (
        lambda h: _symlink(h, h.tmp / "nowhere"), lambda m, h, p: m.save(p), ArtifactError,
        "is a symbolic link"),
    "save over a model without overwrite": (
        lambda h: h.model, lambda m, h, p: m.save(p), ArtifactError,
        "already exists; pass --overwrite"),
    "export over the user's file": (
        lambda h: _file(h, "m.onnx", "mine"), lambda m, h, p: m.export_onnx(p, overwrite=True),
        ArtifactError, "is not an lstmkit ONNX export"),
    "export into the model": (
        lambda h: h.model / "m.onnx", lambda m, h, p: m.export_onnx(p), ArtifactError,
        "inside the lstmkit model directory"),
    "write predictions over the user's table": (
        lambda h: h.data, lambda m, h, p: write_predictions(_frames(m, h), p, overwrite=True),
        ConfigError, "is not an lstmkit predictions file"),
    "write predictions over the input": (
        lambda h: h.recent,
        lambda m, h, p: write_predictions(_frames(m, h), p, overwrite=True, reading=[h.recent]),
        ConfigError, "is the input"),
    "write predictions without overwrite": (
        lambda h: h.data, lambda m, h, p: write_predictions(_frames(m, h), p), ConfigError,
        "already exists; pass --overwrite"),
    "plot over the user's picture": (
        lambda h: _file(h, "me.png", "a photo"),
        lambda m, h, p: plots.learning_curves(m.history_, save=p), ConfigError,
        "is not an lstmkit plot"),
    "plot into the model": (
        lambda h: h.model / "lc.png", lambda m, h, p: plots.learning_curves(m.history_, save=p),
        ConfigError, "inside the lstmkit model directory"),
}


@pytest.mark.parametrize("case", API, ids=list(API))
def test_the_python_api_keeps_the_same_promises(home, model, case):
    setup, call, error, fragment = API[case]
    path = setup(home)
    before = snapshot(home.tmp)
    with pytest.raises(error) as info:
        call(model, home, path)
    assert fragment in str(info.value), str(info.value)
    assert snapshot(home.tmp) == before


def test_the_python_api_replaces_its_own_artifacts(home, model):
    model.save(home.tmp / "m")
    model.save(home.tmp / "m", overwrite=True)
    model.export_onnx(home.tmp / "m.onnx")
    model.export_onnx(home.tmp / "m.onnx", overwrite=True)
    write_predictions(_frames(model, home), home.tmp / "p.parquet")
    assert write_predictions(_frames(model, home), home.tmp / "p.parquet", overwrite=True) == 6
    plots.learning_curves(model.history_, save=home.tmp / "lc.png")
    plots.learning_curves(model.history_, save=home.tmp / "lc.png")    # its own plot: replaced
    assert not [p for p in home.tmp.iterdir() if p.name.startswith(".")]
