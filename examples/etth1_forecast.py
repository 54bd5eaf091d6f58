"""Example (a): forecast two targets from seven inputs, correctly.

ETTh1 (hourly electricity transformer data): the last 4 days of all seven
columns predict the next 24 hours of oil temperature (OT) and the high useful
load (HUFL). The split is the standard one (12/4/4 months), made before any
scaler is fitted; metrics come back in original units beside persistence.

    python examples/etth1_forecast.py [--data-dir ../shared/data] [--epochs 10]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lstmkit import LSTMModel, Spec, Split, Target, datasets

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=SHARED if SHARED.is_dir() else None)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()

    df = datasets.load("etth1", data_dir=args.data_dir)
    spec = Spec(
        time="date",
        inputs=["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"],
        targets=[Target("OT"), Target("HUFL")],
        lookback=96,
        horizon=24,
    )
    # The targets are inputs too, so the default architecture is a channel-independent
    # segment LSTM with RevIN and the parallel decoder (see lstmkit.presets).
    model = LSTMModel(spec, batch_size=128, max_epochs=args.epochs,
                      split=Split(8640, 11520, 14400))
    model.fit(df)
    print("architecture:", model.architecture_)
    evaluation = model.evaluate(df, part="test")
    print(evaluation)
    print("\nMAE per horizon step (OT):")
    steps = evaluation.per_step.query("target == 'OT' and metric == 'MAE'")
    print(steps[["step", "model", "naive"]].to_string(index=False))
    print("\nthe next 24 hours after the last row:")
    print(model.predict(df).to_string(index=False))


if __name__ == "__main__":
    main()
