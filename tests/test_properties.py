"""Property-based tests (hypothesis) of the data layer's guarantees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lstmkit import LSTMModel, Spec, Split
from lstmkit.data import prepare
from lstmkit.data.groups import arrange
from lstmkit.data.scaling import AffineScaler
from lstmkit.spec import SCALERS

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
finite = st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False)


@FAST
@given(kind=st.sampled_from(SCALERS), values=arrays(np.float64, st.integers(1, 50),
                                                   elements=finite))
def test_scaling_then_inverse_scaling_returns_the_input(kind, values):
    scaler = AffineScaler.fit(kind, values, "x")
    back = scaler.inverse(scaler.transform(values))
    assert np.allclose(back, values, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(values).max()))
    assert np.isfinite(scaler.transform(values)).all()


@st.composite
def forecast_layouts(draw):
    """Several series of random lengths, a lookback, a horizon and a split by fractions."""
    lengths = draw(st.lists(st.integers(1, 60), min_size=1, max_size=5))
    lookback, horizon = draw(st.integers(1, 8)), draw(st.integers(1, 5))
    val = draw(st.floats(0.3, 0.9))
    test = draw(st.one_of(st.none(), st.floats(val, 1.0)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    frame = pd.DataFrame({
        "s": np.repeat(np.arange(len(lengths)), lengths),
        "t": np.concatenate([np.arange(n) for n in lengths]),
        "x": rng.normal(size=sum(lengths)), "y": rng.normal(size=sum(lengths))})
    spec = Spec(time="t", series="s", inputs=["x", "y"], targets=["y"], lookback=lookback,
                horizon=horizon)
    interleaved = frame.sort_values(["t", "s"], kind="stable")     # series mixed, time in order
    return interleaved, spec, Split(val_start=val, test_start=test)


def _parts(frame, spec, split):
    groups = arrange(frame, spec)
    parts = prepare.Parts(bounds=prepare.series_bounds(groups, split))
    return groups, parts


@FAST
@given(layout=forecast_layouts())
def test_windows_stay_in_one_series_and_never_read_a_later_part(layout):
    frame, spec, split = layout
    groups, parts = _parts(frame, spec, split)
    encoded = prepare.encode(groups, spec, _identity_encoding(spec, groups), with_targets=True)
    series = np.repeat(np.arange(len(groups)), groups.lengths)
    for code, part in enumerate(("train", "val", "test")):
        windows = prepare.part_windows(encoded, spec, parts, part)
        for start in windows.starts.tolist():
            rows = np.arange(start, start + spec.lookback + spec.horizon)
            assert rows[-1] < len(series) and len(set(series[rows])) == 1
            g = series[start]
            position = rows - groups.offsets[g]
            targets = position[spec.lookback:]
            assert np.all(targets >= parts.bounds[g, code])          # its own part...
            assert np.all(targets < parts.bounds[g, code + 1])       # ...and nothing later
            assert np.all(position < parts.bounds[g, code + 1])      # inputs too


@FAST
@given(layout=forecast_layouts(), noise=st.floats(-1e6, 1e6))
def test_fitted_statistics_depend_only_on_training_rows(layout, noise):
    frame, spec, split = layout
    groups, parts = _parts(frame, spec, split)
    if parts.bounds[:, 1].sum() == 0:
        return                                   # no training rows: nothing is fitted
    before = prepare.fit_encoding(groups, spec, parts)
    later = np.concatenate([np.arange(o + b, o + n) for o, b, n in zip(
        groups.offsets[:-1], parts.bounds[:, 1], groups.lengths, strict=True)])
    changed = groups.frame.copy()
    changed.loc[later, ["x", "y"]] += noise
    after = prepare.fit_encoding(arrange(changed, spec), spec, parts)
    assert after.input_scalers == before.input_scalers
    assert after.target_scalers == before.target_scalers


def _identity_encoding(spec, groups):
    parts = prepare.Parts(bounds=np.stack([np.zeros(len(groups)), groups.lengths,
                                           groups.lengths, groups.lengths], 1).astype(np.int64))
    return prepare.fit_encoding(groups, spec, parts)


@pytest.fixture(scope="module")
def forecaster(etth1):
    spec = Spec(time="date", inputs=["HUFL", "MUFL", "OT"], targets=["OT"], lookback=24,
                horizon=6)
    data = etth1.iloc[:1500]
    return LSTMModel(spec, hidden=8, max_epochs=1, progress=False).fit(data), data.iloc[:300]


@FAST
@given(origin=st.integers(23, 298), shift=st.floats(-1e3, 1e3).filter(lambda v: abs(v) > 1e-3))
def test_predictions_do_not_look_ahead(forecaster, origin, shift):
    model, data = forecaster
    after = data.copy()
    after.loc[after.index > origin, ["HUFL", "MUFL", "OT"]] += shift
    a = model.predict(data, origins="all")
    b = model.predict(after, origins="all")
    cutoff = data["date"].iloc[origin]
    known = a["origin"] <= cutoff
    pd.testing.assert_frame_equal(a[known], b[known])
    assert not np.allclose(a.loc[~known, "OT"], b.loc[~known, "OT"])
