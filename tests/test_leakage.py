"""Nothing fitted sees validation or test rows: scalers and labels come from training only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit import Feature, LSTMModel, Spec, Split, Target, datasets
from tests.conftest import ETT_COLUMNS


def _fit(frame, spec, split, **kw):
    return LSTMModel(spec, hidden=4, max_epochs=1, split=split, progress=False, **kw).fit(frame)


def test_changing_validation_and_test_rows_leaves_the_scalers_unchanged(etth1):
    spec = Spec(time="date", inputs=ETT_COLUMNS, lookback=24, horizon=6,
                targets=[Target("OT"), Target("HUFL", scaler="minmax"),
                         Target("MUFL", scaler="robust")])
    split = Split(val_start=8640, test_start=11520, end=14400)
    original = _fit(etth1, spec, split)
    changed = etth1.copy()
    rng = np.random.default_rng(0)
    later = changed.index >= 8640
    changed.loc[later, ETT_COLUMNS] = changed.loc[later, ETT_COLUMNS] * 100 + rng.normal(
        0, 50, size=(later.sum(), 7))
    refit = _fit(changed, spec, split)
    assert refit.encoding_.to_dict() == original.encoding_.to_dict()
    # ... and the statistics are exactly those of the training rows.
    ot = original.encoding_.target_scalers["OT"]
    assert ot.center == pytest.approx(etth1.OT.iloc[:8640].mean())
    assert ot.scale == pytest.approx(etth1.OT.iloc[:8640].std(ddof=0))
    hufl = original.encoding_.target_scalers["HUFL"]
    assert hufl.center == pytest.approx(etth1.HUFL.iloc[:8640].min())
    # Changing one training row does change them: the test can fail.
    tweaked = etth1.copy()
    tweaked.loc[100, "OT"] += 1000
    assert _fit(tweaked, spec, split).encoding_.to_dict() != original.encoding_.to_dict()


def test_per_series_split_fits_on_each_series_head(etth1):
    both = pd.concat([etth1.iloc[:4000].assign(s="a"), etth1.iloc[4000:8000].assign(s="b")])
    spec = Spec(time="date", series="s", inputs=["OT"], targets=["OT"], lookback=12)
    model = _fit(both, spec, Split(0.5, 0.75))
    expected = np.concatenate([etth1.OT.iloc[:2000], etth1.OT.iloc[4000:6000]])
    assert model.encoding_.input_scalers["OT"].center == pytest.approx(expected.mean())


def test_sequence_task_labels_and_scalers_come_from_training_sequences(shared_data):
    X, y = datasets.load_uea("NATOPS", "train", data_dir=shared_data)
    spec = Spec(inputs=[f"c{i}" for i in range(X.shape[2])], task="sequence",
                targets=[Target("y", kind="classification")])
    split = Split(0.6, 0.8, shuffle=True, stratify=False)   # the permutation below
    original = LSTMModel(spec, hidden=4, max_epochs=1, split=split, progress=False).fit(X, y)
    parts = np.random.default_rng(0).permutation(len(X))
    held_out = parts[int(0.6 * len(X)):]
    changed = X.copy()
    changed[held_out] = changed[held_out] * 10 + 3
    refit = LSTMModel(spec, hidden=4, max_epochs=1, split=split, progress=False).fit(changed, y)
    assert refit.encoding_.to_dict() == original.encoding_.to_dict()


def test_categories_of_inputs_come_from_training_rows_only(seattle):
    spec = Spec(time="date", inputs=["temp_max", Feature("weather", kind="categorical")],
                targets=["temp_max"], lookback=7)
    model = _fit(seattle, spec, Split(0.7, 0.85))
    assert model.encoding_.input_labels["weather"].classes == tuple(
        sorted(seattle.weather.iloc[: int(0.7 * len(seattle))].unique()))
