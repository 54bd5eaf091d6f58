"""Example (c): sequence to sequence, multivariate in and out, of different lengths.

From 48 hourly steps of all seven ETTh1 columns, predict the next 12 steps of
three load columns with the classic encoder-decoder: an LSTM encoder, its
summary repeated 12 times (RepeatVector), a decoder LSTM and a per-step dense
layer (TimeDistributed(Dense)). The arrays are built the way the classic
examples build them; lstmkit still splits before scaling and reports each output
in original units beside repeating the last input step.

    python examples/seq2seq_repeat.py [--data-dir ../shared/data] [--epochs 15]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lstmkit import LSTMModel, Spec, Split, datasets

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
OUTPUTS = ["HUFL", "MUFL", "LUFL"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=SHARED if SHARED.is_dir() else None)
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()

    values = datasets.load("etth1", data_dir=args.data_dir)[COLUMNS].to_numpy()[:14400]
    starts = np.arange(0, len(values) - 60, 4)
    X = np.stack([values[s : s + 48] for s in starts])                    # (n, 48, 7)
    out = [COLUMNS.index(c) for c in OUTPUTS]
    Y = np.stack([values[s + 48 : s + 60][:, out] for s in starts])       # (n, 12, 3)
    print(f"X {X.shape} -> Y {Y.shape}")

    spec = Spec(task="seq2seq", inputs=COLUMNS, targets=OUTPUTS, horizon=12)
    # Overlapping samples: split in time order (no shuffling), or the test part leaks.
    model = LSTMModel(spec, decoder="repeat", hidden=64, batch_size=64, max_epochs=args.epochs,
                      split=Split(0.7, 0.85, shuffle=False))
    model.fit(X, Y)
    print(model.evaluate(X, Y, part="test"))
    print("\nthe first test sample, step by step:")
    print(model.predict(X[-1:]).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
