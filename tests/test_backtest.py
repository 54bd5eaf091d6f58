"""Rolling-origin backtesting: fold origins, no look-ahead, mixed targets, refit, the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from lstmkit import ConfigError, DataError, LSTMModel, Spec, Split, Target
from lstmkit.analysis.backtest import COLUMNS, history_split
from lstmkit.cli.command import main

LOOKBACK, HORIZON, FOLDS = 24, 6, 3
INPUTS = ["HUFL", "HULL", "OT"]


def _model(spec: Spec, **kw) -> LSTMModel:
    return LSTMModel(spec, hidden=4, max_epochs=1, batch_size=128, progress=False, **kw)


@pytest.fixture(scope="module")
def table(etth1):
    return etth1.iloc[2000:3200].reset_index(drop=True)


@pytest.fixture(scope="module")
def spec():
    return Spec(time="date", inputs=INPUTS, targets=["OT", "HUFL"], lookback=LOOKBACK,
                horizon=HORIZON)


@pytest.fixture(scope="module")
def clean(table, spec):
    return _model(spec).backtest(table, folds=FOLDS)


def _origin(k: int, n: int, step: int = HORIZON) -> int:
    """The protocol: the last row fold k fits on."""
    return n - HORIZON - step * (FOLDS - k)


def test_origins_are_step_rows_apart_and_the_last_fold_ends_on_the_last_row(table, clean):
    n = len(table)
    rows = [_origin(k, n) for k in range(FOLDS)]
    assert rows[-1] + HORIZON + HORIZON == n          # last forecast: origin + step - 1 + H
    origins = clean.origins
    assert origins.fold.tolist() == list(range(FOLDS))
    assert origins.train_rows.tolist() == [r + 1 for r in rows]
    assert origins.windows.tolist() == [HORIZON] * FOLDS
    assert list(origins.origin) == list(pd.to_datetime(table.date.iloc[rows]))
    assert list(clean.table.columns) == COLUMNS
    assert set(clean.table.step) == {"all", *range(1, HORIZON + 1)}
    assert clean.table.fold.nunique() == FOLDS


def test_a_fold_is_scored_on_exactly_its_own_forecasts(table, spec, clean):
    k = 1
    r = _origin(k, len(table))
    model = clean.models[k]
    window = table.iloc[r - LOOKBACK + 1 : r + HORIZON]         # origins r .. r + step - 1
    predicted = model.predict(window, origins="all").OT.to_numpy().reshape(HORIZON, HORIZON)
    actual = np.stack([table.OT.to_numpy()[o + 1 : o + 1 + HORIZON]
                       for o in range(r, r + HORIZON)])
    scored = clean.table.query("fold == @k and target == 'OT' and step == 'all'")
    mae = scored[scored.metric == "MAE"]
    assert mae.model.item() == pytest.approx(np.abs(predicted - actual).mean(), rel=1e-4)
    persistence = table.OT.to_numpy()[r : r + HORIZON, None]
    assert mae.naive.item() == pytest.approx(np.abs(persistence - actual).mean(), rel=1e-4)


def _garbage_after(table: pd.DataFrame, row: int) -> pd.DataFrame:
    """A copy whose rows after ``row`` hold random values in every data column."""
    garbage = table.copy()
    later = garbage.index > row
    rng = np.random.default_rng(1)
    for column in ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"):
        garbage.loc[later, column] = rng.uniform(-500, 500, later.sum())
    return garbage


def test_no_fold_sees_rows_after_its_origin(table, spec, clean):
    dirty = _model(spec).backtest(_garbage_after(table, _origin(1, len(table))), folds=FOLDS)
    # Folds 0 and 1 fit on rows up to their origins: identical scalers, weights, losses.
    for k in (0, 1):
        assert dirty.models[k].encoding_.to_dict() == clean.models[k].encoding_.to_dict()
        ours, theirs = dirty.models[k].network_.state_dict(), clean.models[k].network_.state_dict()
        assert all(ours[name].equal(theirs[name]) for name in theirs)
        assert dirty.models[k].history_ == clean.models[k].history_
    # Fold 2's history ends in garbage (its validation rows), so the comparison can fail.
    assert dirty.models[2].history_ != clean.models[2].history_


def test_a_folds_scores_come_from_its_own_window_only(table, spec, clean):
    last_target = _origin(0, len(table)) + HORIZON - 1 + HORIZON    # of fold 0's last forecast
    dirty = _model(spec).backtest(_garbage_after(table, last_target), folds=FOLDS)
    scores = ["model", "naive"]
    pd.testing.assert_frame_equal(clean.table[clean.table.fold == 0][scores],
                                  dirty.table[dirty.table.fold == 0][scores])
    # Fold 1 (fitted on the same clean rows) is scored on some garbage: the check can fail.
    assert dirty.models[1].history_ == clean.models[1].history_
    assert not np.allclose(clean.table[clean.table.fold == 1].model,
                           dirty.table[dirty.table.fold == 1].model, equal_nan=True)


def test_without_refit_one_model_fitted_before_the_first_origin_scores_every_fold(
        table, spec, clean):
    once = _model(spec).backtest(table, folds=FOLDS, refit=False)
    assert not once.refit and all(m is once.models[0] for m in once.models)
    assert once.models[0].encoding_.to_dict() == clean.models[0].encoding_.to_dict()
    first = once.table.fold == 0
    pd.testing.assert_frame_equal(once.table[first], clean.table[clean.table.fold == 0])
    last = once.table.fold == FOLDS - 1
    assert not np.allclose(once.table[last].model, clean.table[clean.table.fold == FOLDS - 1].model)
    # With refitting, later folds fit on more rows: their scalers move.
    assert clean.models[2].encoding_.to_dict() != clean.models[0].encoding_.to_dict()


def test_summary_is_the_mean_over_folds(clean):
    summary = clean.summary()
    rows = clean.table.query("target == 'OT' and metric == 'RMSE' and step == 'all'")
    mean = summary.query("target == 'OT' and metric == 'RMSE'")
    assert mean.model.item() == pytest.approx(rows.model.mean())
    assert mean.naive.item() == pytest.approx(rows.naive.mean())
    assert len(summary) == 2 * 6       # two targets, four regression metrics, MASE and RMSSE


def test_regression_and_classification_targets_side_by_side(seattle):
    spec = Spec(time="date", inputs=["temp_max", "precipitation", "wind"], lookback=14,
                horizon=2, targets=[Target("temp_max"), Target("weather", kind="classification")])
    step = 30
    result = _model(spec).backtest(seattle, folds=2, step=step)
    overall = result.table[result.table.step == "all"]
    for _, fold in overall.groupby("fold"):
        assert set(fold.metric[fold.target == "temp_max"]) == {"MAE", "RMSE", "sMAPE", "R2",
                                                                "MASE", "RMSSE"}
        assert set(fold.metric[fold.target == "weather"]) == {"accuracy", "macro_F1", "ECE",
                                                                 "Brier"}
        assert fold.naive.notna().all()
    for evaluation in result.evaluations:            # every forecast of the fold, no more
        assert evaluation.confusion["weather"].to_numpy().sum() == step * 2
    assert set(result.summary().metric) == {"MAE", "RMSE", "sMAPE", "R2", "MASE", "RMSSE",
                                              "accuracy", "macro_F1", "ECE", "Brier"}


def test_several_series_each_roll_back_from_their_own_end(etth1, spec):
    two = pd.concat([etth1.iloc[:700].assign(s="a"), etth1.iloc[3000:3900].assign(s="b")])
    result = _model(Spec(**{**spec.to_dict(), "series": "s"})).backtest(two, folds=2)
    origins = result.origins
    assert list(origins.columns) == ["fold", "s", "origin", "train_rows", "windows"]
    expected = {("a", 0): 700 - 3 * HORIZON + 1, ("b", 0): 900 - 3 * HORIZON + 1,
                ("a", 1): 700 - 2 * HORIZON + 1, ("b", 1): 900 - 2 * HORIZON + 1}
    assert {(r.s, r.fold): r.train_rows for r in origins.itertuples()} == expected
    assert origins.origin.iloc[1] == pd.Timestamp(etth1.date.iloc[3000 + 900 - 3 * HORIZON])


def test_the_history_keeps_the_splits_train_to_validation_proportion():
    assert history_split(Split(0.7, 0.85)) == Split(0.7 / 0.85, None)
    assert history_split(Split(5000, 6000, 7000)) == Split(5000, None)
    assert history_split(Split(None, None)) == Split(None, None)


@pytest.mark.parametrize(("kwargs", "error", "fragment"), [
    ({"folds": 0}, ConfigError, "folds must be a positive integer, got 0"),
    ({"folds": -2}, ConfigError, "got -2"),
    ({"folds": 2.5}, ConfigError, "got 2.5"),
    ({"folds": 2, "step": 0}, ConfigError, "step must be a positive integer"),
    ({"folds": 200}, DataError, "200 folds 6 rows apart need at least 1235 rows"),
    ({"folds": 3, "refit": "yes"}, ConfigError, "refit must be True, False or 'warm'"),
])
def test_bad_fold_settings_are_refused_before_training(table, spec, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        _model(spec).backtest(table, **kwargs)


def test_a_failing_fold_is_named(table, spec):
    model = _model(spec, split=Split(val_start=5000, test_start=None))
    with pytest.raises(DataError, match=r"backtest fold 0 \(origin 2016-.*validation part"):
        model.backtest(table, folds=2)


def test_sequence_models_have_no_origins_to_roll():
    spec = Spec(task="sequence", sequence="id", inputs=["x"], targets=["y"])
    with pytest.raises(ConfigError, match="backtesting needs a forecast model"):
        LSTMModel(spec).backtest(pd.DataFrame({"id": [0], "x": [1.0], "y": [1.0]}))


# -- the command line ----------------------------------------------------------------------
@pytest.fixture
def config(tmp_path, table):
    data = tmp_path / "etth1_slice.csv"
    table.to_csv(data, index=False)
    path = tmp_path / "bt.yaml"
    path.write_text(yaml.safe_dump({
        "data": {"path": str(data)},
        "spec": {"time": "date", "inputs": INPUTS, "targets": ["OT"], "lookback": LOOKBACK,
                 "horizon": HORIZON},
        "model": {"hidden": 4},
        "training": {"max_epochs": 1, "batch_size": 128, "progress": False},
        "run_dir": str(tmp_path / "runs" / "bt"),
    }))
    return path


def test_cli_backtest_writes_the_table_and_the_plot(config, tmp_path, capsys):
    assert main(["backtest", str(config), "--folds", "2", "--step", "12", "--no-refit"]) == 0
    out = capsys.readouterr().out
    assert "mean over 2 folds" in out and "OT" in out and "RMSE" in out
    run = tmp_path / "runs" / "bt-backtest"
    assert {p.name for p in run.iterdir()} == {"backtest.csv", "backtest.png"}
    written = pd.read_csv(run / "backtest.csv")
    assert list(written.columns) == COLUMNS
    assert sorted(written.fold.unique()) == [0, 1]
    assert (run / "backtest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("folds", "code", "fragment"), [
    ("0", 2, "backtest folds must be a positive integer, got 0"),
    ("-3", 2, "backtest folds must be a positive integer, got -3"),
    ("500", 3, "500 folds 6 rows apart need at least"),
])
def test_cli_bad_folds_are_one_line_errors_and_write_nothing(config, tmp_path, capsys, folds,
                                                             code, fragment):
    run = tmp_path / "out"
    assert main(["backtest", str(config), "--folds", folds, "--run-dir", str(run)]) == code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert not run.exists()
