"""Rolling-origin backtesting of forecast models.

The protocol, per series of ``n`` rows (rows counted from 0), horizon ``H``,
``step`` ``S`` (default ``H``) and ``K`` folds:

* fold ``k`` (0 .. K-1) has origin row ``r_k = n - H - S - (K - 1 - k) * S``: the
  origins are ``S`` rows apart and the last fold's last forecast ends on the
  series' last row;
* the fold's model is fitted on rows ``0 .. r_k`` only, scalers and weights
  (``refit=True``: a fresh ``LSTMModel`` with the same parameters per fold;
  ``refit=False``: one model fitted up to the first origin scores every fold;
  ``refit="warm"``: the first fold's model is fitted afresh, each later one continues
  training a copy of the previous fold's on its own rows, ``fit(warm_start=True)``,
  the first fold's scalers kept).
  The model's own split divides that history into training and validation rows
  (early stopping); its test part is dropped, and a fractional ``val_start`` is
  taken relative to ``test_start`` so training and validation keep their
  proportion (the default 0.7 / 0.85 trains on the first 82 % of the history);
* the fold is scored on the ``S`` forecasts whose origin (their last input row,
  as in ``predict``) lies in ``r_k .. r_k + S - 1``: inputs reach back
  ``lookback`` rows, targets cover rows ``r_k + 1 .. r_k + S + H - 1``;
* with ``coverage``, each fold's model calibrates conformal intervals on its own
  validation part (``LSTMModel(coverage=...)``): the latest rows before the origin that
  it did not train on, so every fold, the first included, has intervals from data
  before its origin only (earlier folds' out-of-sample residuals would leave the first
  fold without any, and come from older models). The table then gives their coverage,
  width and MSIS per fold (``coverage_80_conformal``, ...).

With several series, each series' origins lie the same number of rows before its
own end, and a fold pools the forecasts of all series.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..checks import check_positive_int
from ..conformal import check_coverage
from ..data.groups import Groups, arrange
from ..data.sources import Source, read_table
from ..errors import BaselineWarning, ConfigError, DataError
from ..metrics import Evaluation
from ..spec import Split
from ..tasks import row_ranges

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..model import LSTMModel

COLUMNS = ["fold", "origin", "target", "step", "metric", "model", "naive"]


@dataclass
class Backtest:
    """The result of a rolling-origin backtest.

    Attributes:
        table: tidy metrics, one row per (fold, target, step, metric) with columns
            ``fold``, ``origin``, ``target``, ``step`` (1 .. horizon, or ``"all"``),
            ``metric``, ``model`` and ``naive`` (persistence), in original units.
        origins: per fold (and series): ``origin`` (the time, or row number, of the
            last row the fold's model was fitted on), ``train_rows`` and ``windows``
            (forecasts scored).
        evaluations: the ``Evaluation`` of each fold (per step, confusion matrices).
        models: the model that scored each fold (the same one for every fold
            without refitting).
        refit: whether each fold had its own model (True, ``"warm"``) or not (False).
    """

    table: pd.DataFrame
    origins: pd.DataFrame
    evaluations: list[Evaluation]
    models: list[LSTMModel]
    refit: bool | str

    def summary(self) -> pd.DataFrame:
        """Mean of each target's metrics over the folds (all steps), model beside naive."""
        overall = self.table[self.table.step == "all"]
        return (overall.groupby(["target", "metric"], sort=False)[["model", "naive"]].mean()
                .reset_index())

    def plot(self, path: str | Path | None = None, units: dict[str, str] | None = None
             ) -> Figure:
        """Per-fold errors per target (``lstmkit.analysis.plots.backtest_folds``), saved to
        ``path``."""
        from .plots import backtest_folds

        return backtest_folds(self, units=units, save=path)


def backtest(model: LSTMModel, data: Source, folds: int = 3, step: int | None = None,
             refit: bool | str = True, coverage: float | list[float] | None = None
             ) -> Backtest:
    """Rolling-origin evaluation of ``model``'s parameters on ``data`` (see the module doc).

    ``model`` is used as a template only: it is neither fitted nor changed.

    Args:
        model: an ``LSTMModel`` with a forecast ``Spec``.
        data: the whole table (DataFrame, CSV or Parquet path), inputs and targets.
        folds: number of origins.
        step: rows between origins, and forecasts scored per fold (default: horizon).
        refit: fit a model per fold (True), once before the first origin (False), or per
            fold by fine-tuning the previous fold's model (``"warm"``: fewer epochs).
        coverage: calibrate conformal intervals at these coverages on each fold's
            validation part (default: the model's own ``coverage``).

    Returns:
        A ``Backtest`` with the tidy ``table``, ``summary()`` and ``plot()``.

    Example:
        >>> result = LSTMModel(spec, max_epochs=20).backtest(df, folds=4, refit=True)
        >>> result.summary()
        >>> result.plot("backtest.png")
    """
    spec = model.spec
    if spec is None or not spec.shape.sliding:
        raise ConfigError("backtesting needs a forecast model: LSTMModel(Spec(task='forecast', "
                          "lookback=..., ...)); sequence tasks have no origins to roll")
    _check_positive("folds", folds)
    step = spec.horizon if step is None else step
    _check_positive("step", step)
    if not (isinstance(refit, bool) or refit == "warm"):
        raise ConfigError(f"refit must be True, False or 'warm', got {refit!r}")
    if coverage is not None:
        model = type(model)(**{**model.get_params(), "coverage": list(check_coverage(coverage))})
    model.check_params(spec)
    groups = arrange(read_table(data, spec=spec), spec)
    cuts = _origin_rows(groups, spec.lookback, spec.horizon, folds, step)       # (K, G)
    parts, evaluations, models = [], [], []
    for k, cut in enumerate(cuts):
        label = _label(groups, cut)
        with _fold_context(k, label):
            if refit or k == 0:
                previous = models[-1] if refit == "warm" and models else None
                fitted = _fit_fold(model, _rows(groups, 0, cut + 1), previous)
            window = _rows(groups, spec.shape.start(cut), cut + step + spec.horizon)
            evaluation = fitted.evaluate(window)
        parts.append(_tidy(evaluation, k, label))
        evaluations.append(evaluation)
        models.append(fitted)
    origins = _origin_table(groups, spec.series, cuts, step)
    return Backtest(pd.concat(parts, ignore_index=True), origins, evaluations, models, refit)


def history_split(split: Split) -> Split:
    """The split a fold applies to its history: the model's, without a test part."""
    val = split.val_start
    if isinstance(val, float) and isinstance(split.test_start, float):
        val = val / split.test_start
    return Split(val_start=val, test_start=None, end=None, shuffle=split.shuffle)


def _fit_fold(model: LSTMModel, history: pd.DataFrame, previous: LSTMModel | None = None
              ) -> LSTMModel:
    """The fold's model: fitted on ``history`` afresh, or a copy of the ``previous`` fold's
    trained on further (``refit="warm"``; the previous one stays as it scored)."""
    params = {**model.get_params(), "split": history_split(model.split or Split())}
    with warnings.catch_warnings():    # each fold's table already compares it with naive
        warnings.simplefilter("ignore", BaselineWarning)
        if previous is not None:
            return copy.deepcopy(previous).fit(history, warm_start=True)
        return type(model)(**params).fit(history)


def _origin_rows(groups: Groups, lookback: int, horizon: int, folds: int, step: int
                 ) -> np.ndarray:
    """Origin row of each fold within each series, shape (folds, series)."""
    back = horizon + step * np.arange(folds, 0, -1)                    # rows after the origin
    cuts = groups.lengths[None, :] - back[:, None]
    first = cuts[0]
    short = np.flatnonzero(first + 1 < lookback + horizon)
    if short.size:
        g = short[0]
        name = "the table" if groups.keys == [None] else f"series {groups.keys[g]!r}"
        need = lookback + horizon - 1 + step * folds + horizon
        raise DataError(f"{folds} folds {step} rows apart need at least {need} rows (lookback "
                        f"+ horizon to fit on before the first origin, then folds x step + "
                        f"horizon - 1 to score), but {name} has {groups.lengths[g]}; use fewer "
                        "folds or a smaller step")
    return cuts


def _origin_table(groups: Groups, series: str | None, cuts: np.ndarray, step: int
                  ) -> pd.DataFrame:
    frames = []
    for k, cut in enumerate(cuts):
        frame = pd.DataFrame({"fold": k, "origin": [_label(groups, cut, g)
                                                    for g in range(len(groups))],
                              "train_rows": cut + 1, "windows": step})
        if series is not None:
            frame.insert(1, series, groups.keys)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _rows(groups: Groups, lo: Any, hi: Any) -> pd.DataFrame:
    """Rows ``lo .. hi - 1`` of every series (per-series positions), as one table."""
    base = groups.offsets[:-1]
    lo, hi = np.broadcast_to(lo, base.shape), np.broadcast_to(hi, base.shape)
    return groups.frame.iloc[row_ranges(base + lo, base + hi)].reset_index(drop=True)


def _label(groups: Groups, cut: np.ndarray, g: int = 0) -> Any:
    """The time of series ``g``'s origin row (in the data's zone), or its row number
    without a time column."""
    if groups.timeline is None:
        return int(cut[g])
    return groups.timeline.local([groups.offsets[g] + cut[g]])[0]


def _tidy(evaluation: Evaluation, fold: int, origin: Any) -> pd.DataFrame:
    overall = evaluation.table.assign(step="all")
    per_step = evaluation.per_step.astype({"step": object})
    frame = pd.concat([overall, per_step], ignore_index=True) if len(per_step) else overall
    return frame.assign(fold=fold, origin=origin)[COLUMNS]


@contextmanager
def _fold_context(fold: int, origin: Any) -> Iterator[None]:
    """Name the fold in data errors raised while fitting or scoring it."""
    try:
        yield
    except DataError as exc:
        raise type(exc)(f"backtest fold {fold} (origin {origin}): {exc}") from None


def _check_positive(name: str, value: Any) -> None:
    check_positive_int(f"backtest {name}", value)
