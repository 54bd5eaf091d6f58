"""Extreme magnitudes train like ordinary ones; values the network cannot hold, and sizes
no machine can, are refused; a diverging loss stops with the likely cause."""

from __future__ import annotations

import itertools

import httpx
import numpy as np
import pandas as pd
import pytest

from lstmkit import DataError, LSTMModel, Spec, Target, TrainingError
from lstmkit.nn import LSTMNetwork, NetworkConfig, Output
from lstmkit.nn.decoders import DECODERS
from lstmkit.nn.size import estimate
from tests.test_serve import running_server

INPUTS = ["HUFL", "HULL", "MUFL", "MULL"]


def _model(**params) -> LSTMModel:
    spec = Spec(inputs=INPUTS, targets=["OT"], lookback=24, horizon=4)
    return LSTMModel(spec, hidden=8, max_epochs=2, progress=False, **params)


@pytest.mark.parametrize("factor", [1e12, 1e-12])
def test_per_feature_scaling_makes_training_blind_to_magnitude(etth1, factor):
    data = etth1.iloc[:3000]
    base = _model().fit(data)
    extreme = data.assign(**{c: data[c] * factor for c in [*INPUTS, "OT"]})
    model = _model().fit(extreme)
    losses = [[e["train_loss"] for e in m.history_["epochs"]] for m in (base, model)]
    assert np.allclose(losses[0], losses[1], rtol=1e-3)
    forecast = model.predict(extreme)["OT"].to_numpy()
    assert np.all(np.isfinite(forecast))
    assert np.allclose(forecast / factor, base.predict(data)["OT"].to_numpy(), rtol=1e-3)


def test_a_diverging_loss_stops_training_with_the_likely_cause(etth1):
    data = etth1.iloc[:2000].assign(OT=lambda f: f.OT * 1e20)
    spec = Spec(inputs=INPUTS, targets=[Target("OT", scaler="none")], lookback=24)
    with pytest.raises(TrainingError, match=r"training loss became (inf|nan).*learning rate.*"
                                            r"scaled"):
        LSTMModel(spec, hidden=8, max_epochs=2, progress=False).fit(data)


def test_values_beyond_float32_are_refused_by_fit_predict_and_the_server(etth1, tmp_path):
    """1e39 is finite in float64 but not in the network's float32: once it became null
    forecasts answered with 200."""
    data = etth1.iloc[:600]
    with pytest.raises(DataError, match=r"'HULL' holds 1e\+39 at row 17, beyond float32"):
        _model().fit(data.assign(HULL=data.HULL.where(data.index != 17, 1e39)))
    model = _model().fit(data)
    recent = data.tail(30).reset_index(drop=True).assign(date=lambda f: f.date.astype(str))
    recent.loc[29, "MUFL"] = -1e39
    with pytest.raises(DataError, match=r"'MUFL' holds -1e\+39 at row 29"):
        model.predict(recent)
    with running_server(model.save(tmp_path / "model")) as url:
        response = httpx.post(f"{url}/predict", json={"rows": recent.to_dict("records")},
                              timeout=30)
        assert response.status_code == 422, response.text
        assert "'MUFL' holds -1e+39 at row 29" in response.json()["detail"]
        recent.loc[29, "MUFL"] = 1.5
        assert httpx.post(f"{url}/predict", json={"rows": recent.to_dict("records")},
                          timeout=30).status_code == 200


def test_large_integers_scale_like_their_rescaled_copy_or_are_refused():
    """Hourly nanosecond counts near 2**62 keep their detail in float64 and scale exactly as
    the same times in seconds; consecutive ids near 2**62 would merge, and are refused."""
    n = 400
    hours = np.arange(n, dtype=np.int64) * 3_600
    table = pd.DataFrame({"y": np.sin(np.arange(n) / 24 * 2 * np.pi),
                          "seconds": hours, "nanoseconds": 2**62 + hours * 10**9})
    spec = Spec(inputs=["y", "seconds", "nanoseconds"], targets=["y"], lookback=24)
    model = LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(table)
    scaled = {c: model.encoding_.input_scalers[c].transform(table[c].to_numpy())
              for c in ("seconds", "nanoseconds")}
    assert np.array_equal(scaled["seconds"].astype(np.float32),
                          scaled["nanoseconds"].astype(np.float32))
    ids = table.assign(nanoseconds=2**62 + np.arange(n, dtype=np.int64))
    with pytest.raises(DataError, match=r"'nanoseconds' holds 4611686018427387904 at row 0.*"
                                        r"multiples of 1,024.*range of 279"):
        LSTMModel(spec, hidden=4, max_epochs=1, progress=False).fit(ids)


@pytest.mark.parametrize(("decoder", "bidirectional", "segment", "layers"), [
    (d, b, s, n) for d, b, s, n in itertools.product(
        DECODERS, [False, True], [None, 4], [1, 3])])
def test_the_size_estimate_counts_the_parameters_of_the_built_network(decoder, bidirectional,
                                                                       segment, layers):
    outputs = (Output("a", "regression", 1), Output("b", "regression", 1)) if \
        decoder == "parallel" else (Output("a", "regression", 1), Output("b", "classification", 3))
    config = NetworkConfig(n_inputs=7, outputs=outputs, steps=8, hidden=16, layers=layers,
                           bidirectional=bidirectional, decoder=decoder, segment=segment)
    built = sum(p.numel() for p in LSTMNetwork(config).parameters())
    assert estimate(config, 64, 32).parameters == built


@pytest.mark.parametrize("config", [
    NetworkConfig(n_inputs=7, outputs=(Output("a", "regression", 1),), steps=24, hidden=32,
                  decoder="parallel", segment=24, channel_independent=True,
                  instance_norm=True, numeric_inputs=(True,) * 7, target_channels=(0,)),
    NetworkConfig(n_inputs=3, outputs=(Output("k", "classification", 4),), hidden=16,
                  bidirectional=True, conv=True),
    NetworkConfig(n_inputs=3, outputs=(Output("a", "regression", 1),), steps=4, hidden=16,
                  embedded=((2, 100, 8),)),
    NetworkConfig(n_inputs=5, outputs=(Output("a", "regression", 1),), hidden=16,
                  decoder="aligned"),
])
def test_the_size_estimate_counts_channels_convolutions_and_embeddings(config):
    built = sum(p.numel() for p in LSTMNetwork(config).parameters())
    assert estimate(config, 64, 48).parameters == built
