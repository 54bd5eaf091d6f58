"""One table of bad inputs across the Python API, the CLI and the config file.

Every row must raise one of lstmkit's own exceptions (CLI: print one line, no
traceback, and exit with the class's documented code) whose message names the
offending column / row / key / value / file and says how to fix it.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from lstmkit import (
    ArtifactError,
    ConfigError,
    DataError,
    Feature,
    LSTMModel,
    SchemaError,
    Spec,
    Split,
    Target,
)
from lstmkit.cli import main
from tests.conftest import ETTH1

INPUTS = ["HUFL", "HULL", "MUFL", "OT"]
SPEC = Spec(time="date", inputs=INPUTS, targets=["OT"], lookback=24, horizon=4)
EXIT = {ConfigError: 2, DataError: 3, SchemaError: 3, ArtifactError: 4}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A directory with a real CSV (ETTh1, 600 rows), a config and a fitted, saved model."""
    home = tmp_path_factory.mktemp("errors")
    table = pd.read_csv(ETTH1).iloc[:600]
    table.to_csv(home / "etth1.csv", index=False)
    (home / "etth1.yaml").write_text(yaml.safe_dump(_config()))
    LSTMModel(SPEC, hidden=4, max_epochs=1, progress=False).fit(table).save(home / "model")
    return home


def _config(**changes) -> dict:
    config = {"data": {"path": "etth1.csv"},
              "spec": {"time": "date", "inputs": INPUTS, "targets": ["OT"], "lookback": 24,
                       "horizon": 4},
              "model": {"hidden": 4}, "training": {"max_epochs": 1}}
    for key, value in changes.items():
        section, _, name = key.partition(".")
        if name:
            config.setdefault(section, {})[name] = value
        else:
            config[section] = value
    return config


def table(home: Path) -> pd.DataFrame:
    return pd.read_csv(home / "etth1.csv")


def edited(column: str, row: int, value) -> Callable[[Path], pd.DataFrame]:
    def make(home: Path) -> pd.DataFrame:
        frame = table(home)
        if isinstance(value, str):
            frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame
    return make


def fit(make: Callable[[Path], object], spec: Spec = SPEC, **params) -> Callable[[Path], object]:
    return lambda home: LSTMModel(spec, hidden=4, max_epochs=1, progress=False,
                                  **params).fit(make(home))


def predict(make: Callable[[Path], object]) -> Callable[[Path], object]:
    return lambda home: LSTMModel.load(home / "model").predict(make(home))


def written(name: str, content: bytes | str) -> Callable[[Path], str]:
    def make(home: Path) -> str:
        path = home / name
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        return str(path)
    return make


def yaml_file(text: str) -> Callable[[Path], None]:
    return lambda home: (home / "bad.yaml").write_text(text)


def config(**changes) -> Callable[[Path], None]:
    return lambda home: (home / "bad.yaml").write_text(yaml.safe_dump(_config(**changes)))


PARQUET = pd.read_csv(ETTH1).iloc[:100].to_parquet()

# (surface, what to run, the error class, fragments of the message)
API = {
    "fit: missing input column": (fit(lambda h: table(h).drop(columns="MUFL")), DataError,
                                  ["input column 'MUFL' is missing"]),
    "fit: renamed column": (fit(lambda h: table(h).rename(columns={"HULL": "hull"})),
                            DataError, ["'HULL' is missing", "did you mean 'hull'"]),
    "fit: text in a numeric column": (fit(edited("HUFL", 7, "5,3")), DataError,
                                      ["'HUFL' must be numeric", "'5,3' at row 7"]),
    "fit: mixed types in a column": (fit(edited("MUFL", 300, "high")), DataError,
                                     ["'MUFL' must be numeric", "'high' at row 300"]),
    "fit: missing-value sentinel": (fit(edited("HULL", 12, "N/A")), DataError,
                                    ["'N/A' at row 12", "missing-value marker", "na_values"]),
    "fit: NaN in an input": (fit(edited("HULL", 50, np.nan)), DataError,
                             ["'HULL' has a missing value (NaN) at row 50", "missing='ffill'"]),
    "fit: inf in an input": (fit(edited("HUFL", 9, np.inf)), DataError,
                             ["'HUFL' holds inf at row 9"]),
    "fit: -inf in a target": (fit(edited("OT", 99, -np.inf)), DataError,
                              ["'OT' holds -inf at row 99"]),
    "fit: target with no training values": (
        fit(lambda h: table(h).assign(OT2=np.nan),
            Spec(time="date", inputs=INPUTS, targets=["OT2"], lookback=24)), DataError,
        ["'OT2' has no values in the training part"]),
    "fit: empty table": (fit(lambda h: table(h).iloc[:0]), DataError, ["no rows"]),
    "fit: a single row": (fit(lambda h: table(h).iloc[:1]), DataError,
                          ["has 1 rows", "lookback + horizon = 28"]),
    "fit: duplicate timestamp": (fit(edited("date", 40, "2016-07-02 15:00:00")), DataError,
                                 ["duplicate timestamp", "row 40"]),
    "fit: unsorted timestamps": (fit(lambda h: table(h).iloc[[0, 2, 1, *range(3, 600)]]),
                                 DataError, ["out-of-order timestamp", "row 1"]),
    "fit: irregular time steps": (fit(lambda h: table(h).drop(index=[200, 201])), DataError,
                                  ["jumps from 2016-07-09 07:00:00 to 2016-07-09 10:00:00",
                                   "regular=False"]),
    "fit: series shorter than lookback + horizon": (
        fit(lambda h: table(h).iloc[:20]), DataError, ["has 20 rows", "lookback + horizon"]),
    "fit: unreadable time": (fit(edited("date", 3, "tomorrow")), DataError,
                             ["time column 'date' cannot be read as dates"]),
    "fit: a class only after the training rows": (
        fit(lambda h: table(h).assign(level=lambda f: np.where(f.HUFL > 5, "high", "low"))
            .assign(level=lambda f: f.level.where(f.index != 590, "spike")),
            Spec(time="date", inputs=INPUTS, targets=[Target("level", kind="classification")],
                 lookback=24), split=Split(0.9, None)),
        DataError, ["'level' has", "at row 590", "not seen in the training part"]),
    "fit: lookback zero": (lambda h: Spec(inputs=INPUTS, targets=["OT"], lookback=0),
                           ConfigError, ["lookback (forecast) must be a positive integer"]),
    "fit: horizon negative": (lambda h: Spec(inputs=INPUTS, targets=["OT"], lookback=4,
                                             horizon=-2), ConfigError,
                              ["horizon (forecast) must be a positive integer, got -2"]),
    "fit: batch size zero": (fit(table, batch_size=0), ConfigError,
                             ["batch_size must be a positive integer, got 0"]),
    "fit: unknown scaler": (lambda h: Feature("OT", scaler="zscore"), ConfigError,
                            ["scaler of feature 'OT' must be one of"]),
    "fit: unknown missing policy": (lambda h: Feature("OT", missing="drop"), ConfigError,
                                    ["missing of feature 'OT' must be one of"]),
    "fit: 2-D arrays where 3-D are needed": (
        lambda h: LSTMModel(progress=False).fit([np.zeros(3), np.zeros(4)], np.zeros(2)),
        DataError, ["item 0 has shape (3,)", "reshape"]),
    "fit: 4-D arrays": (lambda h: LSTMModel(progress=False).fit(np.zeros((2, 3, 4, 5)),
                                                                np.zeros(2)),
                        DataError, ["got 4 dimension"]),
    "fit: a file that does not exist": (fit(lambda h: str(h / "nope.csv")), DataError,
                                        ["'", "nope.csv' does not exist"]),
    "fit: latin-1 CSV": (fit(written("latin.csv", "date,HUFL\n2016-07-01,caf\xe9\n"
                                     .encode("latin-1"))),
                         DataError, ["latin.csv", "UnicodeDecodeError", "valid CSV (UTF-8)"]),
    "fit: truncated Parquet": (fit(written("cut.parquet", PARQUET[: len(PARQUET) // 2])),
                               DataError, ["cut.parquet", "valid Parquet file", "truncated"]),
    "fit: corrupt gzip CSV": (fit(written("bad.csv.gz", gzip.compress(b"a,b\n1,2\n")[:-9])),
                              DataError, ["bad.csv.gz"]),
    "predict: missing column": (predict(lambda h: table(h).drop(columns="HULL")), SchemaError,
                                ["column 'HULL' is missing"]),
    "predict: renamed column": (predict(lambda h: table(h).rename(columns={"OT": "ot"})),
                                SchemaError, ["'OT' is missing", "did you mean 'ot'"]),
    "predict: text where numbers were": (predict(edited("MUFL", 5, "n.a.")), SchemaError,
                                         ["'MUFL' was numeric", "'n.a.'"]),
    "predict: NaN in an input": (predict(edited("HUFL", 590, np.nan)), DataError,
                                 ["'HUFL' has a missing value (NaN) at row 590"]),
    "predict: fewer rows than the lookback": (predict(lambda h: table(h).iloc[:10]), DataError,
                                              ["has 10 rows, fewer than lookback = 24"]),
    "predict: empty table": (predict(lambda h: table(h).iloc[:0]), DataError, ["no rows"]),
}

CLI = {
    "config: file missing": (None, ["fit", "none.yaml"], ConfigError,
                             ["config file 'none.yaml' does not exist"]),
    "config: not YAML": (yaml_file("spec: [1, 2\n"), ["fit", "bad.yaml"], ConfigError,
                         ["is not valid YAML"]),
    "config: not a mapping": (yaml_file("- just\n- a list\n"), ["fit", "bad.yaml"],
                              ConfigError, ["the config must be a mapping"]),
    "config: unknown section": (config(trainer={"lr": 1}), ["fit", "bad.yaml"], ConfigError,
                                ["unknown key 'trainer'", "did you mean 'training'"]),
    "config: unknown model key": (config(**{"model.hiden": 8}), ["fit", "bad.yaml"],
                                  ConfigError, ["unknown key 'hiden'", "did you mean 'hidden'"]),
    "config: unknown spec key": (config(**{"spec.lookbak": 8}), ["fit", "bad.yaml"],
                                 ConfigError, ["unknown key 'lookbak'",
                                               "did you mean 'lookback'"]),
    "config: unknown training key": (config(**{"training.learning_rate": 0.1}),
                                     ["fit", "bad.yaml"], ConfigError,
                                     ["unknown key 'learning_rate'"]),
    "config: lookback as text": (config(**{"spec.lookback": "ten"}), ["fit", "bad.yaml"],
                                 ConfigError, ["lookback (forecast) must be a positive integer",
                                               "'ten'"]),
    "config: inputs not a list": (config(**{"spec.inputs": 5}), ["fit", "bad.yaml"],
                                  ConfigError, ["inputs must be a list of column names"]),
    "config: 1e-4 read as text by YAML": (
        yaml_file("data: {path: etth1.csv}\nspec: {time: date, inputs: [OT], targets: [OT], "
                  "lookback: 24}\ntraining: {lr: 1e-4}\n"), ["fit", "bad.yaml"], ConfigError,
        ["training.lr is the text '1e-4'", "0.0001"]),
    "config: lr as text": (config(**{"training.lr": "fast"}), ["fit", "bad.yaml"], ConfigError,
                           ["lr must be a positive number, got 'fast'"]),
    "config: horizon zero": (config(**{"spec.horizon": 0}), ["fit", "bad.yaml"], ConfigError,
                             ["horizon (forecast) must be a positive integer, got 0"]),
    "config: batch size negative": (config(**{"training.batch_size": -8}), ["fit", "bad.yaml"],
                                    ConfigError, ["batch_size must be a positive integer"]),
    "config: split fraction out of range": (config(**{"split.val_start": 1.5}),
                                            ["fit", "bad.yaml"], ConfigError,
                                            ["split val_start=1.5"]),
    "config: empty data section": (config(data=None), ["fit", "bad.yaml"], ConfigError,
                                   ["section 'data' must be a mapping", "got NoneType"]),
    "config: data with path and dataset": (config(data={"path": "etth1.csv",
                                                        "dataset": "etth1"}),
                                           ["fit", "bad.yaml"], ConfigError,
                                           ["a data source needs exactly one of 'path'"]),
    "config: unknown data set": (config(data={"dataset": "etth9"}), ["fit", "bad.yaml"],
                                 DataError, ["unknown data set 'etth9'",
                                             "did you mean 'etth"]),
    "config: data file missing": (config(data={"path": "gone.csv"}), ["fit", "bad.yaml"],
                                  DataError, ["gone.csv' does not exist"]),
    "config: column missing in the data": (config(**{"spec.inputs": ["HUFL", "LOAD"]}),
                                           ["fit", "bad.yaml"], DataError,
                                           ["input column 'LOAD' is missing"]),
    "cli: run directory exists": (lambda h: (h / "taken").mkdir(exist_ok=True) or
                                  (h / "taken" / "notes.txt").write_text("mine"),
                                  ["fit", "etth1.yaml", "--run-dir", "taken"], ConfigError,
                                  ["'taken' already exists", "--overwrite"]),
    "cli: resume a finished run": (None, ["fit", "etth1.yaml", "--run-dir", "model",
                                          "--resume"], ConfigError,
                                   ["holds a finished run, nothing to resume"]),
    "cli: model directory missing": (None, ["predict", "nothing", "etth1.csv", "-o", "o.csv"],
                                     ArtifactError, ["no model directory at 'nothing'"]),
    "cli: not a model directory": (lambda h: (h / "empty").mkdir(exist_ok=True),
                                   ["predict", "empty", "etth1.csv", "-o", "o.csv"],
                                   ArtifactError, ["'empty' has no config.json"]),
    "cli: output of unknown type": (None, ["predict", "model", "etth1.csv", "-o", "o.xlsx"],
                                    ConfigError, ["'o.xlsx' must end in .csv or .parquet"]),
    "cli: predict data missing a column": (
        written("less.csv", table_text := "date,HUFL\n2016-07-01 00:00:00,1\n"),
        ["predict", "model", "less.csv", "-o", "o.csv"], SchemaError,
        ["column 'HULL' is missing"]),
    "cli: evaluate without targets": (
        lambda h: table(h).drop(columns="OT").to_csv(h / "no_ot.csv", index=False),
        ["evaluate", "model", "no_ot.csv"], SchemaError, ["column 'OT' is missing"]),
}


@pytest.mark.parametrize("case", API, ids=list(API))
def test_python_api(home, case):
    run, error, fragments = API[case]
    with pytest.raises(error) as info:
        run(home)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


@pytest.mark.parametrize("case", CLI, ids=list(CLI))
def test_cli_and_config(home, case, monkeypatch, capsys):
    setup, args, error, fragments = CLI[case]
    if setup is not None:
        setup(home)
    monkeypatch.chdir(home)
    code = main(args)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT[error] == error.exit_code
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_the_table_is_large_and_nothing_was_overwritten(home):
    assert len(API) + len(CLI) >= 40
    assert (home / "taken" / "notes.txt").read_text() == "mine"
    assert not (home / "o.csv").exists() and not (home / "o.xlsx").exists()


def test_inputs_that_are_fine_are_accepted(home):
    """Extra columns, another delimiter, a BOM and constant columns are not errors."""
    frame = table(home).assign(extra="ignored", flat=1.0)
    spec = Spec(time="date", inputs=[*INPUTS, "flat"], targets=["OT"], lookback=24)
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(frame)
    assert model.encoding_.input_scalers["flat"].scale == 1.0          # no division by zero
    semicolons = home / "semicolons.csv"
    frame.to_csv(semicolons, sep=";", index=False, encoding="utf-8-sig")   # with a BOM
    assert semicolons.read_bytes().startswith(b"\xef\xbb\xbf")
    pd.testing.assert_frame_equal(model.predict(frame), model.predict(str(semicolons)))
    assert np.isfinite(model.predict(frame)["OT"]).all()
