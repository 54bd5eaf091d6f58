"""The speed benchmark's workloads: shapes, data and the network each one trains.

Shared by ``speed.py`` (lstmkit and the hand-written eager loop) and
``peers/run_peers.py`` (Keras, Darts, NeuralForecast), so every system trains the
same network on the same numbers. Synthetic workloads are seeded standard-normal
inputs with targets that depend on them (the loss can fall); W5 is ETTh1.

| name | data | network | loss |
| --- | --- | --- | --- |
| W1 forecast | (20000, 30, 3) -> (20000, 2) | LSTM(64) -> dense 2 | MSE |
| W2 classify | (20000, 20, 5) -> 3 classes | LSTM(32) -> dense 3, softmax | cross-entropy |
| W3 seq2seq | (4000, 10, 300) -> (4000, 12, 300) | LSTM(256), repeat, LSTM(256), dense | MSE |
| W4 multi-horizon | (20000, 96, 7) -> (20000, 96, 7) | 2 x LSTM(128) -> dense 96 x 7 | MSE |
| W5 real | ETTh1 train rows, 7 columns, 96 -> 96 steps | lstmkit's default forecast model | MSE |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# ../shared/data beside the checkout, or a copy laid out like it (a GPU machine's).
SHARED = Path(os.environ.get("LSTMKIT_DATA_DIR")
              or Path(__file__).resolve().parents[2] / "shared" / "data")
ETTH1 = SHARED / "forecasting" / "ETT-small" / "ETTh1.csv"
ETT_COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
ETTH1_TRAIN_ROWS = 8640   # the standard split's training rows


@dataclass(frozen=True)
class Workload:
    """One benchmark workload.

    Args:
        name: W1..W5.
        kind: ``forecast`` (X -> y (n, targets)), ``classify`` (X -> int labels (n,)),
            ``seq2seq`` (X -> y (n, out_steps, targets)) or ``etth1`` (a table).
        samples, steps, features: the input array's shape.
        hidden, layers: the LSTM encoder.
        out_steps, targets: the output shape (classes for ``classify``).
        decoder: ``direct`` or ``repeat``.
    """

    name: str
    kind: str
    samples: int
    steps: int
    features: int
    hidden: int
    layers: int
    out_steps: int
    targets: int
    decoder: str = "direct"

    def arrays(self, fraction: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Seeded float32 inputs (n, steps, features) and targets; ``fraction`` of the samples.

        Targets are a fixed random mix of the inputs' last steps plus noise, so a
        model can learn something; labels are the argmax of such a mix.
        """
        if self.kind == "etth1":
            raise ValueError("W5 is a table: use etth1_frame()")
        rng = np.random.default_rng(seed)
        n = max(1, int(self.samples * fraction))
        X = rng.standard_normal((n, self.steps, self.features), dtype=np.float32)
        mix = rng.standard_normal((self.features, self.targets)).astype(np.float32)
        if self.kind == "classify":
            return X, (X[:, -1] @ mix).argmax(axis=1).astype(np.int64)
        if self.kind == "forecast":
            noise = 0.1 * rng.standard_normal((n, self.targets), dtype=np.float32)
            return X, X[:, -1] @ mix + noise
        last = X[:, -self.out_steps:] if self.out_steps <= self.steps else \
            np.resize(X[:, -1:], (n, self.out_steps, self.features))
        noise = 0.1 * rng.standard_normal((n, self.out_steps, self.targets), dtype=np.float32)
        return X, last @ mix + noise


WORKLOADS = {
    "W1": Workload("W1", "forecast", 20000, 30, 3, hidden=64, layers=1, out_steps=1, targets=2),
    "W2": Workload("W2", "classify", 20000, 20, 5, hidden=32, layers=1, out_steps=1, targets=3),
    "W3": Workload("W3", "seq2seq", 4000, 10, 300, hidden=256, layers=1, out_steps=12,
                   targets=300, decoder="repeat"),
    "W4": Workload("W4", "seq2seq", 20000, 96, 7, hidden=128, layers=2, out_steps=96, targets=7),
    "W5": Workload("W5", "etth1", ETTH1_TRAIN_ROWS - 96 - 96 + 1, 96, 7, hidden=256, layers=1,
                   out_steps=96, targets=7),
}


def etth1_frame():
    """ETTh1's training rows (the standard split's first 8640), as a DataFrame."""
    import pandas as pd

    return pd.read_csv(ETTH1).iloc[:ETTH1_TRAIN_ROWS].reset_index(drop=True)
