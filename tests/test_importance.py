"""Permutation importance on the real Seattle weather table with a column of pure noise:
the noise does not matter, the real driver does, the model and its ONNX file agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit import ConfigError, Feature, LSTMModel, Spec, Target
from lstmkit.analysis import plots
from lstmkit.analysis.importance import importance
from lstmkit.cli.command import main
from lstmkit.deploy.onnx_model import OnnxModel

INPUTS = ["temp_max", "temp_min", "precipitation", "wind", "noise", "weather"]
TARGETS = ["temp_max", "weather"]


@pytest.fixture(scope="module")
def table(seattle):
    """The weather table with ``noise``: seeded standard normal numbers, linked to nothing."""
    return seattle.assign(noise=np.random.default_rng(0).normal(size=len(seattle)))


@pytest.fixture(scope="module")
def model(table):
    spec = Spec(time="date", lookback=14, horizon=2,
                inputs=[*INPUTS[:-1], Feature("weather", "categorical")],
                targets=["temp_max", Target("weather", kind="classification")])
    return LSTMModel(spec, hidden=16, max_epochs=5, progress=False, seed=0).fit(table)


@pytest.fixture(scope="module")
def scores(model, table):
    return model.importance(table, part="test", repeats=5)


def test_noise_is_indistinguishable_from_zero_and_below_the_real_driver(scores):
    assert sorted(map(tuple, scores[["input", "target"]].to_numpy())) == sorted(
        (i, t) for i in INPUTS for t in TARGETS)
    rows = scores.set_index(["input", "target"])
    for target in TARGETS:
        noise = rows.loc[("noise", target)]
        assert abs(noise.increase) <= max(2 * noise.spread, 0.01 * noise.error), noise
    driver, noise = rows.loc[("temp_max", "temp_max")], rows.loc[("noise", "temp_max")]
    assert driver.increase > 0.2 * driver.error           # yesterday's maximum matters
    assert driver.increase > 4 * driver.spread                    # beyond its spread
    assert driver.increase > 100 * (abs(noise.increase) + 2 * noise.spread)
    assert scores[scores.target == "temp_max"].input.iloc[0] == "temp_max"   # ranked first


def test_the_unpermuted_error_is_evaluate_s_metric_and_the_columns_hold(model, table, scores):
    evaluation = model.evaluate(table, part="test").table.set_index(["target", "metric"])
    for target, metric in (("temp_max", "MAE"), ("weather", "Brier")):
        mine = scores[scores.target == target]
        assert set(mine.metric) == {metric}
        assert mine.error.iloc[0] == pytest.approx(evaluation.loc[(target, metric), "model"],
                                                   rel=1e-9)
    assert (scores.spread > 0).all()
    assert np.allclose(scores.relative, scores.increase / scores.error)
    assert list(scores.target) == sorted(scores.target, key=TARGETS.index)  # spec order
    for _, mine in scores.groupby("target"):
        assert mine.increase.is_monotonic_decreasing                         # largest first


def test_per_step_rows_carry_each_step_s_error(model, table):
    steps = model.importance(table, part="test", repeats=2, per_step=True)
    assert len(steps) == len(INPUTS) * len(TARGETS) * 2 and set(steps.step) == {1, 2}
    per_step = model.evaluate(table, part="test").per_step
    mae = per_step[(per_step.target == "temp_max") & (per_step.metric == "MAE")]
    for step, error in zip(mae.step, mae.model, strict=True):
        mine = steps[(steps.target == "temp_max") & (steps.step == step)]
        assert mine.error.iloc[0] == pytest.approx(error, rel=1e-9)
    again = model.importance(table, part="test", repeats=2, per_step=True)
    pd.testing.assert_frame_equal(steps, again)                   # seeded: the same table


def test_the_onnx_file_gives_the_model_s_table(model, table, tmp_path):
    path = model.export_onnx(tmp_path / "weather.onnx")
    rows = table.iloc[-300:]
    mine = model.importance(rows, part="all", repeats=3)
    graph = importance(OnnxModel(path), rows, part="all", repeats=3)
    for target in TARGETS:
        assert list(mine[mine.target == target].input) == list(graph[graph.target == target].input)
    assert np.allclose(mine.error, graph.error, rtol=1e-5)
    assert np.allclose(mine.increase, graph.increase, atol=1e-4 * mine.error.max())
    with pytest.raises(ConfigError, match="records no split"):
        importance(OnnxModel(path), rows, part="test")


def test_embedded_and_known_ahead_inputs_count_and_match_the_onnx_file(table, tmp_path):
    calendar = table.assign(day=pd.to_datetime(table.date).dt.dayofyear.astype(float))
    spec = Spec(time="date", lookback=7, horizon=2,
                inputs=["temp_max", Feature("day", future=True),
                        Feature("weather", "categorical", embed=2)],
                targets=["temp_max"])
    model = LSTMModel(spec, hidden=8, max_epochs=1, progress=False, seed=0).fit(calendar)
    rows = calendar.iloc[-200:]
    mine = model.importance(rows, part="all", repeats=2)
    assert set(mine.input) == {"temp_max", "day", "weather"}
    assert (mine.increase.abs() > 0).all()                         # each permutation acts
    graph = importance(OnnxModel(model.export_onnx(tmp_path / "c.onnx")), rows, part="all",
                       repeats=2)
    merged = mine.merge(graph, on=["input", "target"])
    assert np.allclose(merged.increase_x, merged.increase_y, atol=1e-4 * merged.error_x.max())


@pytest.mark.parametrize(("keywords", "message"), [
    ({"part": "future"}, "part must be one of"),
    ({"repeats": 0}, "repeats"),
    ({"repeats": 2.5}, "repeats"),
    ({"seed": -1}, "seed"),
])
def test_bad_arguments_are_config_errors(model, table, keywords, message):
    with pytest.raises(ConfigError, match=message):
        model.importance(table, **keywords)


def test_the_heatmap_shows_inputs_by_targets(scores, tmp_path):
    fig = plots.importance(scores, save=tmp_path / "importance.png")
    assert (tmp_path / "importance.png").read_bytes()[:4] == b"\x89PNG"
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == TARGETS
    assert sorted(t.get_text() for t in ax.get_yticklabels()) == sorted(INPUTS)
    assert "%" in fig.axes[1].get_ylabel()                       # the colour bar
    cells = [(float(t.get_text()), t.get_color()) for t in ax.texts]
    high = max(abs(v) for v, _ in cells)
    assert [c for v, c in cells if abs(v) == high] == ["white"]  # readable on the dark end
    assert all(c == "black" for v, c in cells if abs(v) < high / 2)
    with pytest.raises(ConfigError, match="importance"):
        plots.importance(pd.DataFrame({"input": ["x"]}))


def test_the_command_prints_writes_and_keeps_files(model, table, tmp_path, capsys):
    model_dir, data = model.save(tmp_path / "model"), tmp_path / "weather.csv"
    table.to_csv(data, index=False)
    out, png = tmp_path / "importance.csv", tmp_path / "importance.png"
    args = ["importance", str(model_dir), str(data), "--repeats", "2", "--out", str(out),
            "--plot", str(png)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "permutation importance" in printed and "noise" in printed
    written = pd.read_csv(out)
    expected = model.importance(table, part="test", repeats=2)
    pd.testing.assert_frame_equal(written, expected, check_exact=False)
    assert png.read_bytes()[:4] == b"\x89PNG"
    before = out.read_bytes()
    assert main(args) == 2                                        # exists: no --overwrite
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == before
    assert main([*args, "--overwrite"]) == 0
    mine = tmp_path / "mine.csv"
    mine.write_text("a,b\n1,2\n")
    assert main([*args[:5], "--out", str(mine), "--overwrite"]) == 2
    assert mine.read_text() == "a,b\n1,2\n"                       # not lstmkit's: kept
    assert "not an lstmkit importance table" in capsys.readouterr().err
    assert main([*args[:3], "--repeats", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
