"""The classic Keras encoder-decoder snippet, ported: 10 steps x 300 -> 12 steps x 300.

The Keras code it replaces (RepeatVector + TimeDistributed):

    model = Sequential([LSTM(256, input_shape=(10, 300)), RepeatVector(12),
                        LSTM(256, return_sequences=True), TimeDistributed(Dense(300))])
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, y, epochs=10, batch_size=64, validation_split=0.2)
    y_pred = model.predict(X_test)                               # (samples, 12, 300)

No table of 300 real series ships with the shared data, and random numbers leave
nothing to learn, so 300 sensors here follow one periodic process, each with its own
period, phase and noise: the model must read where the cycle is from 10 steps and
continue every sensor for 12.

    python examples/keras_seq2seq.py [--samples 2000] [--epochs 10] [--hidden 256]
"""

from __future__ import annotations

import argparse

import numpy as np

from lstmkit import LSTMModel


def sensors(samples: int, seed: int = 0) -> np.ndarray:
    """(samples, 22, 300): 300 noisy sines of one clock, at a random start per sample."""
    rng = np.random.default_rng(seed)
    period, phase = rng.uniform(8, 40, 300), rng.uniform(0, 2 * np.pi, 300)
    t = rng.uniform(0, 1000, (samples, 1, 1)) + np.arange(22)[None, :, None]
    clean = np.sin(2 * np.pi * t / period + phase)
    return (clean + 0.1 * rng.standard_normal(clean.shape)).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=256)
    args = parser.parse_args()

    data = sensors(args.samples)
    X, y = data[:, :10], data[:, 10:]                            # (n, 10, 300) -> (n, 12, 300)
    n_train, n_val = int(0.6 * len(X)), int(0.2 * len(X))
    X_train, y_train = X[:n_train], y[:n_train]
    X_val, y_val = X[n_train : n_train + n_val], y[n_train : n_train + n_val]
    X_test, y_test = X[n_train + n_val :], y[n_train + n_val :]

    # 12 output steps after 10 input steps: seq2seq with horizon 12, read from y's shape.
    # decoder="repeat" is LSTM -> RepeatVector(12) -> LSTM -> TimeDistributed(Dense).
    model = LSTMModel(hidden=args.hidden, decoder="repeat", instance_norm=False,
                      max_epochs=args.epochs, batch_size=64, progress=False)
    model.fit(X_train, y_train, validation_data=(X_val, y_val))
    y_pred = model.predict(X_test, output="array")               # (samples, 12, 300)
    print(f"X {X_train.shape} y {y_train.shape} -> predict {y_pred.shape}")

    rmse = np.sqrt(((y_pred - y_test) ** 2).mean())
    mean = np.sqrt(((y_train.mean(axis=0) - y_test) ** 2).mean())
    print(f"test RMSE: model {rmse:.4f}, training mean {mean:.4f}")


if __name__ == "__main__":
    main()
