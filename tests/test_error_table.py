"""One table of bad inputs across the Python API, the CLI and the config file.

Every row must raise one of lstmkit's own exceptions (CLI: print one line, no
traceback, and exit with the class's documented code) whose message names the
offending column / row / key / value / file and says how to fix it.
"""

from __future__ import annotations

import gzip
import math
import os
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
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
from lstmkit.analysis import plots
from lstmkit.cli.command import main
from lstmkit.cli.config import RunConfig
from tests.conftest import ETTH1

INPUTS = ["HUFL", "HULL", "MUFL", "OT"]
SPEC = Spec(time="date", inputs=INPUTS, targets=["OT"], lookback=24, horizon=4)
EXIT = {ConfigError: 2, DataError: 3, SchemaError: 3, ArtifactError: 4}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A real CSV (ETTh1, 600 rows), a config and a fitted, saved model; never changed."""
    template = tmp_path_factory.mktemp("template")
    table = pd.read_csv(ETTH1).iloc[:600]
    table.to_csv(template / "etth1.csv", index=False)
    (template / "etth1.yaml").write_text(yaml.safe_dump(_config()))
    LSTMModel(SPEC, hidden=4, max_epochs=1, progress=False).fit(table).save(template / "model")
    return template


@pytest.fixture
def home(template, tmp_path) -> Path:
    """A fresh copy of ``template`` for one case: no case sees another's files."""
    return Path(shutil.copytree(template, tmp_path / "home"))


def files(root: Path) -> dict[str, bytes | None]:
    """Every file under ``root`` with its content, and every folder (None)."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in sorted(root.rglob("*"))}


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


def with_column(name: str, values) -> Callable[[Path], pd.DataFrame]:
    """The table with column ``name`` (any hashable) set to ``values``."""
    def make(home: Path) -> pd.DataFrame:
        frame = table(home)
        frame[name] = values(len(frame)) if callable(values) else values
        return frame
    return make


def spec_with(inputs=(), targets=("OT",)) -> Spec:
    return Spec(time="date", inputs=[*INPUTS, *inputs], targets=list(targets), lookback=24,
                horizon=4)


def model(**params) -> Callable[[Path], object]:
    """Fit the default spec with these hyperparameters (no tiny-model defaults)."""
    return lambda home: LSTMModel(SPEC, progress=False, max_epochs=1, **params).fit(table(home))


def repeated(key: str, first, second) -> Callable[[Path], None]:
    """A config whose ``training`` section sets ``key`` twice (lines 5 and 7)."""
    text = ("data: {path: etth1.csv}\nspec: {time: date, inputs: [OT], targets: [OT], "
            "lookback: 24}\nmodel: {hidden: 4}\ntraining:\n"
            f"  {key}: {first}\n  max_epochs: 1\n  {key}: {second}\n")
    return yaml_file(text)


def data_and_config(name: str, make: Callable[[Path], pd.DataFrame],
                    **changes) -> Callable[[Path], None]:
    """Write the table ``make`` gives as ``name`` (CSV or Parquet) and a config reading it."""
    def setup(home: Path) -> None:
        frame = make(home)
        if name.endswith(".parquet"):
            frame.to_parquet(home / name)
        else:
            frame.to_csv(home / name, index=False)
        (home / "bad.yaml").write_text(yaml.safe_dump(_config(data={"path": name}, **changes)))
    return setup


def csv_file(name: str, make: Callable[[Path], pd.DataFrame]) -> Callable[[Path], None]:
    return lambda home: make(home).to_csv(home / name, index=False)


CUDA = torch.cuda.is_available()
NO_GPU = (["a GPU id in devices must be an integer from 0 to"] if CUDA else
          ["accelerator 'gpu' needs a CUDA GPU", "torch.cuda.is_available() is False",
           "use accelerator 'cpu'"])
CORES = os.cpu_count() or 1
MIXED = ["a", 1, "b"] * 200
PARQUET = pd.read_csv(ETTH1).iloc[:100].to_parquet()

# (surface, what to run, the error class, fragments of the message)
API = {
    "fit: missing input column": (fit(lambda h: table(h).drop(columns="MUFL")), DataError,
                                  ["input column 'MUFL' is missing"]),
    "plot: a name of another format": (
        lambda h: plots.learning_curves(LSTMModel.load(h / "model").history_,
                                        save=h / "curves.svg"),
        ConfigError, ["curves.svg' must end in .png", "such as 'curves.png'"]),
    "export: ONNX named otherwise": (
        lambda h: LSTMModel.load(h / "model").export_onnx(h / "model.bin"), ArtifactError,
        ["model.bin' must end in .onnx"]),
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
    "fit: NaN in three inputs": (
        fit(lambda h: table(h).assign(HULL=lambda f: f.HULL.mask(f.index == 50),
                                      MUFL=lambda f: f.MUFL.mask(f.index == 7),
                                      OT=lambda f: f.OT.mask(f.index == 9))),
        DataError, ["'HULL' has a missing value (NaN) at row 50, as do input columns "
                    "['MUFL', 'OT']", "spec missing: ffill for every input"]),
    "predict: NaN in an input": (predict(edited("HUFL", 590, np.nan)), DataError,
                                 ["'HUFL' has a missing value (NaN) at row 590"]),
    "predict: fewer rows than the lookback": (predict(lambda h: table(h).iloc[:10]), DataError,
                                              ["has 10 rows, fewer than lookback = 24"]),
    "predict: empty table": (predict(lambda h: table(h).iloc[:0]), DataError, ["no rows"]),
    # -- values: label kinds, float32 range, large integers, times, complex numbers -------
    "fit: strings and numbers in a categorical input": (
        fit(with_column("kind", MIXED), spec_with([Feature("kind", kind="categorical")])),
        DataError, ["'kind' mixes kinds of labels", "string 'a' at row 0", "number 1 at row 1",
                    "df['kind'] = df['kind'].astype(str)"]),
    "fit: strings and numbers in a classification target": (
        fit(with_column("level", MIXED), spec_with(targets=[Target("level", "classification")])),
        DataError, ["'level' mixes kinds of labels", "string 'a' at row 0", "astype(str)"]),
    "fit: booleans and text in a binary target": (
        fit(with_column("flag", [True, "x"] * 300), spec_with(targets=[Target("flag",
                                                                              "binary")])),
        DataError, ["'flag' mixes kinds of labels", "boolean True at row 0",
                    "string 'x' at row 1"]),
    "fit: timestamps as class labels": (
        fit(with_column("day", lambda n: pd.Series(pd.date_range("2020-01-01", periods=n))
                        .astype(object)), spec_with(targets=[Target("day", "classification")])),
        DataError, ["'day' holds Timestamp('2020-01-01", "at row 0", "strings, numbers or "
                    "booleans", "astype(str)"]),
    "fit: 1e39 in an input (finite in float64)": (
        fit(edited("HUFL", 9, 1e39)), DataError,
        ["'HUFL' holds 1e+39 at row 9", "beyond float32's range", "rescale the column"]),
    "fit: -1e39 in a target": (fit(edited("OT", 99, -1e39)), DataError,
                               ["'OT' holds -1e+39 at row 99", "float32", "rescale"]),
    "predict: 1e39 in an input": (predict(edited("MUFL", 590, 1e39)), DataError,
                                  ["'MUFL' holds 1e+39 at row 590", "float32"]),
    "fit: ids near 2**62 as a numeric input": (
        fit(with_column("id", lambda n: np.arange(n, dtype=np.int64) + 2**62),
            spec_with(["id"])), DataError,
        ["integer column 'id' holds 4611686018427387904 at row 0", "multiples of 1,024",
         "range of 419", "declare it so (kind='categorical'", "// 10**9"]),
    "fit: an int64 target near 2**62": (
        fit(with_column("count", lambda n: 2**62 + 3 * np.arange(n, dtype=np.int64)),
            spec_with(targets=["count"])), DataError,
        ["integer column 'count'", "beyond 2**53", "'classification' for a target"]),
    "fit: complex numbers as an input": (
        fit(with_column("z", lambda n: np.arange(n) + 1j), spec_with(["z"])), DataError,
        ["'z' holds complex numbers", "real and imaginary parts", ".real and .imag"]),
    "fit: durations as an input": (
        fit(with_column("age", lambda n: pd.to_timedelta(np.arange(n), unit="h")),
            spec_with(["age"])), DataError,
        ["'age' holds durations", "df['age'].dt.total_seconds()"]),
    "fit: timestamps as an input": (
        fit(with_column("seen", lambda n: pd.date_range("2020-01-01", periods=n)),
            spec_with(["seen"])), DataError,
        ["'seen' holds timestamps", "time='seen'", "calendar features"]),
    "fit: timestamps as a regression target": (
        fit(with_column("due", lambda n: pd.date_range("2020-01-01", periods=n, tz="UTC")),
            spec_with(targets=["due"])), DataError, ["'due' holds timestamps"]),
    "fit: Int64 input with pd.NA": (
        fit(with_column("HUFL", lambda n: pd.array([pd.NA, *range(1, n)], dtype="Int64"))),
        DataError, ["'HUFL' has a missing value (NaN) at row 0", "missing='ffill'"]),
    "fit: boolean input with pd.NA": (
        fit(with_column("on", lambda n: pd.array([True, False, pd.NA] * (n // 3),
                                                 dtype="boolean")), spec_with(["on"])),
        DataError, ["'on' has a missing value (NaN) at row 2"]),
    "fit: text categories in a numeric input": (
        fit(with_column("HULL", lambda n: pd.Categorical(["lo", "hi"] * (n // 2)))),
        DataError, ["'HULL' must be numeric but holds 'lo' at row 0", "kind='categorical'"]),
    "fit: a Decimal too large for a float": (
        fit(with_column("HUFL", lambda n: [Decimal("1e400"), *map(Decimal, range(1, n))])),
        DataError, ["'HUFL' holds inf at row 0"]),
    "fit: a column named by an int": (
        fit(with_column(7, lambda n: np.arange(n, dtype=float)), spec_with(["7"])), DataError,
        ["input column '7' is in the data as 7 of type int", "df.columns.astype(str)"]),
    "fit: a split that leaves no training window": (
        fit(table, split=Split(0.01, 0.5)), DataError,
        ["training part has no full window", "a later val_start"]),
    # -- the spec ----------------------------------------------------------------------
    "spec: a target named by a number": (lambda h: Target(5), ConfigError,
                                         ["a target name must be a non-empty string, got 5"]),
    "spec: a feature named by a number": (lambda h: Feature(3.5), ConfigError,
                                          ["a feature name must be a non-empty string"]),
    "spec: an input listed twice": (lambda h: spec_with(["OT"]), ConfigError,
                                    ["input column 'OT' is listed twice"]),
    "spec: an infinite target weight": (lambda h: Target("OT", weight=math.inf), ConfigError,
                                        ["weight of target 'OT' must be a number >= 0, got inf"]),
    # -- hyperparameters ---------------------------------------------------------------
    "fit: negative seed": (fit(table, seed=-1), ConfigError,
                           ["seed must be an integer from 0 to 4294967295, got -1", "32-bit"]),
    "fit: seed beyond 32 bits": (fit(table, seed=2**32), ConfigError,
                                 ["seed must be an integer from 0 to 4294967295"]),
    "fit: seed as a float": (fit(table, seed=1.5), ConfigError, ["seed must be an integer"]),
    "fit: seed as a numpy int": (fit(table, seed=np.int64(3)), ConfigError,
                                 ["got np.int64(3)", "pass int(x)"]),
    "fit: zero devices": (fit(table, devices=0), ConfigError,
                          ["devices (a count, 'auto' or a list of GPU ids) must be a positive "
                           "integer, got 0"]),
    "fit: negative devices": (fit(table, devices=-1), ConfigError,
                              ["devices", "must be a positive integer, got -1"]),
    "fit: devices as text": (fit(table, devices="two"), ConfigError,
                             ["must be a positive integer, got 'two'"]),
    "fit: an empty list of devices": (fit(table, devices=[]), ConfigError, ["devices []"]),
    "fit: more CPU processes than cores": (
        fit(table, accelerator="cpu", devices=CORES + 1), ConfigError,
        [f"devices={CORES + 1} asks for {CORES + 1} CPU training processes", f"has {CORES} "
         "cores"]),
    "fit: GPU ids on the CPU": (fit(table, accelerator="cpu", devices=[0, 1]), ConfigError,
                                ["devices [0, 1] is a list of GPU ids", "number of processes"]),
    "fit: unknown accelerator": (fit(table, accelerator="gpux"), ConfigError,
                                 ["accelerator must be one of", "did you mean 'gpu'"]),
    "fit: a GPU that is not there": (fit(table, accelerator="gpu",
                                         devices=[torch.cuda.device_count()]),
                                     ConfigError, NO_GPU),
    "fit: layers 1000000": (fit(table, layers=1_000_000), ConfigError,
                            ["layers must be an integer from 1 to 1000, got 1000000",
                             "one by one"]),
    "fit: hidden 1000000": (model(hidden=1_000_000), ConfigError,
                            ["the network would have at least", "hidden=1000000",
                             "limit of 2,147,483,648", "lower hidden or layers"]),
    "fit: horizon 10**9": (
        lambda h: LSTMModel(Spec(time="date", inputs=INPUTS, targets=["OT"], lookback=24,
                                 horizon=10**9), progress=False).fit(table(h)),
        ConfigError, ["parameters", "1000000000 output steps", "the horizon"]),
    "fit: lookback 10**10": (
        lambda h: LSTMModel(Spec(time="date", inputs=INPUTS, targets=["OT"], lookback=10**10),
                            progress=False, hidden=4).fit(table(h)),
        ConfigError, ["a training batch of 64 windows of 10,000,000,000 steps would keep about",
                      "GiB of activations", "limit of 1,024 GiB", "lower batch_size, lookback"]),
    "fit: batch_size 10**10": (model(batch_size=10**10), ConfigError,
                               ["a training batch of 10,000,000,000 windows", "lower batch_size"]),
    "fit: negative max_epochs": (lambda h: LSTMModel(SPEC, max_epochs=-1).fit(table(h)),
                                 ConfigError, ["max_epochs must be a positive integer, got -1"]),
    "fit: max_epochs 2.5": (lambda h: LSTMModel(SPEC, max_epochs=2.5).fit(table(h)),
                            ConfigError, ["max_epochs must be a positive integer, got 2.5"]),
    "fit: negative patience": (fit(table, patience=-1), ConfigError,
                               ["patience must be an integer >= 0, got -1"]),
    "fit: lr NaN": (fit(table, lr=math.nan), ConfigError,
                    ["lr must be a positive number, got nan"]),
    "fit: lr infinite": (fit(table, lr=math.inf), ConfigError,
                         ["lr must be a positive number, got inf"]),
    "fit: weight_decay NaN": (fit(table, weight_decay=math.nan), ConfigError,
                              ["weight_decay must be a number >= 0, got nan"]),
    "fit: grad_clip NaN": (fit(table, grad_clip=math.nan), ConfigError,
                           ["grad_clip must be a positive number or None, got nan"]),
    "fit: unknown precision": (fit(table, precision="fp16"), ConfigError,
                               ["precision must be one of", "got 'fp16'"]),
    "fit: num_nodes 0": (fit(table, num_nodes=0), ConfigError,
                         ["num_nodes must be a positive integer, got 0"]),
    "fit: num_nodes 2 without a launcher": (
        fit(table, num_nodes=2), ConfigError,
        ["num_nodes=2 needs one process per node", "torchrun", "wait for the other nodes"]),
    "fit: unknown strategy": (fit(table, strategy="dpp"), ConfigError,
                              ["strategy must be one of", "did you mean 'ddp'"]),
    "fit: strategy Lightning refuses on a CPU": (
        fit(table, accelerator="cpu", strategy="fsdp"), ConfigError,
        ["Lightning refused the training settings", "strategy='fsdp'", "GPU"]),
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
    "cli: ONNX export named otherwise": (None, ["export", "model", "--onnx", "model.txt"],
                                         ArtifactError, ["'model.txt' must end in .onnx",
                                                         "such as 'model.onnx'"]),
    "cli: importance plot named otherwise": (
        None, ["importance", "model", "etth1.csv", "--plot", "heat.jpg"], ConfigError,
        ["'heat.jpg' must end in .png"]),
    "cli: metrics file named otherwise": (
        None, ["evaluate", "model", "etth1.csv", "--json", "metrics.txt"], ConfigError,
        ["'metrics.txt' must end in .json", "such as 'metrics.json'"]),
    "cli: predict data missing a column": (
        written("less.csv", table_text := "date,HUFL\n2016-07-01 00:00:00,1\n"),
        ["predict", "model", "less.csv", "-o", "o.csv"], SchemaError,
        ["column 'HULL' is missing"]),
    "cli: evaluate without targets": (
        lambda h: table(h).drop(columns="OT").to_csv(h / "no_ot.csv", index=False),
        ["evaluate", "model", "no_ot.csv"], SchemaError, ["column 'OT' is missing"]),
    # -- values ------------------------------------------------------------------------
    "config: 1e39 in the data": (
        data_and_config("big.csv", edited("HULL", 30, 1e39)), ["fit", "bad.yaml"], DataError,
        ["'HULL' holds 1e+39 at row 30", "beyond float32's range"]),
    "cli: predict data with 1e39": (
        csv_file("big.csv", edited("OT", 598, 1e39)),
        ["predict", "model", "big.csv", "-o", "o.csv"], DataError,
        ["'OT' holds 1e+39 at row 598"]),
    "config: ids near 2**62 in a CSV": (
        data_and_config("ids.csv", with_column("id", lambda n: 2**62 + np.arange(n)),
                        **{"spec.inputs": [*INPUTS, "id"]}), ["fit", "bad.yaml"], DataError,
        ["integer column 'id'", "multiples of 1,024", "categorical", "rescaling"]),
    "config: timestamps as an input in Parquet": (
        data_and_config("seen.parquet", with_column("seen", lambda n: pd.date_range(
            "2020-01-01", periods=n)), **{"spec.inputs": [*INPUTS, "seen"]}),
        ["fit", "bad.yaml"], DataError, ["'seen' holds timestamps", "calendar features"]),
    "config: durations as a target in Parquet": (
        data_and_config("wait.parquet", with_column("wait", lambda n: pd.to_timedelta(
            np.arange(n), unit="min")), **{"spec.targets": ["wait"]}),
        ["fit", "bad.yaml"], DataError, ["'wait' holds durations", ".dt.total_seconds()"]),
    # -- YAML and hyperparameters --------------------------------------------------------
    "config: a key written twice (fit)": (
        repeated("lr", 0.1, 0.01), ["fit", "bad.yaml"], ConfigError,
        ["config file 'bad.yaml' sets 'lr' twice in one mapping (lines 5 and 7)",
         "silently keep the last value", "remove one"]),
    "config: a key written twice (tune)": (
        repeated("seed", 1, 2), ["tune", "bad.yaml", "--trials", "1"], ConfigError,
        ["sets 'seed' twice in one mapping (lines 5 and 7)"]),
    "config: a key written twice (backtest)": (
        repeated("batch_size", 8, 16), ["backtest", "bad.yaml", "--folds", "2"], ConfigError,
        ["sets 'batch_size' twice in one mapping (lines 5 and 7)"]),
    "config: a key twice on one line": (
        yaml_file("data: {path: etth1.csv}\nspec: {time: date, inputs: [OT], targets: [OT], "
                  "lookback: 24, lookback: 48}\n"), ["fit", "bad.yaml"], ConfigError,
        ["sets 'lookback' twice in one mapping (line 2)"]),
    "config: negative seed": (config(**{"training.seed": -1}), ["fit", "bad.yaml"],
                              ConfigError, ["seed must be an integer from 0 to 4294967295"]),
    "config: seed beyond 32 bits": (config(**{"training.seed": 2**40}), ["fit", "bad.yaml"],
                                    ConfigError, ["got 1099511627776"]),
    "config: zero devices": (config(**{"training.devices": 0}), ["fit", "bad.yaml"],
                             ConfigError, ["devices", "must be a positive integer, got 0"]),
    "config: devices an empty list": (config(**{"training.devices": []}), ["fit", "bad.yaml"],
                                      ConfigError, ["devices []"]),
    "config: more devices than cores": (
        config(**{"training.accelerator": "cpu", "training.devices": CORES + 1}),
        ["fit", "bad.yaml"], ConfigError, [f"asks for {CORES + 1} CPU training processes"]),
    "config: a GPU that is not there": (
        config(**{"training.accelerator": "gpu",
                  "training.devices": [torch.cuda.device_count()]}),
        ["fit", "bad.yaml"], ConfigError, NO_GPU),
    "config: unknown accelerator": (config(**{"training.accelerator": "tpu"}),
                                     ["fit", "bad.yaml"], ConfigError,
                                     ["accelerator must be one of 'auto', 'cpu', 'gpu'"]),
    "config: layers 1000000": (config(**{"model.layers": 1_000_000}), ["fit", "bad.yaml"],
                               ConfigError, ["layers must be an integer from 1 to 1000"]),
    "config: hidden 10**6": (config(**{"model.hidden": 10**6}), ["fit", "bad.yaml"],
                             ConfigError, ["the network would have at least", "parameters",
                                           "2**31"]),
    "config: horizon 10**10": (config(**{"spec.horizon": 10**10}), ["fit", "bad.yaml"],
                               ConfigError, ["10000000000 output steps"]),
    "config: batch_size 10**10": (config(**{"training.batch_size": 10**10}),
                                  ["fit", "bad.yaml"], ConfigError,
                                  ["a training batch of 10,000,000,000 windows", "1 TiB"]),
    "config: lr .nan": (config(**{"training.lr": math.nan}), ["fit", "bad.yaml"], ConfigError,
                        ["lr must be a positive number, got nan"]),
    "config: negative max_epochs": (config(**{"training.max_epochs": -1}), ["fit", "bad.yaml"],
                                    ConfigError, ["max_epochs must be a positive integer"]),
    "config: negative patience": (config(**{"training.patience": -3}), ["fit", "bad.yaml"],
                                  ConfigError, ["patience must be an integer >= 0, got -3"]),
    "config: unknown precision": (config(**{"training.precision": "half"}),
                                  ["fit", "bad.yaml"], ConfigError,
                                  ["precision must be one of", "got 'half'"]),
    "config: num_nodes 2 without a launcher": (config(**{"training.num_nodes": 2}),
                                               ["fit", "bad.yaml"], ConfigError,
                                               ["num_nodes=2 needs one process per node"]),
    "config: unknown strategy": (config(**{"training.strategy": "ddp_spwan"}),
                                 ["fit", "bad.yaml"], ConfigError,
                                 ["strategy must be one of", "did you mean 'ddp_spawn'"]),
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
    """One line, the class's exit code, and nothing written: no file before the run is
    changed (e.g. taken/notes.txt of an existing run directory) and none is added."""
    setup, args, error, fragments = CLI[case]
    if setup is not None:
        setup(home)
    before = files(home)
    monkeypatch.chdir(home)
    code = main(args)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT[error] == error.exit_code
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert files(home) == before


def test_the_table_is_large():
    assert len(API) + len(CLI) >= 100


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


def test_values_that_are_fine_are_accepted(home):
    """Booleans and nullable numbers without gaps are numbers, Decimals convert, numeric
    categories are numbers, float labels are labels, and keys merged in YAML may be
    overridden."""
    frame = table(home).assign(
        on=lambda f: f.HUFL > 5, count=lambda f: pd.array(range(len(f)), dtype="Int64"),
        share=lambda f: pd.array(f.HULL / 10, dtype="Float64"),
        price=lambda f: [Decimal(str(round(v, 2))) for v in f.MUFL],
        band=lambda f: pd.Categorical(np.arange(len(f)) % 3),
        level=lambda f: np.where(f.OT.median() < f.OT, 1.5, 0.5))
    spec = spec_with(["on", "count", "share", "price", "band"],
                     targets=["OT", Target("level", "binary")])
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(frame)
    assert model.encoding_.target_labels["level"].classes == (0.5, 1.5)
    assert np.isfinite(model.predict(frame)["OT"]).all()
    (home / "merged.yaml").write_text(
        "data: {path: etth1.csv}\nspec: {time: date, inputs: [OT], targets: [OT], "
        "lookback: 24}\nmodel: {<<: {hidden: 8, layers: 1}, hidden: 4}\n")
    assert RunConfig.read(home / "merged.yaml").model == {"hidden": 4, "layers": 1}
