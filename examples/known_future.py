"""Example: inputs known in advance (calendar features) beside the measured ones.

ETTh1 (hourly electricity transformer data): the last 4 days of the seven measured
columns, plus the hour of day and the weekday, predict the next 24 hours of oil
temperature (OT). The calendar of the next 24 hours is known when the forecast is
made, so those two inputs are marked ``future=True``: the model reads them over
the forecast steps too. To predict, the table ends with the 24 rows to forecast,
which hold only the date and the calendar columns.

    python examples/known_future.py [--data-dir ../shared/data] [--epochs 10]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from lstmkit import Feature, LSTMModel, Spec, Split, datasets

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MEASURED = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]


def with_calendar(frame: pd.DataFrame) -> pd.DataFrame:
    dates = pd.to_datetime(frame["date"])
    return frame.assign(hour=dates.dt.hour, weekday=dates.dt.day_name())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=SHARED if SHARED.is_dir() else None)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()

    df = with_calendar(datasets.load("etth1", data_dir=args.data_dir).iloc[:14400])
    spec = Spec(
        time="date",
        inputs=[*MEASURED, Feature("hour", future=True),
                Feature("weekday", kind="categorical", future=True)],
        targets=["OT"],
        lookback=96,
        horizon=24,
    )
    model = LSTMModel(spec, batch_size=128, max_epochs=args.epochs,
                      split=Split(8640, 11520, 14400))
    model.fit(df)
    print(model.evaluate(df, part="test"))

    # Forecast the day after the data: its 24 rows give the date and the calendar only.
    last = pd.to_datetime(df["date"].iloc[-1])
    ahead = pd.DataFrame({"date": pd.date_range(last, periods=25, freq="h")[1:]})
    table = pd.concat([df.tail(96), with_calendar(ahead)], ignore_index=True)
    print("\nthe next 24 hours after the last row:")
    print(model.predict(table).to_string(index=False))


if __name__ == "__main__":
    main()
