"""Extreme magnitudes train like ordinary ones; a diverging loss stops with the likely cause."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit import LSTMModel, Spec, Target, TrainingError

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
