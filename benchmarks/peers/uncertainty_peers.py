"""Peer side of the uncertainty benchmark: NeuralForecast's LSTM with ``MQLoss`` and Darts'
``BlockRNNModel`` (LSTM) with a quantile likelihood, on the test windows of
``uncertainty_data.py``, scored by its ``score``. Prints one JSON line.

Run from the peers' environment (``benchmarks/peers/setup.sh``); ``uncertainty.py`` calls it::

    benchmarks/peers/.venv/bin/python benchmarks/peers/uncertainty_peers.py \\
        --system neuralforecast --dataset etth1 --seed 0 --epochs 30

Both peers forecast the target alone from its own history and the other inputs (past
covariates / historical exogenous columns), ``LOOKBACK`` -> ``HORIZON`` steps, at the
quantile levels ``LEVELS`` (their pinball loss averaged over the levels), and stop early on
the validation part: the same budget as lstmkit's runs (``--epochs`` at most, patience 5,
batches of 256 windows). Missing values (Beijing PM2.5) are interpolated in time for the
peers' inputs, which take no NaN; every system is scored on the known truth only.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from uncertainty_data import DATASETS, HORIZON, LEVELS, LOOKBACK, Dataset, score

BATCH, PATIENCE = 256, 5


def quiet() -> None:
    """Silence Lightning's and the peers' per-epoch chatter."""
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "lightning_fabric", "darts",
                 "neuralforecast"):
        logging.getLogger(name).setLevel(logging.ERROR)


def filled(frame: pd.DataFrame, data: Dataset) -> pd.DataFrame:
    """The inputs with missing values interpolated in time (ends: nearest value)."""
    columns = list(data.inputs)
    return frame.assign(**{c: frame[c].interpolate(limit_direction="both") for c in columns})


def run_neuralforecast(data: Dataset, frame: pd.DataFrame, seed: int, epochs: int
                       ) -> tuple[np.ndarray, str]:
    """Quantiles (N, HORIZON, Q) of every test window from NeuralForecast's LSTM."""
    import neuralforecast
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MQLoss
    from neuralforecast.models import LSTM

    train, val, test = data.bounds
    exog = [c for c in data.inputs if c != data.target]
    df = filled(frame, data).rename(columns={data.target: "y", "date": "ds"})
    df.insert(0, "unique_id", data.name)
    windows = train - LOOKBACK - HORIZON + 1
    steps_per_epoch = -(-windows // BATCH)
    model = LSTM(h=HORIZON, input_size=LOOKBACK, loss=MQLoss(quantiles=list(LEVELS)),
                 hist_exog_list=exog, scaler_type="standard", batch_size=1,
                 windows_batch_size=BATCH, inference_windows_batch_size=1024,
                 max_steps=epochs * steps_per_epoch, val_check_steps=steps_per_epoch,
                 early_stop_patience_steps=PATIENCE, random_seed=seed,
                 enable_progress_bar=False, enable_model_summary=False, logger=False)
    nf = NeuralForecast(models=[model], freq=pd.infer_freq(df["ds"].iloc[:100]))
    forecast = nf.cross_validation(df[["unique_id", "ds", "y", *exog]], val_size=val - train,
                                   test_size=test - val, step_size=1, n_windows=None,
                                   refit=False)
    columns = [c for c in forecast.columns if c.startswith("LSTM")]
    quantiles = forecast.sort_values(["cutoff", "ds"])[columns].to_numpy(np.float64)
    n = len(data.origins())
    quantiles = quantiles.reshape(-1, HORIZON, len(columns))
    if quantiles.shape[0] != n:
        raise SystemExit(f"neuralforecast gave {quantiles.shape[0]} windows, expected {n}")
    order = np.argsort(np.median(quantiles, axis=(0, 1)))   # its columns name levels its way
    return quantiles[..., order], (f"neuralforecast {neuralforecast.__version__}: LSTM "
                                   f"defaults, MQLoss at {len(LEVELS)} levels, scaler "
                                   f"standard, hist exog {exog}")


def run_darts(data: Dataset, frame: pd.DataFrame, seed: int, epochs: int
              ) -> tuple[np.ndarray, str]:
    """Quantiles (N, HORIZON, Q) of every test window from Darts' BlockRNNModel(LSTM)."""
    import darts
    from darts import TimeSeries
    from darts.models import BlockRNNModel
    from darts.utils.likelihood_models import QuantileRegression
    from pytorch_lightning.callbacks import EarlyStopping

    train, val, _ = data.bounds
    exog = [c for c in data.inputs if c != data.target]
    values = filled(frame, data)[[data.target, *exog]].to_numpy(np.float64)
    mean, std = values[:train].mean(axis=0), values[:train].std(axis=0)   # z-scores of train
    z = ((values - mean) / std).astype(np.float32)
    series, past = TimeSeries.from_values(z[:, :1]), TimeSeries.from_values(z[:, 1:])
    stop = EarlyStopping("val_loss", patience=PATIENCE, mode="min")
    model = BlockRNNModel(model="LSTM", input_chunk_length=LOOKBACK,
                          output_chunk_length=HORIZON, batch_size=BATCH, n_epochs=epochs,
                          likelihood=QuantileRegression(quantiles=list(LEVELS)),
                          random_state=seed, use_reversible_instance_norm=True,
                          pl_trainer_kwargs={"callbacks": [stop], "enable_progress_bar": False,
                                             "enable_model_summary": False, "logger": False})
    model.fit(series[:train], past_covariates=past, val_series=series[train - LOOKBACK:val],
              val_past_covariates=past, verbose=False)
    origins = data.origins()
    forecasts = model.historical_forecasts(
        series, past_covariates=past, start=int(origins[0]) + 1, forecast_horizon=HORIZON,
        stride=1, retrain=False, last_points_only=False, predict_likelihood_parameters=True,
        overlap_end=False, verbose=False, show_warnings=False,
        predict_kwargs={"batch_size": 1024, "verbose": False})
    quantiles = np.stack([f.values(copy=False) for f in forecasts])         # (N, H, Q)
    if quantiles.shape[0] != len(origins):
        raise SystemExit(f"darts gave {quantiles.shape[0]} windows, expected {len(origins)}")
    return quantiles * std[0] + mean[0], (
        f"darts {darts.__version__}: BlockRNNModel(LSTM) defaults with RevIN, "
        f"QuantileRegression at {len(LEVELS)} levels, z-scored on train, past covariates {exog}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=("neuralforecast", "darts"), required=True)
    parser.add_argument("--dataset", choices=list(DATASETS), required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    quiet()
    data = DATASETS[args.dataset]
    frame = data.frame()
    started = time.perf_counter()
    runner = run_neuralforecast if args.system == "neuralforecast" else run_darts
    quantiles, note = runner(data, frame, args.seed, args.epochs)
    seconds = time.perf_counter() - started
    print(json.dumps({"system": args.system, "dataset": args.dataset, "seed": args.seed,
                      "seconds": round(seconds, 1), "note": note,
                      **score(data.truth(frame), quantiles)}))


if __name__ == "__main__":
    main()
