"""The hyperparameters are declared once (``lstmkit.hyperparams``): the constructor, the
config keys, the search keys, ``TrainConfig``, the checkpoint fingerprint and the presets
follow the three dataclasses, and the fitted architecture is typed.

Fits are tiny (500 rows of ETTh1, 4 hidden units, one epoch).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import warnings

import pytest
import torch

from lstmkit import BaselineWarning, ConfigError, LSTMModel, Spec, Split, presets
from lstmkit.cli.config_keys import FLOAT_KEYS, MODEL_KEYS, TRAINING_KEYS
from lstmkit.hyperparams import (
    HARDWARE,
    PARAMS,
    Architecture,
    Hardware,
    ResolvedArchitecture,
    Training,
    defaults,
    names,
)
from lstmkit.training.config import TrainConfig
from lstmkit.tuning.search import searchable_keys

SPEC = Spec(time="date", inputs=["HUFL", "OT"], targets=["OT"], lookback=24, horizon=4)
TINY = {"hidden": 4, "max_epochs": 1, "progress": False}


def tiny_fit(data, fit=None, **params) -> LSTMModel:
    """A one-epoch model of ``params`` on 500 rows; ``fit``: fit's keyword arguments."""
    with warnings.catch_warnings():       # one epoch is often worse than the naive forecast
        warnings.simplefilter("ignore", BaselineWarning)
        return LSTMModel(SPEC, **{**TINY, **params}).fit(data.iloc[:500], **(fit or {}))


def test_the_constructor_signature_is_the_dataclasses_fields_and_defaults():
    """The keyword signature is written out for IDEs and help(); it must be the fields."""
    signature = list(inspect.signature(LSTMModel).parameters.values())
    assert signature[0].name == "spec" and signature[0].default is None
    fields = [f for group in (Architecture, Training, Hardware)
              for f in dataclasses.fields(group)]
    assert [p.name for p in signature[1:]] == [f.name for f in fields] == list(PARAMS)
    assert {p.name: p.default for p in signature[1:]} == defaults()
    assert {p.name: str(p.annotation) for p in signature[1:]} == {f.name: str(f.type)
                                                                  for f in fields}
    assert all(p.kind == p.KEYWORD_ONLY for p in signature[1:])


def test_get_params_of_a_new_model_are_the_defaults():
    assert LSTMModel().get_params() == {"spec": None, **defaults()}
    assert LSTMModel.PARAMS == PARAMS


def test_config_sections_take_the_architecture_and_the_other_parameters_but_split():
    assert names(Architecture) == MODEL_KEYS
    assert set(TRAINING_KEYS) == set(PARAMS) - set(MODEL_KEYS) - {"split"}
    assert set(names(TrainConfig)) == set(TRAINING_KEYS)    # TrainConfig: the same, checked
    assert {"dropout", "lr", "lr_decay", "weight_decay", "grad_clip", "coverage"} == FLOAT_KEYS


def test_a_search_varies_every_parameter_but_the_hardware():
    keys = set(searchable_keys())
    assert {f"model.{k}" for k in MODEL_KEYS} <= keys
    assert {f"training.{k}" for k in TRAINING_KEYS if k not in HARDWARE} <= keys
    assert not {f"training.{k}" for k in HARDWARE} & keys
    assert names(Hardware) == HARDWARE


def test_the_presets_set_only_architecture_keys_and_resolve_to_the_typed_architecture():
    assert names(ResolvedArchitecture) == presets.ARCHITECTURE
    for preset in presets.PRESETS.values():
        assert set(preset) <= set(presets.ARCHITECTURE) - {"layers", "heads"}
    given = {**Architecture(layers=2, heads="separate", hidden=7), "lr": None}
    resolved = presets.resolve(SPEC, given)
    assert isinstance(resolved, ResolvedArchitecture)
    assert (resolved.layers, resolved.heads, resolved.hidden) == (2, "separate", 7)
    assert resolved.lr == presets.PRESETS["general"]["lr"]     # separate heads: general


def test_the_fitted_architecture_is_typed_and_reads_as_a_mapping(etth1):
    model = tiny_fit(etth1, layers=2)
    a = model.architecture_
    assert isinstance(a, ResolvedArchitecture)
    assert (a.hidden, a["hidden"], a.layers, a["layers"]) == (4, 4, 2, 2)
    assert list(a) == list(presets.ARCHITECTURE) and dict(a) == {k: a[k] for k in a}
    assert a == dict(a)
    with pytest.raises(KeyError):
        a["epochs"]


def test_the_fingerprint_leaves_out_the_hardware_only(etth1, tmp_path):
    directory = tmp_path / "ckpt"
    first = tiny_fit(etth1, fit={"checkpoint_dir": directory})
    hardware = {"progress": True, "accelerator": "cpu", "strategy": "auto"}
    again = tiny_fit(etth1, **hardware, fit={"checkpoint_dir": directory, "resume": True})
    assert again.history_ == first.history_
    for name, value in (("patience", 3), ("precision", "bf16-mixed"), ("lr_decay", 0.5)):
        with pytest.raises(ConfigError, match="other data or parameters"):
            tiny_fit(etth1, **{name: value}, fit={"checkpoint_dir": directory, "resume": True})


def test_an_architecture_saved_without_layers_and_heads_loads(etth1, tmp_path):
    """Files written before layers and heads joined the architecture take them from the
    network."""
    model = tiny_fit(etth1, layers=2, heads="separate")
    path = model.save(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    for name in ("layers", "heads"):
        del config["fitted"]["architecture"][name]
    (path / "config.json").write_text(json.dumps(config))
    loaded = LSTMModel.load(path)
    assert loaded.architecture_ == model.architecture_
    assert (loaded.architecture_.layers, loaded.architecture_.heads) == (2, "separate")


def test_every_parameter_set_after_fit_changes_nothing_fit_made(etth1, tmp_path):
    """predict, evaluate, the fitted attributes and what save writes (but the params) stay
    as fit made them, whatever is set after it; a new parameter must be added here."""
    changed = {
        "spec": Spec(time="date", inputs=["HULL"], targets=["HULL"], lookback=8),
        "hidden": 9, "layers": 2, "bidirectional": True, "dropout": 0.3, "decoder": "repeat",
        "heads": "separate", "instance_norm": "last", "segment": 4, "channel_independent": True,
        "conv": True, "checkpoint_steps": 8, "optimizer": "adamw", "lr": 0.5, "lr_decay": 0.5,
        "weight_decay": 0.1, "batch_size": 3, "max_epochs": 9, "patience": 1, "grad_clip": None,
        "seed": 11, "split": Split(val_start=0.3, test_start=0.5), "precision": "bf16-mixed",
        "calibrate": False, "coverage": [0.5],
        "progress": True, "devices": 2, "num_nodes": 3, "strategy": "ddp",
        # hardware says where predict runs as well: the same device, named otherwise
        "accelerator": "cuda" if torch.cuda.is_available() else "cpu",
    }
    assert set(changed) == {"spec", *PARAMS}
    data = etth1.iloc[:500]
    model = tiny_fit(etth1)
    fitted = (dict(model.architecture_), model.split_, model.seed_, model.spec_)
    predicted, test = model.predict(data, origins="all"), model.evaluate(data, part="test")
    before = model.save(tmp_path / "before")
    model.set_params(**changed)
    assert (dict(model.architecture_), model.split_, model.seed_, model.spec_) == fitted
    assert model.predict(data, origins="all").equals(predicted)
    assert model.evaluate(data, part="test").table.equals(test.table)
    after = model.save(tmp_path / "after")
    for name in ("weights.safetensors", "README.md"):
        assert (after / name).read_bytes() == (before / name).read_bytes()
    configs = [json.loads((path / "config.json").read_text()) for path in (before, after)]
    assert configs[1]["params"]["hidden"] == 9                   # the params as now set
    saved = [{k: v for k, v in c.items() if k != "params"} for c in configs]
    assert saved[0] == saved[1]
    assert LSTMModel.load(after).predict(data, origins="all").equals(predicted)


@pytest.mark.parametrize(("name", "value", "fragment"), [
    ("hidden", 0, "hidden must be a positive integer"),
    ("segment", 0, "segment must be a positive integer"),
    ("checkpoint_steps", -2, "checkpoint_steps must be a positive integer"),
    ("bidirectional", "yes", "bidirectional must be true, false or unset (None), got 'yes'"),
    ("channel_independent", 1, "channel_independent must be true, false or unset (None)"),
    ("conv", "no", "conv must be true, false or unset (None)"),
])
def test_architecture_values_are_checked_by_their_declared_type(name, value, fragment):
    """check_params reads which fields are optional counts and optional flags from their
    types in Architecture."""
    with pytest.raises(ConfigError) as info:
        LSTMModel(SPEC, **{name: value}).check_params()
    assert fragment in str(info.value)
