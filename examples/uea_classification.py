"""Example (b): classify multi-feature sequences (UEA BasicMotions or JapaneseVowels).

Each sample is a whole sequence of sensor readings (BasicMotions: 6 channels x
100 steps, 4 activities; JapaneseVowels: 12 channels, 7-29 steps, 9 speakers).
The official TRAIN file trains (a validation part is carved out of it for early
stopping); the official TEST file scores. Sequences of different lengths are
packed, not truncated.

    python examples/uea_classification.py [--dataset JapaneseVowels] [--data-dir ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lstmkit import LSTMModel, Split, datasets

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="BasicMotions")
    parser.add_argument("--data-dir", default=SHARED if SHARED.is_dir() else None)
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args()

    X, y = datasets.load_uea(args.dataset, "train", data_dir=args.data_dir)
    X_test, y_test = datasets.load_uea(args.dataset, "test", data_dir=args.data_dir)
    print(f"{args.dataset}: train {X.shape}, test {X_test.shape}, classes {sorted(set(y))}")
    # No spec needed for arrays: inputs x0..x5, one classification target "y" (string labels).
    # The default for sequence classification: a bidirectional LSTM beside a
    # convolutional branch (see lstmkit.presets).
    model = LSTMModel(batch_size=16, max_epochs=args.epochs, patience=30,
                      split=Split(val_start=0.8, test_start=None))
    model.fit(X, y)
    print("architecture:", model.architecture_)
    evaluation = model.evaluate(X_test, y_test)
    print(evaluation)
    print("\nconfusion matrix (rows: true, columns: predicted):")
    print(evaluation.confusion["y"])
    print("\nfirst test predictions with class probabilities:")
    print(model.predict(X_test[:5]).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
