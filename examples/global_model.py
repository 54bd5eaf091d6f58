"""Example: one global model for many series, which knows each series by its id.

ETTh1's seven measured columns become seven series of one long table (date,
sensor, value). A single model learns from all of them; the sensor id is an
input, embedded as 4 learned numbers per sensor (``Feature(embed=4)``), so the
model can tell the smooth oil temperature from the spiky loads. The table holds
one index column for the id, however many series there are. Being a panel, each
sensor is scaled by its own training part (README, "Per-series scaling").

    python examples/global_model.py [--data-dir ../shared/data] [--epochs 10]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lstmkit import Feature, LSTMModel, Spec, Split, datasets

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MEASURED = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=SHARED if SHARED.is_dir() else None)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()

    wide = datasets.load("etth1", data_dir=args.data_dir).iloc[:14400]
    long = wide.melt(id_vars="date", value_vars=MEASURED, var_name="sensor")
    spec = Spec(
        time="date",
        series="sensor",
        inputs=["value", Feature("sensor", kind="categorical", embed=4)],
        targets=["value"],
        lookback=96,
        horizon=24,
    )
    # The standard ETTh1 split, applied to each series: rows [0, 8640) train, then
    # validation up to 11520 and test up to 14400.
    model = LSTMModel(spec, batch_size=256, max_epochs=args.epochs,
                      split=Split(8640, 11520, 14400))
    model.fit(long)
    print(model.evaluate(long, part="test"))

    forecasts = model.predict(long)            # the 24 hours after each series' last row
    print("\nmean forecast of the next 24 hours, per sensor:")
    print(forecasts.groupby("sensor")["value"].mean().round(2).to_string())


if __name__ == "__main__":
    main()
