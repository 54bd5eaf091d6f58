"""The classic Keras regression snippet, ported: an LSTM over 30 steps x 3 features -> 2 outputs.

The Keras code it replaces (random numbers there; real ETTh1 hours here: 30 hours of
three columns predict the next hour's oil temperature and high useful load):

    model = Sequential([LSTM(64, input_shape=(30, 3)), Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, y, epochs=20, batch_size=32, validation_split=0.2)
    y_pred = model.predict(X_test)                               # (samples, 2)

    python examples/keras_regression.py [--data-dir ../shared/data] [--epochs 20]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lstmkit import LSTMModel, datasets

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
INPUTS, OUTPUTS = ["HUFL", "MUFL", "OT"], ["OT", "HUFL"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=SHARED if SHARED.is_dir() else None)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()

    table = datasets.load("etth1", data_dir=args.data_dir)
    values, targets = table[INPUTS].to_numpy(np.float32), table[OUTPUTS].to_numpy(np.float32)
    starts = np.arange(args.samples) * 4                         # a window every 4 hours
    X = np.stack([values[s : s + 30] for s in starts])           # (samples, 30, 3)
    y = targets[starts + 30]                                     # (samples, 2): the next hour
    # validation_split=0.2, and a test part after it: in time order, as the windows overlap
    n_train, n_val = int(0.6 * len(X)), int(0.2 * len(X))
    X_train, y_train = X[:n_train], y[:n_train]
    X_val, y_val = X[n_train : n_train + n_val], y[n_train : n_train + n_val]
    X_test, y_test = X[n_train + n_val :], y[n_train + n_val :]

    # LSTM(64) + Dense(2): the default network for sequence regression. Every training
    # sample trains (validation_data is the validation set); scalers see X_train only.
    model = LSTMModel(hidden=64, max_epochs=args.epochs, batch_size=32, progress=False)
    model.fit(X_train, y_train, validation_data=(X_val, y_val))
    y_pred = model.predict(X_test, output="array")               # (samples, 2), original units
    print(f"X {X_train.shape} y {y_train.shape} -> predict {y_pred.shape}")

    rmse = np.sqrt(((y_pred - y_test) ** 2).mean())
    mean = np.sqrt(((y_train.mean(axis=0) - y_test) ** 2).mean())
    print(f"test RMSE: model {rmse:.4f}, training mean {mean:.4f}")


if __name__ == "__main__":
    main()
