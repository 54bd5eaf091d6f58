"""YAML run configs: the data source, the spec, the model, training and split, checked.

A config mirrors the Python API one to one::

    data: {dataset: seattle_weather}        # or {path: table.csv}, or a UEA set + part
    spec: {time: date, inputs: [...], targets: [...], lookback: 28}
    model: {hidden: 64, decoder: direct, heads: shared}
    training: {lr: 0.001, max_epochs: 100, seed: 0}
    split: {val_start: 0.7, test_start: 0.85}
    test: {dataset: BasicMotions, part: test}   # optional separate test data
    tracking: {tensorboard: true, mlflow: true}  # optional loggers (lstmkit.cli.tracking)
    run_dir: runs/seattle
    init_from: runs/etth1                      # optional: `lstmkit fit` continues that model
    search: {model.hidden: {int: [16, 128]}}    # optional, for `lstmkit tune` (lstmkit.tuning.tune)

Relative paths in a config file (data and test ``path`` and ``data_dir``, ``run_dir``,
``init_from``) lie in
the config file's folder, wherever the command runs; resolved configs written back
(a run's ``config.yaml``, tune's ``best.yaml``) hold absolute paths.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..checks import check_mapping, no_file, quote
from ..data.sources import CSV_SUFFIXES, PARQUET_SUFFIXES
from ..data.ts_format import TS_SUFFIX
from ..errors import ConfigError, warn
from ..hyperparams import KNOWN_AS
from ..model import LSTMModel
from ..spec import Spec, Split
from ..tuning.search import SearchSpace
from .config_keys import FLOAT_KEYS, MODEL_KEYS, SECTIONS, SOURCE_KEYS, TRAINING_KEYS
from .tracking import Tracking

TABLE_SUFFIXES = (*CSV_SUFFIXES, *PARQUET_SUFFIXES, TS_SUFFIX)


class DuplicateKey(yaml.YAMLError):
    """A key written twice in one YAML mapping, with the lines (1-based) of both."""

    def __init__(self, key: Any, lines: tuple[int, int]) -> None:
        super().__init__(f"duplicate key {key!r} on lines {lines}")
        self.key, self.lines = key, lines


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key repeated in a mapping raises ``DuplicateKey``
    instead of the last value silently winning (keys merged in with ``<<`` may be overridden).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
            try:
                if key in lines:
                    raise DuplicateKey(key, (lines[key], line))
                lines[key] = line
            except TypeError:          # an unhashable key: the base class says so
                continue
        return super().construct_mapping(node, deep=deep)


@dataclass(frozen=True)
class DataSource:
    """Where a table or array set comes from: a file, or a named data set (and part)."""

    path: str | None = None
    dataset: str | None = None
    part: str | None = None
    data_dir: str | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.dataset is None):
            raise ConfigError("a data source needs exactly one of 'path' (a CSV, Parquet or .ts "
                              "file) or "
                              "'dataset' (a name from `lstmkit datasets`)")

    @classmethod
    def parse(cls, value: Any, where: str, base: Path) -> DataSource:
        """From a mapping, or from a string: a path, or ``dataset:NAME[:part]``."""
        if isinstance(value, str):
            if value.startswith("dataset:"):
                name, _, part = value[len("dataset:"):].partition(":")
                return cls(dataset=name, part=part or None)
            return cls(path=_input_path(base, value, where))
        check_mapping(value, where, SOURCE_KEYS)
        source = cls(**value)
        for key in ("path", "data_dir"):
            if (path := getattr(source, key)) is not None:
                source = dataclasses.replace(source, **{key: _input_path(base, path, where)})
        return source

    def load(self, spec: Spec | None = None) -> Any:
        """A DataFrame, or ``(X, y)`` arrays for a classification archive set or a ``.ts``
        file (``y`` None for one without labels); a CSV file is read for ``spec``
        (``read_table``: its id columns as text)."""
        if self.path is not None and self.arrays:
            from ..data.ts_format import read_ts_arrays

            return read_ts_arrays(self.path)
        if self.path is not None:
            from ..data.sources import read_table

            return read_table(self.path, spec=spec)
        from .. import datasets

        if datasets.info(self.dataset)["kind"] == "uea":
            return datasets.load_uea(self.dataset, part=self.part or "train",
                                     data_dir=self.data_dir)
        return datasets.load(self.dataset, data_dir=self.data_dir)

    @property
    def arrays(self) -> bool:
        """Whether ``load`` gives ``(X, y)`` arrays: a ``.ts`` file or a UEA set."""
        if self.path is not None:
            return self.path.lower().endswith(TS_SUFFIX)
        from .. import datasets

        return datasets.info(self.dataset)["kind"] == "uea"

    def describe(self) -> str:
        """The source in a few words: its path, or ``dataset NAME (part)``."""
        if self.path is not None:
            return self.path
        return f"dataset {self.dataset}" + (f" ({self.part})" if self.part else "")


@dataclass(frozen=True)
class RunConfig:
    """A whole run, read from YAML: everything ``lstmkit fit`` needs."""

    data: DataSource
    spec: Spec
    model: dict[str, Any]
    training: dict[str, Any]
    split: Split
    test: DataSource | None = None
    tracking: Tracking = dataclasses.field(default_factory=Tracking)
    run_dir: str | None = None
    init_from: str | None = None
    search: SearchSpace | None = None

    @classmethod
    def from_dict(cls, raw: Any, base: Path = Path(".")) -> RunConfig:
        check_mapping(raw, "the config", SECTIONS)
        if "data" not in raw:
            raise ConfigError("the config has no 'data' section; add one (see "
                              "examples/seattle_weather.yaml)")
        data = DataSource.parse(raw["data"], "section 'data'", base)
        if "spec" not in raw or (isinstance(raw["spec"], dict) and not {
                "inputs", "targets"} <= set(raw["spec"])):
            lacks = ("no 'spec' section" if "spec" not in raw
                     else "a spec without 'inputs' and 'targets'")
            raise ConfigError(f"the config has {lacks}; " + (
                f"{data.describe()} holds sequences as arrays (channels, then a label), so "
                "name one input per channel, in the file's order, and the label: spec: "
                "{task: sequence, inputs: [c0, c1, c2], targets: [{name: label, kind: "
                "classification}]}" if data.arrays else
                "add one, naming the inputs and targets (see examples/seattle_weather.yaml)"))
        model = raw.get("model") or {}
        training = raw.get("training") or {}
        _check_section(model, "model")
        _check_section(training, "training")
        for section, values in (("model", model), ("training", training)):
            _check_numbers_not_text(section, values)
        split_raw = raw.get("split") or {}
        check_mapping(split_raw, "section 'split'", [f.name for f in dataclasses.fields(Split)])
        test = raw.get("test")
        run_dir, init_from = raw.get("run_dir"), raw.get("init_from")
        for key, value in (("run_dir", run_dir), ("init_from", init_from)):
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{key} must be a path string, got {value!r}")
        config = cls(
            data=data,
            spec=Spec.from_dict(raw["spec"]),
            model=dict(model), training=dict(training), split=Split.from_dict(split_raw),
            test=None if test is None else DataSource.parse(test, "section 'test'", base),
            tracking=Tracking.from_dict(raw.get("tracking")),
            run_dir=None if run_dir is None else _joined(base, run_dir),
            init_from=None if init_from is None else _joined(base, init_from),
        )
        config.build_model().check_params()  # every hyperparameter, before any data is read
        if raw.get("search") is not None:
            config = dataclasses.replace(config, search=SearchSpace.parse(raw["search"]))
            config.search.check(config)
        return config

    @classmethod
    def read(cls, path: str | Path) -> RunConfig:
        """Parse and check a YAML config file; relative paths in it lie in its folder."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(no_file("config file", path))
        if path.name.lower().endswith(TABLE_SUFFIXES):
            raise ConfigError(f"{str(path)!r} is a data file, not a config: the command takes a "
                              f"YAML config that names it, data: {{path: {path.name}}}, beside a "
                              "spec (its inputs, targets and lookback; see "
                              "examples/seattle_weather.yaml)")
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader)
        except DuplicateKey as exc:
            first, second = exc.lines
            where = f"line {first}" if first == second else f"lines {first} and {second}"
            raise ConfigError(f"config file {str(path)!r} sets {quote(exc.key)} twice in one "
                              f"mapping ({where}); YAML would silently keep the last value: "
                              "remove one") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            detail = str(exc).replace("\n", " ")
            raise ConfigError(f"config file {str(path)!r} is not valid YAML: {detail}") from None
        if raw is None:
            raise ConfigError(f"config file {str(path)!r} holds no settings (it is empty or only "
                              "comments); give it a data and a spec section (see examples/)")
        return cls.from_dict(raw, base=path.parent)

    def build_model(self) -> LSTMModel:
        try:
            return LSTMModel(self.spec, **self.model, **self.training, split=self.split)
        except TypeError as exc:
            raise ConfigError(f"config: {exc}") from None

    def start_model(self) -> LSTMModel:
        """The model ``lstmkit fit`` trains: ``build_model``'s, or with ``init_from`` the
        saved model there with this config's parameters, to continue training
        (``fit(warm_start=True)``)."""
        model = self.build_model()
        if self.init_from is None:
            return model
        return LSTMModel.load(self.init_from).set_params(**model.get_params())

    def fit_only(self, command: str) -> None:
        """Refuse ``init_from`` for a command other than ``lstmkit fit`` (``command``),
        which would not read it."""
        if self.init_from is not None:
            raise ConfigError(f"init_from (continue training a saved model) applies to "
                              f"`lstmkit fit` only; remove it from the config to {command}")

    def to_dict(self) -> dict[str, Any]:
        """The resolved config, defaults filled in, as YAML-ready plain data."""
        return {
            "data": _source_dict(self.data),
            **model_sections(self.build_model()),
            **({"test": _source_dict(self.test)} if self.test else {}),
            "tracking": self.tracking.to_dict(),
            **({"run_dir": os.path.abspath(self.run_dir)} if self.run_dir else {}),
            **({"init_from": os.path.abspath(self.init_from)} if self.init_from else {}),
            **({"search": self.search.to_dict()} if self.search else {}),
        }


def model_sections(model: LSTMModel) -> dict[str, Any]:
    """The ``spec``, ``model``, ``training`` and ``split`` sections of a config that builds
    ``model``, defaults filled in (a model given no spec reports the one its fit read)."""
    params = model.params_json()
    spec = model.spec if model.spec is not None else model.spec_
    return {
        "spec": _plain(spec.to_dict()),
        "model": {k: params[k] for k in MODEL_KEYS},
        "training": {k: params[k] for k in TRAINING_KEYS},
        "split": params["split"],
    }


def _check_section(values: Any, section: str) -> None:
    """Check the keys of section ``model`` or ``training``: a key that belongs in the other
    section, or a Keras name of one (``learning_rate``), is named with where it goes."""
    keys = {"model": MODEL_KEYS, "training": TRAINING_KEYS}
    for key in values if isinstance(values, dict) else ():
        name = KNOWN_AS.get(key, key)
        home = next((s for s, names in keys.items() if name in names), None)
        if home is None or (home == section and name == key):
            continue
        said = [f"is called {name!r}"] if name != key else []
        said += [f"belongs in section {home!r}"] if home != section else []
        fix = "move it there" if home != section else "rename it"
        raise ConfigError(f"unknown key {key!r} in section {section!r}: it {' and '.join(said)}; "
                          f"{fix} ({home}: {{..., {name}: {quote(values[key])}}})")
    check_mapping(values, f"section {section!r}", keys[section])


def _source_dict(source: DataSource) -> dict[str, Any]:
    """A data source as plain data, its paths absolute (the YAML may be read from elsewhere)."""
    paths = {k: os.path.abspath(v) for k in ("path", "data_dir")
             if (v := getattr(source, k)) is not None}
    return {k: v for k, v in dataclasses.asdict(source).items() if v is not None} | paths


def _joined(base: Path, path: str) -> str:
    """``path`` from a config file in folder ``base``: a relative path lies in that folder
    (joined as text: ``examples`` and ``../runs`` make ``runs``)."""
    return os.path.normpath(base / path)


def _input_path(base: Path, path: str, where: str) -> str:
    """An input's ``path`` from a config file in folder ``base`` (``_joined``).

    Where only the current directory has it (lstmkit 0.2.0 looked there), it is read from
    there, with a warning: nothing that worked stops working.
    """
    resolved = _joined(base, path)
    if Path(resolved).exists() or not Path(path).exists() or resolved == os.path.normpath(path):
        return resolved
    warn(f"{where}: {quote(path)} is not in the config file's folder ({quote(str(base))}), "
         "where relative paths lie, but in the current directory, where lstmkit 0.2.0 looked: "
         "read from there. Write it relative to the config's folder, or absolute")
    return path


def _plain(value: Any) -> Any:
    """Tuples as lists, so the YAML dump is plain."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _check_numbers_not_text(section: str, values: dict[str, Any]) -> None:
    """YAML 1.1 reads ``1e-4`` (no dot) as text: say so instead of 'not a number'."""
    for key in FLOAT_KEYS.intersection(values):
        value = values[key]
        try:
            number = float(value) if isinstance(value, str) else None
        except ValueError:
            continue
        if number is not None:
            raise ConfigError(f"{section}.{key} is the text {value!r}: YAML reads a number like "
                              f"1e-4 as text; write it with a dot, {number!r}")


def fit_arguments(loaded: Any) -> tuple[Any, Any]:
    """``fit``/``evaluate`` arguments for a loaded source: (table, None) or (X, y)."""
    if isinstance(loaded, tuple):
        return loaded
    if isinstance(loaded, pd.DataFrame | np.ndarray):
        return loaded, None
    raise ConfigError(f"unexpected data of type {type(loaded).__name__}")
