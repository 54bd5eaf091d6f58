"""Regenerate the sample plots in docs/img from a short real run (Seattle weather, week ahead).

    python docs/make_images.py
"""

from __future__ import annotations

from pathlib import Path

from lstmkit import Feature, LSTMModel, Spec, Target, datasets
from lstmkit.analysis import plots

OUT = Path(__file__).resolve().parent / "img"
UNITS = {"temp_max": "°C", "temp_min": "°C", "precipitation": "mm", "wind": "m/s"}


def main() -> None:
    df = datasets.load("seattle_weather")
    spec = Spec(time="date", lookback=28, horizon=7,
                inputs=["precipitation", "temp_max", "temp_min", "wind",
                        Feature("weather", kind="categorical")],
                targets=["temp_max", "temp_min", Target("precipitation", scaler="robust"),
                         "wind", Target("weather", kind="classification")], units=UNITS)
    model = LSTMModel(spec, hidden=32, lr=3e-3, batch_size=32, max_epochs=30, progress=False)
    model.fit(df)
    evaluation = model.evaluate(df, part="test")
    figures = {
        "learning_curves": plots.learning_curves(model.history_),
        "forecasts": plots.forecasts(model, df, origins=3),         # the spec's units
        "horizon_errors": plots.horizon_errors(evaluation),
        "confusion": plots.confusion(evaluation),
        "backtest": model.backtest(df, folds=4, step=30).plot(),
    }
    model.calibrate_intervals(df, part="val", coverage=[0.8, 0.95])
    figures["conformal"] = plots.forecasts(model, df, origins=2)
    OUT.mkdir(exist_ok=True)
    for name, fig in figures.items():
        fig.savefig(OUT / f"{name}.png", dpi=70)


if __name__ == "__main__":
    main()
