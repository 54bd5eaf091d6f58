"""A new user's own panels (an id column, a time column, values): what each error says is
the fix, applied, works (errors found by trying lstmkit on grunfeld, wage_panel, stocks and
hand-built panels)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from lstmkit import Feature, LSTMModel, Spec, Split
from lstmkit.analysis import plots
from lstmkit.cli.command import main
from lstmkit.data.series_ids import position
from lstmkit.errors import ConfigError, DataError


def _series(sid: str, start: str, n: int, seed: int) -> pd.DataFrame:
    values = 10 + np.cumsum(np.random.default_rng(seed).normal(size=n))
    return pd.DataFrame({"id": sid, "date": pd.date_range(start, periods=n, freq="D"),
                         "y": values})


@pytest.fixture(scope="module")
def regions() -> pd.DataFrame:
    """Three daily series of different lengths and starts, each in a region (static)."""
    frame = pd.concat([_series("a", "2020-01-01", 60, 0), _series("b", "2020-02-15", 40, 1),
                       _series("c", "2019-06-01", 80, 2)], ignore_index=True)
    return frame.assign(region=frame.id.map({"a": "north", "b": "south", "c": "north"}))


def _fit(frame: pd.DataFrame, missing: str = "error") -> LSTMModel:
    region = Feature("region", kind="categorical", static=True, missing=missing)
    spec = Spec(time="date", series="id", inputs=["y", region], targets=["y"],
                lookback=8, horizon=2)
    return LSTMModel(spec, hidden=8, max_epochs=1, progress=False, seed=0).fit(frame)


@pytest.fixture(scope="module")
def fitted(regions) -> LSTMModel:
    with pytest.warns(Warning):      # the baseline verdict of one epoch
        return _fit(regions)


def _with_new_region(regions: pd.DataFrame) -> pd.DataFrame:
    new = _series("z", "2021-01-01", 20, 3).assign(region="west")
    return pd.concat([regions, new], ignore_index=True)


def test_a_label_a_fitted_model_never_saw_names_fixes_for_the_fitted_model(fitted, regions):
    table = _with_new_region(regions)
    with pytest.raises(DataError) as caught, pytest.warns(Warning, match="'z'"):
        fitted.predict(table)
    message = str(caught.value)
    assert "'region'" in message and "'west'" in message and "row 180" in message
    assert "val_start" not in message            # a fitted model's split is no fix
    assert "fit again on data whose training part holds it" in message and ".replace(" in message
    # the fix, applied: mapped to a known label, the new series is forecast
    table["region"] = table.region.replace({"west": "south"})
    with pytest.warns(Warning, match="'z'"):     # a series the model was not fitted on
        forecast = fitted.predict(table)
    assert forecast[forecast.id == "z"].time.min() == pd.Timestamp("2021-01-21")


def test_read_as_missing_is_the_fix_where_the_fitted_model_takes_a_gap(regions):
    with pytest.warns(Warning):
        model = _fit(regions, missing="mask")
    table = _with_new_region(regions)
    with (pytest.raises(DataError, match="missing policy for it takes") as caught,
          pytest.warns(Warning, match="'z'")):
        model.predict(table)
    assert "val_start" not in str(caught.value)
    table["region"] = table.region.where(table.region.isin(["north", "south"]))
    with pytest.warns(Warning, match="'z'"):
        assert set(model.predict(table).id) == {"a", "b", "c", "z"}


def test_fitting_still_names_the_split_that_holds_the_label(regions):
    late = regions.copy()
    late.loc[late.index[late.id == "b"][-3:], "region"] = "west"   # in b's test part only
    spec = Spec(time="date", series="id", inputs=["y", Feature("region", kind="categorical")],
                targets=["y"], lookback=8, horizon=2)
    with pytest.raises(DataError, match="val_start comes after row"):
        LSTMModel(spec, hidden=8, max_epochs=1, progress=False).fit(late)


def _people(n: int = 6, years: int = 8) -> pd.DataFrame:
    """An econometric panel: a few yearly rows per person (wage_panel has 8 per person)."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({"person": np.repeat(np.arange(100, 100 + n), years),
                         "year": np.tile(np.arange(1980, 1980 + years), n),
                         "lwage": rng.normal(1.5, 0.3, n * years)})


def _short_fit(split: Split) -> LSTMModel:
    spec = Spec(time="year", series="person", inputs=["lwage"], targets=["lwage"],
                lookback=4, horizon=2)
    return LSTMModel(spec, split=split, hidden=8, max_epochs=1, progress=False).fit(_people())


def test_a_part_too_short_for_a_window_is_counted_and_the_split_it_names_fits():
    with pytest.raises(DataError) as caught:
        _short_fit(Split())
    message = str(caught.value)
    assert "at most 5 rows of a series" in message and "series 100, 8 rows" in message
    assert "val_start=0.7 ends it at row 5" in message and "Split(val_start=6, ...)" in message
    with pytest.raises(DataError) as caught:          # that fix, applied: validation next
        _short_fit(Split(val_start=6))
    message = str(caught.value)
    assert "the validation part" in message and "at most 0 rows" in message
    assert "Split(test_start=8, ...)" in message
    assert _short_fit(Split(val_start=6, test_start=8)).validation_ is not None   # both: fits


def _stores() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.concat([pd.DataFrame({"store": store, "date": pd.date_range(start, periods=n),
                                    "sales": 100 + np.cumsum(rng.normal(size=n))})
                      for store, start, n in [(7, "2020-01-01", 60), (12, "2020-02-01", 50),
                                              (305, "2019-12-01", 70)]], ignore_index=True)


def test_float_ids_and_the_same_ids_as_integers_or_text_are_one_series(tmp_path):
    """An integer id column that held a gap is floats to pandas (7.0); the model fitted on
    them knows 7 and "7" (a CSV file's ids) as the same series: no unseen-series warning,
    the same forecasts, and the fit's naive scales."""
    stores = _stores()
    floats = stores.assign(store=stores.store.astype(float))
    spec = Spec(time="date", series="store", inputs=["sales"], targets=["sales"],
                lookback=8, horizon=2)
    model = LSTMModel(spec, hidden=8, max_epochs=2, progress=False, seed=0)
    with pytest.warns(Warning):
        model.fit(floats)
    stores.to_csv(tmp_path / "stores.csv", index=False)
    want = model.predict(floats)
    for data in (stores, tmp_path / "stores.csv"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")           # no series is taken for a new one
            got = model.predict(data)
            evaluation = model.evaluate(data, part="test")
        np.testing.assert_array_equal(got.sales.to_numpy(), want.sales.to_numpy())
        assert "come from the data given" not in evaluation.scale_free
    model.save(tmp_path / "model")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = LSTMModel.load(tmp_path / "model").predict(stores)
    np.testing.assert_array_equal(again.sales.to_numpy(), want.sales.to_numpy())


def test_ids_saved_as_python_printed_them_are_still_found():
    """Models saved before kept str(id), '7.0' for 7.0: their series are still found."""
    assert position({"7.0": 0}, 7.0) == 0 and position({"7": 0}, 7.0) == 0
    assert position({"7": 0}, "7") == 0 and position({"7": 0}, 7) == 0
    assert position({"007": 0}, 7) == -1 and position({None: 0}, None) == 0


def test_rows_without_a_series_id_are_counted_and_the_drop_it_names_fits():
    stores = _stores()
    stores["store"] = stores.store.astype(object)
    stores.loc[[58, 59], "store"] = None               # the last two rows of store 7
    spec = Spec(time="date", series="store", inputs=["sales"], targets=["sales"],
                lookback=8, horizon=2)
    with pytest.raises(DataError) as caught:
        LSTMModel(spec, max_epochs=1, progress=False).fit(stores)
    assert "row 58 (2 of 180 rows have none)" in str(caught.value)
    assert "df.dropna(subset=['store'])" in str(caught.value)
    with pytest.warns(Warning):
        model = LSTMModel(spec, hidden=8, max_epochs=1, progress=False).fit(
            stores.dropna(subset=["store"]))
    assert set(model.predict(stores.dropna(subset=["store"])).store) == {7, 12, 305}


def _big_and_small() -> pd.DataFrame:
    """A large daily-cycle series beside a small random walk: pooled errors in original
    units are the large one's."""
    rng = np.random.default_rng(1)
    n, t = 600, np.arange(600)
    time = pd.date_range("2020-01-01", periods=n, freq="h")
    return pd.concat([
        pd.DataFrame({"id": "big", "date": time,
                      "y": 1000 + 300 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 10, n)}),
        pd.DataFrame({"id": "small", "date": time,
                      "y": 5 + np.cumsum(rng.normal(0, 0.1, n))})], ignore_index=True)


def test_a_series_the_model_loses_on_is_named_though_pooled_it_wins():
    table = _big_and_small()
    spec = Spec(time="date", series="id", inputs=["y"], targets=["y"], lookback=24, horizon=6)
    model = LSTMModel(spec, hidden=16, max_epochs=3, progress=False, seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(table)
    assert not model.validation_["targets"]["y"]["worse"]          # pooled: better
    scored = model.evaluate(table, part="val").per_series.query("metric == 'MAE'")
    lost = scored[scored.model > scored.naive]
    assert list(lost.series) == ["small"]
    named = [str(w.message) for w in caught if "series (MAE, each in its own units" in
             str(w.message)]
    assert len(named) == 1 and "worse on 1 of 2 series" in named[0]
    row = lost.iloc[0]
    assert f"'small' {row.model:.4g} against {row.naive:.4g}" in named[0]
    assert "few to tell by" not in named[0]              # 90 validation windows a series


def test_the_warning_says_where_each_series_has_few_validation_windows_to_tell_by():
    spec = Spec(time="year", series="person", inputs=["lwage"], targets=["lwage"],
                lookback=4, horizon=2)
    model = LSTMModel(spec, split=Split(val_start=6, test_start=8), hidden=8, max_epochs=1,
                      progress=False, seed=0)
    with pytest.warns(Warning, match=r"worse on \d+ of 12 series .*\(from 1 validation "
                                     r"window a series: few to tell by\)"):
        model.fit(_people(12))


def test_a_plot_finds_a_series_by_its_id_as_a_number_or_as_a_csv_file_writes_it(tmp_path):
    stores = _stores()
    spec = Spec(time="date", series="store", inputs=["sales"], targets=["sales"],
                lookback=8, horizon=2)
    with pytest.warns(Warning):
        model = LSTMModel(spec, hidden=8, max_epochs=1, progress=False).fit(stores)
    stores.to_csv(tmp_path / "stores.csv", index=False)
    want = stores[stores.store == 12].sales.to_numpy()
    for data, series in ((tmp_path / "stores.csv", 12), (stores, "12"), (stores, 12.0)):
        figure = plots.forecasts(model, data, series=series, origins=1)
        drawn = figure.axes[0].lines[0].get_ydata()            # the actual values
        assert np.isin(drawn, want).all()
    with pytest.raises(ConfigError, match="series 99 is not in column 'store'"):
        plots.forecasts(model, stores, series=99)


def test_the_aggregation_a_repeated_time_names_keeps_the_static_columns():
    """Two rows of store 12 at one time: the groupby the error names keeps region (text)
    and size (numeric, which a sum would double) by grouping by them too."""
    stores = _stores().assign(region=lambda t: t.store.map({7: "n", 12: "s", 305: "n"}),
                              size=lambda t: t.store * 1.5)
    extra = stores.iloc[[70]].assign(sales=stores.sales.iloc[70] + 1.0)
    table = pd.concat([stores, extra]).sort_values(["store", "date"], kind="stable")
    spec = Spec(time="date", series="store", targets=["sales"], lookback=8, horizon=2,
                inputs=["sales", Feature("region", kind="categorical", static=True),
                        Feature("size", static=True)])
    with pytest.raises(DataError) as caught:
        LSTMModel(spec, max_epochs=1, progress=False).fit(table)
    fix = "df.groupby(['store', 'date', 'region', 'size'], as_index=False).sum(numeric_only=True)"
    assert fix in str(caught.value)
    fixed = eval(fix, {"df": table})          # the fix, applied as written
    with pytest.warns(Warning):
        model = LSTMModel(spec, hidden=8, max_epochs=1, progress=False).fit(fixed)
    assert len(fixed) == len(stores) and set(model.predict(fixed).store) == {7, 12, 305}


def test_a_new_series_too_short_to_predict_from_names_the_filter_that_predicts_the_rest():
    stores = _stores()
    spec = Spec(time="date", series="store", inputs=["sales"], targets=["sales"],
                lookback=8, horizon=2)
    with pytest.warns(Warning):
        model = LSTMModel(spec, hidden=8, max_epochs=1, progress=False).fit(stores)
    new = pd.DataFrame({"store": 999, "date": pd.date_range("2021-01-01", periods=3),
                        "sales": [1.0, 2.0, 3.0]})
    table = pd.concat([stores, new], ignore_index=True)
    with pytest.raises(DataError) as caught:
        model.predict(table)
    fix = "df.groupby('store').filter(lambda g: len(g) >= 8)"
    assert "series 999 has 3 rows" in str(caught.value) and "1 of 4 series" in str(caught.value)
    assert fix in str(caught.value)
    forecast = model.predict(eval(fix, {"df": table}))          # the fix, applied
    assert set(forecast.store) == {7, 12, 305}


def _store_items() -> pd.DataFrame:
    """Sales per store and item, written a series after another (as M5-like tables are)."""
    rng = np.random.default_rng(0)
    return pd.concat([pd.DataFrame({"store": store, "item": item,
                                    "date": pd.date_range("2020-01-01", periods=40),
                                    "sales": rng.poisson(5, 40).astype(float)})
                      for store in "AB" for item in (1, 2)], ignore_index=True)


@pytest.mark.parametrize("series", [["store", "item"], "store"])
def test_series_named_by_two_columns_get_the_one_id_column_that_fits(series):
    """Neither a list of columns nor one of the two is the series; the message names the
    column to make (item 1, 2 once read as an hour of the day)."""
    table = _store_items()
    with pytest.raises((ConfigError, DataError)) as caught:
        spec = Spec(time="date", series=series, inputs=["sales"], targets=["sales"],
                    lookback=7, horizon=2)
        LSTMModel(spec, max_epochs=1, progress=False).fit(table)
    message = str(caught.value)
    fix = "df['series'] = df['store'].astype(str) + '/' + df['item'].astype(str)"
    assert fix in message and "hour" not in message
    exec(fix, {"df": table})                                    # the fix, applied
    spec = Spec(time="date", series="series", inputs=["sales"], targets=["sales"],
                lookback=7, horizon=2)
    with pytest.warns(Warning):
        model = LSTMModel(spec, hidden=8, max_epochs=1, progress=False).fit(table)
    assert set(model.predict(table).series) == {"A/1", "A/2", "B/1", "B/2"}


def test_lstmkit_fit_with_a_split_that_leaves_no_test_window_saves_the_run(tmp_path, capsys):
    """The split the short-part error names (test_start at a series' end) leaves no test
    window: the run is scored on the validation part, saying so, and saved, where it was
    trained and then lost with 'the test part has no full window' (exit 3)."""
    _people(12).to_csv(tmp_path / "people.csv", index=False)
    config = {"data": {"path": str(tmp_path / "people.csv")},
              "spec": {"time": "year", "series": "person", "inputs": ["lwage"],
                       "targets": ["lwage"], "lookback": 4, "horizon": 2},
              "split": {"val_start": 6, "test_start": 8}, "training": {"max_epochs": 1}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    code = main(["fit", str(tmp_path / "run.yaml"), "--run-dir", str(tmp_path / "run"),
                 "--no-progress"])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["scored_on"] == "the val part (the test part holds no full window)"
    assert (tmp_path / "run" / "weights.safetensors").is_file()


def test_a_fitted_models_empty_part_names_another_part_not_a_new_split():
    model = _short_fit(Split(val_start=6, test_start=8))
    with pytest.raises(DataError) as caught:
        model.evaluate(_people(), part="test")
    message = str(caught.value)
    assert "at most 0 rows of a series" in message and "the model's split is fixed" in message
    assert "Split(" not in message and "lookback/horizon" not in message
    assert model.evaluate(_people(), part="all").per_series.series.nunique() == 6
