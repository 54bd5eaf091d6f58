"""The classic Keras classifier snippet, ported: 20 steps x 5 features -> 3 classes, one-hot.

The Keras code it replaces (random labels there; real ETTh1 hours here: 20 hours of
five columns say whether the oil temperature falls, holds or rises over the next
six hours, the classes cut at the training part's tertiles of that change):

    model = Sequential([LSTM(32, input_shape=(20, 5)), Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, to_categorical(y), epochs=30, batch_size=32, validation_split=0.2)
    proba = model.predict(X_test)                                # (samples, 3)
    labels = proba.argmax(axis=1)

    python examples/keras_classifier.py [--data-dir ../shared/data] [--epochs 30]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lstmkit import LSTMModel, datasets

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "OT"]
CLASSES = ["falls", "holds", "rises"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=SHARED if SHARED.is_dir() else None)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--samples", type=int, default=3000)
    args = parser.parse_args()

    values = datasets.load("etth1", data_dir=args.data_dir)[COLUMNS].to_numpy(np.float32)
    starts = np.arange(args.samples) * 4                         # a window every 4 hours
    X = np.stack([values[s : s + 20] for s in starts])           # (samples, 20, 5)
    oil = values[:, COLUMNS.index("OT")]
    change = oil[starts + 25] - oil[starts + 19]                 # the next six hours
    n_train, n_val = int(0.6 * len(X)), int(0.2 * len(X))
    cuts = np.quantile(change[:n_train], [1 / 3, 2 / 3])
    y = np.eye(3, dtype=np.float32)[np.digitize(change, cuts)]  # to_categorical: one-hot
    X_train, y_train = X[:n_train], y[:n_train]
    X_val, y_val = X[n_train : n_train + n_val], y[n_train : n_train + n_val]
    X_test, y_test = X[n_train + n_val :], y[n_train + n_val :]

    # LSTM(32) + softmax Dense(3). A one-hot y is one classification target labelled by
    # column (0, 1, 2); model.spec_ shows it. (lstmkit's own default for sequence
    # classification is larger: a bidirectional LSTM(128) beside a convolutional branch.)
    model = LSTMModel(hidden=32, bidirectional=False, conv=False, dropout=0.0,
                      max_epochs=args.epochs, batch_size=32, progress=False)
    model.fit(X_train, y_train, validation_data=(X_val, y_val))
    print("target:", model.spec_.targets[0])
    proba = model.predict_proba(X_test)                          # (samples, 3), rows sum to 1
    labels = model.predict(X_test, output="array")               # (samples,): proba's argmax
    print(f"X {X_train.shape} y {y_train.shape} -> predict_proba {proba.shape}, "
          f"predict {labels.shape}")
    print("first test samples:", [CLASSES[k] for k in labels[:5]])

    truth = y_test.argmax(axis=1)
    majority = np.bincount(y_train.argmax(axis=1)).argmax()
    print(f"test accuracy: model {(labels == truth).mean():.4f}, "
          f"majority class {(truth == majority).mean():.4f}")


if __name__ == "__main__":
    main()
