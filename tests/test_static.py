"""Static covariates (``Feature(static=True)``): one value per series, read once per window.

The panel is ETTh1's oil temperature in four stretches of 600 hours, each a site whose
``load`` is its own multiple of the temperature (``load = factor * OT``). The model reads
the temperature, never the load (``past_targets=False``), so only the static ``factor``
(or the site's id) tells it the scale of the series it forecasts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from lstmkit import ConfigError, DataError, Feature, LSTMModel, Spec, Split
from lstmkit.deploy.onnx_model import OnnxModel
from lstmkit.nn import size
from lstmkit.nn.decoders import DECODERS
from lstmkit.nn.network import LSTMNetwork, NetworkConfig, Output
from tests.test_export import assert_same_predictions

FACTORS = {"a": 0.5, "b": 1.0, "c": 2.0, "d": 4.0}
SMALL = {"hidden": 8, "batch_size": 64, "instance_norm": False, "lr": 1e-2, "seed": 0,
         "progress": False}
FACTOR, SITE = Feature("factor", static=True), Feature("site", kind="categorical", static=True)


@pytest.fixture(scope="module")
def panel(etth1) -> pd.DataFrame:
    parts = []
    for i, (site, factor) in enumerate(FACTORS.items()):
        part = etth1.iloc[i * 600 : (i + 1) * 600][["date", "OT"]]
        parts.append(part.assign(site=site, factor=factor, load=factor * part.OT))
    return pd.concat(parts, ignore_index=True)


def spec(*static: Feature, **changes) -> Spec:
    return Spec(**{"inputs": ["OT", *static], "targets": ["load"], "series": "site",
                   "time": "date", "lookback": 8, "horizon": 1, "past_targets": False,
                   **changes})


@pytest.fixture(scope="module")
def model(panel) -> LSTMModel:
    """Numeric and embedded categorical statics, channel-independent (the preset's way for
    a target that is its own input), horizon 3."""
    site = Feature("site", kind="categorical", static=True, embed=3)
    return LSTMModel(spec(FACTOR, site, horizon=3, past_targets=True),
                     **{**SMALL, "max_epochs": 1}).fit(panel)


def test_a_static_input_that_sets_each_series_scale_is_used(panel):
    errors, fitted = {}, {}
    for name, static in (("none", ()), ("factor", (FACTOR,)), ("site", (SITE,))):
        # one scaler for all sites: scaled per series (a panel's default), each site's load
        # would reach the network in its own units, its scale known without the static input
        fitted[name] = LSTMModel(spec(*static, scale_by="global"), **SMALL,
                                 max_epochs=5).fit(panel)
        errors[name] = fitted[name].evaluate(panel, part="test").metric("load", "MAE")
    # Without it the scale of a series is a guess; with it (a number or an id) it is known.
    assert errors["factor"] < 0.5 * errors["none"]
    assert errors["site"] < 0.5 * errors["none"]
    # Permuted across windows (other series' factors), it costs more than the temperature.
    importance = fitted["factor"].importance(panel, repeats=2).set_index("input")
    assert importance.increase["factor"] > max(importance.increase["OT"],
                                               5 * importance.spread["factor"])


def test_static_columns_are_no_step_input_of_the_encoder(model):
    network = model.pipeline_.network
    encoding = model.pipeline_.encoding
    assert encoding.input_columns == ["OT", "factor", "site:code", "load"]
    assert network.config.static_columns == encoding.static_columns == (1, 2)
    assert network.config.channel_independent
    # The steps read OT and load only: two channels, each a univariate series.
    assert network.static.kept.tolist() == [0, 3]
    assert network.core.kept.tolist() == [0, 1]
    assert network.core.inner.initial.dense.in_features == 1 + 3    # factor, site's vector


def test_a_static_input_that_changes_within_a_series_is_refused(panel, model, tmp_path):
    changed = panel.copy()
    changed.loc[changed.index[650], "factor"] = 7.0      # in series 'b'
    message = (r"static input 'factor' changes within series 'b': row 650 has 7\.0, its first "
               r"row 600 1\.0")
    with pytest.raises(DataError, match=message):
        LSTMModel(spec(FACTOR), **SMALL, max_epochs=1).fit(changed)
    with pytest.raises(DataError, match=message):
        model.predict(changed)
    onnx = OnnxModel(model.export_onnx(tmp_path / "static.onnx"))
    with pytest.raises(DataError, match=message):
        onnx.predict(changed)


def test_the_spec_refuses_statics_that_cannot_be(panel):
    with pytest.raises(ConfigError, match=r"'factor' is static .* future=True adds nothing"):
        Feature("factor", static=True, future=True)
    with pytest.raises(ConfigError, match="'load' is a target and a static input"):
        Spec(inputs=["OT", Feature("load", static=True)], targets=["load"], lookback=4)
    with pytest.raises(ConfigError, match="every input is static"):
        Spec(inputs=[FACTOR], targets=["load"], lookback=4, past_targets=False)
    with pytest.raises(ConfigError, match="static of feature 'factor' must be true or false"):
        Feature("factor", static="yes")


def test_yaml_declares_a_static_input_and_specs_without_one_serialise_as_before():
    declared = yaml.safe_load("""
        inputs: [OT, {name: factor, static: true}, {name: site, kind: categorical, static: true}]
        targets: [load]
        series: site
        lookback: 8
    """)
    read = Spec.from_dict(declared)
    assert read.static_names == ["factor", "site"]
    assert Spec.from_dict(read.to_dict()) == read
    assert "static" not in spec().to_dict()["inputs"][0]     # saved models, fingerprints


@pytest.mark.parametrize(("decoder", "independent"),
                         [(name, False) for name in DECODERS]
                         + [(name, True) for name, d in DECODERS.items() if d.per_channel])
def test_every_decoder_reads_the_static_vector(decoder, independent):
    # Columns: two numeric channels, a numeric static, an embedded static category.
    config = NetworkConfig(n_inputs=4, outputs=(Output("y", "regression", 1),), steps=3,
                           hidden=8, decoder=decoder, numeric_inputs=(True, True, True, False),
                           target_channels=(0,), channel_independent=independent,
                           static_columns=(2, 3), embedded=((3, 5, 2),), instance_norm=True)
    network = LSTMNetwork(config).eval()
    x = torch.randn(6, 10, 4)
    x[..., 2], x[..., 3] = 0.5, 1.0
    other = x.clone()
    other[..., 2], other[..., 3] = -2.0, 4.0                  # only the statics differ
    out = network(x)
    assert out.shape == ((6, 10, 1) if decoder == "aligned" else (6, 3, 1))
    assert not torch.allclose(out, network(other))
    assert size.estimate(config, 6, 10).parameters == sum(p.numel()
                                                          for p in network.parameters())


def test_every_channel_gets_the_same_static_vector():
    config = NetworkConfig(n_inputs=3, outputs=(Output("a", "regression", 1),
                                                Output("b", "regression", 1)), steps=2,
                           hidden=8, numeric_inputs=(True, True, True), target_channels=(0, 1),
                           channel_independent=True, static_columns=(2,))
    network = LSTMNetwork(config).eval()
    x = torch.randn(5, 12, 3)
    x[..., 1] = x[..., 0]                     # two channels with the same values
    x[..., 2] = torch.arange(5.0)[:, None]    # a static value per window
    out = network(x)                          # (5, 2, 2): both channels, same outputs
    torch.testing.assert_close(out[..., 0], out[..., 1])
    assert not torch.allclose(out[0], out[1])  # windows of other static values differ


def test_save_load_and_onnx_give_the_same_predictions(model, panel, tmp_path):
    recent = panel.groupby("site").tail(30)
    want = model.predict(recent)
    model.save(tmp_path / "model")
    loaded = LSTMModel.load(tmp_path / "model")
    assert loaded.spec_.static_names == ["factor", "site"]
    pd.testing.assert_frame_equal(loaded.predict(recent), want)
    onnx = OnnxModel(model.export_onnx(tmp_path / "model.onnx"))
    assert_same_predictions(onnx.predict(recent), want)
    assert_same_predictions(onnx.predict(recent, origins="all"),
                            model.predict(recent, origins="all"))


def test_sequences_take_a_static_input_per_sequence(panel, tmp_path):
    """Seq2seq with one output per step (the aligned decoder, padded unequal sequences): each
    sequence's load from its temperature and its factor."""
    frame = panel.assign(sequence=panel.site + (np.arange(len(panel)) // 40 % 15).astype(str))
    frame = frame[np.arange(len(frame)) % 40 < 20 + np.arange(len(frame)) // 40 % 15]
    seq = Spec(inputs=["OT", FACTOR], targets=["load"], task="seq2seq", sequence="sequence")
    fitted = LSTMModel(seq, **SMALL, max_epochs=1,
                       split=Split(val_start=0.7, test_start=None)).fit(frame)
    assert fitted.pipeline_.network.decoder.aligned
    some = frame[frame.sequence.isin(["a0", "b3", "c7", "d14"])]
    onnx = OnnxModel(fitted.export_onnx(tmp_path / "sequences.onnx"))
    assert_same_predictions(onnx.predict(some), fitted.predict(some))
    changed = frame.copy()
    changed.loc[changed.index[45], "factor"] = 9.0      # the fifth row of sequence 'a2'
    with pytest.raises(DataError, match=r"'factor' changes within sequence 'a2': row 45 has 9"):
        fitted.predict(changed)
