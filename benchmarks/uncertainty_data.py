"""The uncertainty benchmark's data sets, windows and scores, shared by both environments.

numpy and pandas only: ``uncertainty.py`` (lstmkit's environment) and
``peers/uncertainty_peers.py`` (the peers' environment, ``peers/setup.sh``) import it, so
every system is scored on the same test windows by the same code.

A data set is one table, one target and its numeric inputs (the target among them), split
by rows into train / validation / test. A test window has its origin (its last input row)
at ``o`` and its horizon at rows ``o + 1 .. o + horizon``, all inside the test part; its
inputs may reach back into the validation part (the literature's protocol). Every system
returns, per test window, the quantiles of the target at ``LEVELS`` for each horizon step,
in original units; ``score`` turns them into coverage, width and CRPS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(os.environ.get("LSTMKIT_DATA_DIR")
              or Path(__file__).resolve().parents[2] / "shared" / "data")
LOOKBACK = 96
HORIZON = 24
# Quantile levels every system predicts: the 80 % and 95 % central intervals' ends, and a
# grid of 19 more from which CRPS is approximated (the mean pinball loss over the levels,
# times two: Gneiting and Raftery 2007, eq. 18; the same approximation for every system).
LEVELS = tuple(sorted({0.025, 0.975, *(round(0.05 * k, 2) for k in range(1, 20))}))
COVERAGES = (0.8, 0.95)


@dataclass(frozen=True)
class Dataset:
    """One benchmark table.

    Attributes:
        name: the data set's name (``etth1``, ``ettm1``, ``weather``, ``beijing_pm25``).
        file: the CSV under ``SHARED``.
        target: the column forecast.
        inputs: the numeric input columns (the target among them).
        bounds: the train / validation / test ends, as rows.
        counts: the target is a count (non-negative): where count distributions apply.
    """

    name: str
    file: str
    target: str
    inputs: tuple[str, ...]
    bounds: tuple[int, int, int]
    counts: bool = False

    def frame(self) -> pd.DataFrame:
        """The table: ``date`` as datetime64, the inputs as float64 (missing values NaN),
        rows up to the end of the test part."""
        frame = pd.read_csv(SHARED / self.file)
        if "year" in frame.columns and "date" not in frame.columns:      # Beijing PM2.5
            frame["date"] = pd.to_datetime(frame[["year", "month", "day", "hour"]])
        frame["date"] = pd.to_datetime(frame["date"])
        frame = frame[["date", *self.inputs]].iloc[: self.bounds[2]].reset_index(drop=True)
        values = frame[list(self.inputs)].astype(np.float64)
        frame[list(self.inputs)] = values.where(values != -9999.0)       # weather's sentinel
        return frame

    def origins(self) -> np.ndarray:
        """Rows of the test windows' origins: every row whose horizon lies in the test part."""
        return np.arange(self.bounds[1] - 1, self.bounds[2] - HORIZON)

    def truth(self, frame: pd.DataFrame) -> np.ndarray:
        """The target at every test window's horizon steps (N, HORIZON), NaN where missing."""
        y = frame[self.target].to_numpy(np.float64)
        return y[self.origins()[:, None] + np.arange(1, HORIZON + 1)[None, :]]


ETT = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT")
DATASETS = {
    # the standard 12 / 4 / 4 months of ETT (Informer) and 70 / 10 / 20 % elsewhere (Autoformer)
    "etth1": Dataset("etth1", "forecasting/ETT-small/ETTh1.csv", "OT", ETT,
                     (8640, 11520, 14400)),
    "ettm1": Dataset("ettm1", "forecasting/ETT-small/ETTm1.csv.gz", "OT", ETT,
                     (34560, 46080, 57600)),
    "weather": Dataset("weather", "forecasting/weather/weather.csv.gz", "OT",
                       ("p (mbar)", "T (degC)", "rh (%)", "wv (m/s)", "rain (mm)", "OT"),
                       (36887, 42157, 52696)),
    "beijing_pm25": Dataset("beijing_pm25",
                            "forecasting/beijing_pm2.5/PRSA_data_2010.1.1-2014.12.31.csv",
                            "pm2.5", ("DEWP", "TEMP", "PRES", "Iws", "Is", "Ir", "pm2.5"),
                            (30676, 35060, 43824), counts=True),
}


def pinball(truth: np.ndarray, quantiles: np.ndarray, levels: tuple[float, ...]) -> np.ndarray:
    """Pinball loss per level, averaged over the known truth: (Q,)."""
    known = np.isfinite(truth)
    miss = truth[known][:, None] - quantiles[known]                      # (n, Q)
    tau = np.asarray(levels)
    return np.maximum(tau * miss, (tau - 1) * miss).mean(axis=0)


def score(truth: np.ndarray, quantiles: np.ndarray, levels: tuple[float, ...] = LEVELS
          ) -> dict[str, float]:
    """Coverage and mean width of the 80 % and 95 % central intervals, CRPS (from the
    quantiles) and the median's MAE, over every known (window, step) of ``truth`` (N, S)
    with ``quantiles`` (N, S, Q) at ``levels``; CRPS also over the mean absolute truth."""
    quantiles = np.sort(quantiles, axis=-1)          # a system whose quantiles cross
    known = np.isfinite(truth)
    result = {"windows": int(truth.shape[0]), "points": int(known.sum())}
    for coverage in COVERAGES:
        lo, hi = levels.index(round((1 - coverage) / 2, 3)), levels.index(
            round((1 + coverage) / 2, 3))
        low, high = quantiles[..., lo][known], quantiles[..., hi][known]
        y = truth[known]
        pct = format(coverage * 100, "g")
        result[f"coverage_{pct}"] = float(((y >= low) & (y <= high)).mean())
        result[f"width_{pct}"] = float((high - low).mean())
    crps = 2 * float(pinball(truth, quantiles, levels).mean())
    result["crps"] = crps
    result["scaled_crps"] = crps / float(np.abs(truth[known]).mean())
    result["mae"] = float(np.abs(truth[known] - quantiles[..., levels.index(0.5)][known]).mean())
    return result
