"""Scale-free errors of forecasts per series: MASE, RMSSE, and their means over series.

A series' MASE is a forecast's MAE over the in-sample MAE of the seasonal naive forecast
on that series' training part (Hyndman & Koehler 2006, "Another look at measures of
forecast accuracy", Int. J. Forecasting 22(4)); its RMSSE is the RMSE over the root of
the in-sample MSE of the same forecast (the M5 competition's measure, Makridakis et al.
2022, Int. J. Forecasting 38(4), where m = 1). The season ``m`` is the time step's
calendar season (``TimeStep.season``: 24 for hours, 7 for days), else 1: the naive
one-step forecast; both measures use the same ``m``. Over a panel every series weighs
the same: the mean of the series' values, as M4 averages MASE over its series
(Makridakis et al. 2020, Int. J. Forecasting 36(1)); M5 weights series by sales instead.

The scales are fitted on each series' training part and saved with the model
(``config.json``'s ``naive_scales``), so a test part is scaled by what the model saw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data.groups import Groups
from .data.series_ids import id_text, positions
from .data.split import series_bounds
from .errors import ConfigError
from .metrics import SCALE_FREE
from .spec import Spec, Split

ScaleKey = str | None      # a series id as saved: its text; None for a table without series


@dataclass(frozen=True)
class NaiveScales:
    """Per series and numeric target, the in-sample MAE and MSE of the seasonal naive
    forecast over the series' training rows, in the target's units.

    Attributes:
        season: the naive forecast's lag ``m`` (1: the previous row).
        series: each series' id as text (``series_ids.id_text``), None for a table without
            series.
        mae, mse: per target, one value per series (NaN where its training part has no
            two known values ``m`` rows apart).
        from_data: some series' scales come from the data being scored, not from the
            fit (not saved).
    """

    season: int
    series: tuple[ScaleKey, ...]
    mae: dict[str, np.ndarray]
    mse: dict[str, np.ndarray]
    from_data: bool = False

    @classmethod
    def fit(cls, spec: Spec, groups: Groups, ends: np.ndarray, season: int) -> NaiveScales:
        """The scales of ``groups``' series from their first ``ends[g]`` rows (the training
        part) of every numeric target.

        Example:
            >>> NaiveScales.fit(spec, groups, parts.bounds[:, 1], 24).mae["OT"]
        """
        mae: dict[str, np.ndarray] = {}
        mse: dict[str, np.ndarray] = {}
        frame = groups.target_frame
        for t in spec.targets:
            if t.categorical:
                continue
            values = frame[t.name].to_numpy(dtype=np.float64)
            mae[t.name], mse[t.name] = np.full(len(groups), np.nan), np.full(len(groups), np.nan)
            for g, (lo, end) in enumerate(zip(groups.offsets[:-1], ends, strict=True)):
                y = values[lo : lo + end]
                change = y[season:] - y[: max(len(y) - season, 0)]    # (end - m,)
                change = change[np.isfinite(change)]
                if change.size:
                    mae[t.name][g] = np.mean(np.abs(change))
                    mse[t.name][g] = np.mean(change**2)
        return cls(season, tuple(id_text(k) for k in groups.keys), mae, mse)

    def select(self, keys: list[Any], fallback: NaiveScales | None = None) -> NaiveScales:
        """The scales of series ``keys`` in that order: this one's where it has the series,
        else ``fallback``'s (whose series are ``keys``), else NaN."""
        wanted = positions(self.series, keys)
        have = wanted >= 0

        def pick(name: str, saved: np.ndarray, other: NaiveScales | None,
                 errors: str) -> np.ndarray:
            known = np.append(saved, np.nan)[wanted]              # -1: the NaN appended
            return known if other is None else np.where(have, known,
                                                         getattr(other, errors)[name])
        return NaiveScales(self.season, tuple(id_text(k) for k in keys),
                           {k: pick(k, v, fallback, "mae") for k, v in self.mae.items()},
                           {k: pick(k, v, fallback, "mse") for k, v in self.mse.items()},
                           self.from_data or (fallback is not None and not have.all()))

    def covers(self, keys: list[Any]) -> bool:
        """Whether every series of ``keys`` has its scales here."""
        return bool((positions(self.series, keys) >= 0).all())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: {season, series, mae: {target: [...]}, mse: {...}}, NaN as null."""
        def plain(values: dict[str, np.ndarray]) -> dict[str, list[float | None]]:
            return {name: [None if math.isnan(v) else float(v) for v in row]
                    for name, row in values.items()}
        return {"season": self.season, "series": list(self.series), "mae": plain(self.mae),
                "mse": plain(self.mse)}

    @classmethod
    def from_dict(cls, data: Any, spec: Spec) -> NaiveScales:
        """``to_dict``'s form, checked (ConfigError naming the entry at fault)."""
        numeric = [t.name for t in spec.targets if not t.categorical]
        if not isinstance(data, dict) or sorted(data) != ["mae", "mse", "season", "series"]:
            raise ConfigError("naive_scales must be an object with the keys 'season', 'series', "
                              "'mae' and 'mse'")
        season, series = data["season"], data["series"]
        if type(season) is not int or season < 1:
            raise ConfigError(f"naive_scales.season is {season!r}; it must be a whole number "
                              "of steps, 1 or more")
        if not isinstance(series, list) or not all(k is None or isinstance(k, str)
                                                   for k in series):
            raise ConfigError("naive_scales.series must be a list of series ids as text")
        scales = {}
        for name in ("mae", "mse"):
            entry = data[name]
            if not isinstance(entry, dict) or sorted(entry) != sorted(numeric) or not all(
                    isinstance(row, list) and len(row) == len(series) and all(
                        v is None or (type(v) in (int, float) and v >= 0) for v in row)
                    for row in entry.values()):
                raise ConfigError(f"naive_scales.{name} must give each numeric target "
                                  f"({numeric}) a list of {len(series)} numbers (0 or more, "
                                  "or null), one per series")
            scales[name] = {k: np.array([np.nan if v is None else v for v in row], np.float64)
                            for k, row in entry.items()}
        return cls(season, tuple(series), scales["mae"], scales["mse"])


def training_scales(spec: Spec, groups: Groups, split: Split) -> NaiveScales | None:
    """``NaiveScales.fit`` on the training part by ``split`` of a forecast whose rows are
    one step apart, with the step's season (else 1); None for other tasks and for rows
    with calendar gaps (``regular`` False), where no naive forecast is one season back."""
    if not spec.shape.sliding or not spec.regular:
        return None
    ends = series_bounds(groups, split)[:, 1]
    return NaiveScales.fit(spec, groups, ends, getattr(groups.step, "season", None) or 1)


def scaled(errors: dict[str, list[float]], mae: float, mse: float) -> list[tuple[Any, ...]]:
    """Rows ``(metric, *one value per predictor)`` of MASE and RMSSE from one series'
    ``errors`` (``{"MAE": [...], "RMSE": [...]}``) and its scales; NaN where a scale is
    unknown or 0 (a constant training part: every error would be infinitely large)."""
    usable = math.isfinite(mae) and mae > 0 and math.isfinite(mse) and mse > 0
    if not usable:
        return [(name, *[math.nan] * len(errors["MAE"])) for name in SCALE_FREE]
    return [("MASE", *(v / mae for v in errors["MAE"])),
            ("RMSSE", *(v / math.sqrt(mse) for v in errors["RMSE"]))]


def describe(scales: NaiveScales, n_series: int) -> str:
    """What MASE and RMSSE divide by, for ``Evaluation.scale_free``."""
    naive = ("naive forecast (one step)" if scales.season == 1
             else f"seasonal naive forecast ({scales.season} steps)")
    text = f"each series' error over the in-sample error of the {naive} on its training part"
    if n_series > 1:
        text += f"; means over {n_series} series, each weighing the same"
    if scales.from_data:
        text += ("; the scales of series the model keeps none for (saved before it kept "
                 "them, or a new series) come from the data given (its training part by the "
                 "fit's split)")
    return text
