"""The plots people expect of a model, as matplotlib Figures drawn off-screen (Agg).

Each function returns a ``Figure`` and writes a PNG when given ``save`` (replacing
only a plot lstmkit drew, never another file): learning curves, forecasts against the
actual values with their lookback context, per-horizon errors, confusion matrices,
reliability diagrams of class probabilities and backtest fold errors. Values are in
original units, named on the axes by the spec's
``units`` (``Spec(units={"OT": "°C"})``) or a ``units`` argument. Epochs count from 1, as
the progress bar and the model card count them; steps and epochs get integer ticks.
Figures with many targets are grids of small panels, at most ``columns`` wide.

Example:
    >>> from lstmkit import plots
    >>> plots.forecasts(model, df, origins=3, units={"OT": "°C"}, save="forecasts.png")
    >>> plots.horizon_errors(model.evaluate(df, part="test"), save="horizon.png")
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..checks import check_positive_int
from ..cli.tracking import epoch_number
from ..data.groups import arrange
from ..data.series_ids import id_text, positions
from ..data.sources import Source, read_table
from ..errors import ConfigError
from ..kinds import interval_column, quantile_column
from ..metrics import Evaluation, percent
from ..pipeline import Fitted, FittedPipeline, fitted
from ..storage import files

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..spec import Target
    from .backtest import Backtest

COLUMNS = 3             # panels per row, at most
PANEL = (4.2, 2.6)      # inches per panel
DPI = 100
SOFTWARE = "lstmkit"    # the PNGs' Software entry: what tells lstmkit's plots from others
STEP_METRICS = ("MAE", "RMSE", "accuracy")   # drawn per horizon step, one colour each


def learning_curves(history: dict[str, Any], save: str | Path | None = None) -> Figure:
    """Training and validation loss per epoch, the restored best epoch marked.

    Args:
        history: a fitted model's ``history_``.
        save: write the figure to this PNG path.
    """
    epochs = history.get("epochs") or []
    if not epochs:
        raise ConfigError("the history has no epochs to plot; pass a fitted model's history_")
    fig, (ax,) = _grid(1, 1, panel=(6.0, 3.6))
    number = [epoch_number(e["epoch"]) for e in epochs]
    for key, label in (("train_loss", "training"), ("val_loss", "validation")):
        if any(key in e for e in epochs):
            ax.plot(number, [e.get(key, math.nan) for e in epochs], marker=".", label=label)
    if history.get("best_epoch") is not None:
        best = epoch_number(history["best_epoch"])
        ax.axvline(best, color="grey", linestyle=":", label=f"best epoch {best} (weights kept)")
    ax.set(title="Learning curves", xlabel="epoch",
           ylabel="loss (scaled targets, weighted sum)")
    _integer_ticks(ax)
    ax.legend()
    return _done(fig, save)


def forecasts(model: FittedPipeline | Fitted, data: Source, origins: int | Sequence[int] = 3,
              series: Any = None, units: dict[str, str] | None = None, columns: int = COLUMNS,
              save: str | Path | None = None, adapt: bool | float = False) -> Figure:
    """Forecast against actual values per target, with the lookback context, from several origins.

    Args:
        model: a fitted forecast pipeline, or a fitted ``LSTMModel`` (its ``pipeline_``).
        data: a table with the inputs and (for the actual values) the targets.
        origins: how many origins, ending with the last one whose whole horizon is in
            the data and spaced ``max(horizon, lookback // 4)`` rows apart; or the
            origins themselves as row numbers within the series (the last input row).
        series: which series to draw (default: the first).
        units: unit per target, for the y labels (default: the spec's ``units``).
        columns: panels per row, at most.
        save: write the figure to this PNG path.
        adapt: shade the calibrated intervals adapted to the misses of the windows before
            each origin, as ``predict(adapt=...)`` gives them from the series' rows up to it.
    """
    pipeline = fitted(model)
    spec = pipeline.spec
    if not spec.shape.sliding:
        raise ConfigError(f"forecast plots need a forecast model, not task {spec.task!r}")
    units = spec.units if units is None else units
    groups = arrange(read_table(data, spec=spec), spec, pipeline.time_step)
    g = _series_index(groups.keys, series, spec.series)
    lo, n = groups.offsets[g], groups.lengths[g]
    frame = groups.frame.iloc[lo : lo + n].reset_index(drop=True)
    rows = _origin_rows(origins, n, spec.lookback, spec.horizon)
    timeline = groups.timeline
    x = _wall_clock(timeline.local(slice(lo, lo + n))) if timeline is not None else np.arange(n)
    # A window is the lookback and, with future inputs, the horizon rows that give them.
    start = spec.shape.start(np.asarray(rows))
    predictions = [pipeline.predict(frame.iloc[0 if adapt else r : r + spec.span], adapt=adapt)
                   for r in start]
    first, last = start[0], min(n, rows[-1] + spec.horizon + 1)
    shown = slice(first, last)

    fig, axes = _grid(len(spec.targets), columns)
    colors = _colors(len(rows))
    for ax, target in zip(axes, spec.targets, strict=True):
        actual = frame[target.name].to_numpy()
        classes = None
        if target.categorical:
            classes = list(pipeline.encoding.target_labels[target.name].classes)
            actual = _codes(actual, classes)
        ax.axvspan(x[first], x[rows[0]], color="grey", alpha=0.12, lw=0,
                   label="lookback context")
        line = "none" if classes else "-"          # labels are points, not a curve
        ax.plot(x[shown], actual[shown], color="black", lw=1, ls=line, marker=".",
                ms=4 if classes else 0, label="actual")
        for r, predicted, color in zip(rows, predictions, colors, strict=True):
            when = _wall_clock(predicted["time"]) if "time" in predicted else r + predicted.step
            values = predicted[target.name].to_numpy()
            _band(ax, target, predicted, when, color, pipeline.conformal)
            if classes is not None:
                values = _codes(values, classes)
            else:                                   # start the forecast at the last actual
                when, values = np.r_[x[r:r + 1], when], np.r_[actual[r], values]
            ax.plot(when, values, color=color, ls=line, marker="o", ms=6 if classes else 3,
                    mfc="none" if classes
                    else color, lw=1.5, label=f"forecast from {_show(x[r])}")
            ax.axvline(x[r], color=color, lw=0.8, ls=":")
        ax.set_title(target.name)
        if classes is None:
            ax.set_ylabel(_unit_label(target.name, units))
        else:
            ax.set_yticks(range(len(classes)), [str(c) for c in classes])
            ax.set_ylabel(f"{target.name} (class)")
    where = "" if spec.series is None else f" ({spec.series} {groups.keys[g]!r})"
    fig.suptitle(f"Forecast vs actual{where}: {len(rows)} origins, horizon {spec.horizon}")
    _finish(fig, axes, columns, spec.time or "row")
    return _done(fig, save)


def horizon_errors(evaluation: Evaluation, units: dict[str, str] | None = None,
                   columns: int = COLUMNS, save: str | Path | None = None) -> Figure:
    """MAE and RMSE (accuracy for categorical targets) per horizon step, beside the naive
    and (where there is one) the seasonal naive baselines'.

    Args:
        evaluation: an ``Evaluation`` with per-step metrics (a horizon above 1).
        units: unit per target, for the y labels (default: the evaluation's ``units``).
        columns: panels per row, at most.
        save: write the figure to this PNG path.
    """
    per_step = evaluation.per_step
    if per_step.empty:
        raise ConfigError("horizon_errors needs metrics per step: evaluate a forecast or "
                          "seq2seq model whose horizon is above 1")
    units = evaluation.units if units is None else units
    targets = list(dict.fromkeys(per_step.target))
    fig, axes = _grid(len(targets), columns)
    for ax, target in zip(axes, targets, strict=True):
        rows = per_step[per_step.target == target]
        metrics = [m for m in STEP_METRICS if m in set(rows.metric)]
        for metric in metrics:
            one, color = rows[rows.metric == metric], _colors(3)[STEP_METRICS.index(metric)]
            ax.plot(one.step, one.model, color=color, marker=".", label=f"{metric}, model")
            ax.plot(one.step, one.naive, color=color, ls="--", label=f"{metric}, naive")
            if one.seasonal.notna().any():
                ax.plot(one.step, one.seasonal, color=color, ls=":",
                        label=f"{metric}, seasonal naive")
        _integer_ticks(ax)
        ax.set_title(target)
        categorical = metrics == ["accuracy"]
        ax.set_ylabel("accuracy" if categorical else _unit_label("error", units, target))
    fig.suptitle(f"Error per horizon step (naive: {evaluation.baseline})")
    _finish(fig, axes, columns, "horizon step")
    return _done(fig, save)


def confusion(evaluation: Evaluation, columns: int = COLUMNS, save: str | Path | None = None
              ) -> Figure:
    """The confusion matrix of each categorical target, counts written in the cells.

    Args:
        evaluation: an ``Evaluation`` of a model with classification or binary targets.
        columns: panels per row, at most.
        save: write the figure to this PNG path.
    """
    if not evaluation.confusion:
        raise ConfigError("confusion needs a classification or binary target; this evaluation "
                          "has only regression targets")
    widest = max(len(m) for m in evaluation.confusion.values())
    side = max(3.2, 0.45 * widest + 1.6)
    fig, axes = _grid(len(evaluation.confusion), columns, sharex=False, panel=(side, side))
    for ax, (target, matrix) in zip(axes, evaluation.confusion.items(), strict=True):
        counts = matrix.to_numpy()
        ax.imshow(counts, cmap="Blues")
        labels = [str(c) for c in matrix.columns]
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        for (i, j), count in np.ndenumerate(counts):
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                    color="white" if count > counts.max() / 2 else "black")
        accuracy = np.trace(counts) / max(counts.sum(), 1)
        ax.set(title=f"{target}: accuracy {accuracy:.3f}", xlabel="predicted", ylabel="true")
    return _done(fig, save)


def reliability(model: FittedPipeline | Fitted, data: Source, part: str = "test",
                columns: int = COLUMNS, save: str | Path | None = None) -> Figure:
    """The reliability diagram of each categorical target on ``part`` of ``data``
    (``reliability_diagram`` of ``evaluate(data, part=part)``).

    Example:
        >>> plots.reliability(model, df, part="test", save="reliability.png")
    """
    return reliability_diagram(fitted(model).evaluate(data, part=part), columns, save)


def reliability_diagram(evaluation: Evaluation, columns: int = COLUMNS,
                        save: str | Path | None = None) -> Figure:
    """Per categorical target, the accuracy of the predictions in each of the 15 equal-width
    bins of the top class's probability against their mean confidence, beside the diagonal
    (perfect calibration); the title gives the ECE.

    Args:
        evaluation: an ``Evaluation`` of a model with classification or binary targets.
        columns: panels per row, at most.
        save: write the figure to this PNG path.
    """
    if not evaluation.reliability:
        raise ConfigError("reliability needs a classification or binary target; this "
                          "evaluation has only regression targets")
    fig, axes = _grid(len(evaluation.reliability), columns, sharex=False, panel=(3.4, 3.4))
    for ax, (target, bins) in zip(axes, evaluation.reliability.items(), strict=True):
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
        ax.bar(bins["lower"], bins["accuracy"], width=bins["upper"] - bins["lower"],
               align="edge", alpha=0.35, edgecolor="tab:blue", label="accuracy per bin")
        ax.plot(bins["confidence"], bins["accuracy"], marker="o", color="tab:blue",
                label="model")
        ece = evaluation.metric(target, "ECE")
        ax.set(title=f"{target}: ECE {ece:.3f}", xlim=(0, 1), ylim=(0, 1),
               xlabel="confidence (top class's probability)", ylabel="accuracy")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize="small",
               frameon=False)
    return _done(fig, save)


def backtest_folds(backtest: Backtest, units: dict[str, str] | None = None,
                   columns: int = COLUMNS, save: str | Path | None = None) -> Figure:
    """Each target's error (MAE; accuracy if categorical) per fold origin, beside naive;
    for a target with conformal intervals, also a panel of their coverage per fold within
    the band from 0 to each nominal coverage (``backtest(coverage=...)``).

    Args:
        backtest: the result of ``LSTMModel.backtest``.
        units: unit per target, for the y labels (default: the spec's ``units``).
        columns: panels per row, at most.
        save: write the figure to this PNG path.
    """
    units = backtest.evaluations[0].units if units is None else units
    overall = backtest.table[backtest.table.step == "all"]
    targets = list(dict.fromkeys(overall.target))
    coverage = overall[overall.metric.str.match(r"coverage_.*_conformal$")]
    covered = list(dict.fromkeys(coverage.target))
    fig, axes = _grid(len(targets) + len(covered), columns)
    for ax, target in zip(axes, targets, strict=False):
        rows = overall[overall.target == target]
        metric = "MAE" if "MAE" in set(rows.metric) else "accuracy"
        one = rows[rows.metric == metric]
        ax.plot(one.origin, one.model, marker="o", label="model")
        ax.plot(one.origin, one.naive, marker="s", ls="--", color="grey", label="naive")
        ax.set_title(target)
        ax.set_ylabel(metric if metric == "accuracy" else _unit_label(metric, units, target))
    for ax, target in zip(axes[len(targets):], covered, strict=True):
        rows = coverage[coverage.target == target]
        for metric, color in zip(dict.fromkeys(rows.metric), _colors(rows.metric.nunique()),
                                 strict=True):
            one, nominal = rows[rows.metric == metric], float(metric.split("_")[1])
            ax.plot(one.origin, one.model, marker="o", color=color,
                    label=f"{metric.split('_')[1]} % interval")
            ax.axhline(nominal, color=color, lw=0.8, ls=":")
            ax.axhspan(0, nominal, color=color, alpha=0.06, lw=0)
        ax.set_ylim(0, 100)
        ax.set_title(f"{target}: conformal interval coverage")
        ax.set_ylabel("coverage (%)")
    how = "refitted per fold" if backtest.refit else "fitted once, before the first origin"
    fig.suptitle(f"Backtest: {overall.fold.nunique()} folds, model {how}")
    _finish(fig, axes, columns, "fold origin (last row fitted on)")
    return _done(fig, save)


def importance(table: pd.DataFrame, save: str | Path | None = None) -> Figure:
    """A heatmap of permutation importance: inputs (rows) x targets (columns), the colour
    each input's mean error increase relative to the target's unpermuted error, in %.

    Args:
        table: ``LSTMModel.importance``'s table (per step: the steps' mean is drawn).
        save: write the figure to this PNG path.

    Example:
        >>> plots.importance(model.importance(df), save="importance.png")
    """
    from .importance import check_table

    grid = check_table(table).pivot_table(index="input", columns="target", values="relative",
                                          sort=False) * 100       # (inputs, targets)
    fig, (ax,) = _grid(1, 1, panel=(1.2 + 1.1 * grid.shape[1], 1.0 + 0.45 * grid.shape[0]))
    high = max(float(np.nanmax(np.abs(grid.to_numpy()))), 1e-9)
    image = ax.imshow(grid.to_numpy(), cmap="RdBu_r", vmin=-high, vmax=high, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns], rotation=30,
                  ha="right")
    ax.set_yticks(range(grid.shape[0]), [str(i) for i in grid.index])
    for (i, j), value in np.ndenumerate(grid.to_numpy()):
        ax.text(j, i, format(value, ".3g"), ha="center", va="center", fontsize="small",
                color="white" if abs(value) > high / 2 else "black")    # dark ends: white
    metrics = ", ".join(dict.fromkeys(table["metric"]))
    ax.set(title="Permutation importance", xlabel="target", ylabel="input permuted")
    fig.colorbar(image, ax=ax, label=f"error increase, % of the error ({metrics})")
    return _done(fig, save)


def save_run(model: FittedPipeline | Fitted, evaluation: Evaluation, directory: Path,
             data: Any = None) -> list[str]:
    """Write the PNGs that suit a fitted model into ``directory``; returns their names.

    Learning curves always; forecasts for forecast models given their ``data``;
    horizon errors with a horizon above 1; confusion matrices and reliability diagrams for
    categorical targets.
    """
    directory, pipeline = Path(directory), fitted(model)
    learning_curves(pipeline.history, save=directory / files.LEARNING_CURVES)
    written = [files.LEARNING_CURVES]
    if pipeline.spec.shape.sliding and data is not None:
        forecasts(pipeline, data, save=directory / files.FORECASTS)
        written.append(files.FORECASTS)
    if not evaluation.per_step.empty:
        horizon_errors(evaluation, save=directory / files.HORIZON_ERRORS)
        written.append(files.HORIZON_ERRORS)
    if evaluation.confusion:
        confusion(evaluation, save=directory / files.CONFUSION)
        written.append(files.CONFUSION)
    if evaluation.reliability:
        reliability_diagram(evaluation, save=directory / files.RELIABILITY)
        written.append(files.RELIABILITY)
    return written


# -- layout -------------------------------------------------------------------------------
def _band(ax: Axes, target: Target, predicted: pd.DataFrame, when: Any, color: Any,
          conformal: dict[str, Any] | None) -> None:
    """Shade a target's forecast within its calibrated ``conformal`` intervals (each, the
    inner ones darker), else a quantile or distribution target's between its outermost
    quantiles (nothing for other targets)."""
    name = target.name
    levels = target.target_kind.levels(target)
    if conformal and name in conformal["targets"]:
        for c in reversed(conformal["coverage"]):
            ax.fill_between(when, predicted[interval_column(name, "lo", c)],
                            predicted[interval_column(name, "hi", c)], color=color, alpha=0.15,
                            lw=0, label=f"{percent(c)} % conformal interval")
    elif levels:
        low, high = levels[0], levels[-1]
        ax.fill_between(when, predicted[quantile_column(name, low)],
                        predicted[quantile_column(name, high)], color=color, alpha=0.18,
                        lw=0, label=f"{format((high - low) * 100, '.3g')} % band")


def _grid(n: int, columns: int, sharex: bool = True, panel: tuple[float, float] = PANEL
          ) -> tuple[Figure, list[Axes]]:
    """A figure of ``n`` panels in rows of at most ``columns``; unused cells hidden."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    check_positive_int("columns", columns)
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(panel[0] * cols, panel[1] * rows + 0.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, sharex=sharex, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, list(axes[:n])


def _finish(fig: Figure, axes: list[Axes], columns: int, xlabel: str) -> None:
    """X labels and tick labels on the lowest panel of each column; one legend below."""
    cols = min(columns, len(axes))
    for c in range(cols):
        bottom = axes[c::cols][-1]
        bottom.set_xlabel(xlabel)
        bottom.tick_params(labelbottom=True)
    for ax in axes:
        if np.issubdtype(np.asarray(ax.get_lines()[0].get_xdata()).dtype, np.datetime64):
            _concise_dates(ax)
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), loc="outside lower center",
               ncols=min(len(handles), 4), fontsize="small", frameon=False)


def _integer_ticks(ax: Axes) -> None:
    """Ticks on whole numbers only along x (steps, epochs): no "1.5" step."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _concise_dates(ax: Axes) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _done(fig: Figure, save: str | Path | None) -> Figure:
    """Write ``fig`` to ``save`` atomically, and return it.

    An existing file there is replaced only if it is a plot lstmkit drew (its PNG says
    so); anything else, or a path inside a model directory, is refused.
    """
    if save is not None:
        path = Path(save)
        files.check_output_file(path, overwrite=True, kind="plot", is_own=_is_plot,
                                suffixes=(".png",))
        with files.atomic_file(path) as tmp:
            fig.savefig(tmp, dpi=DPI, format="png", metadata={"Software": SOFTWARE})
    return fig


def _is_plot(path: Path) -> bool:
    """Whether ``path`` is a PNG that lstmkit drew."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.format == "PNG" and image.info.get("Software") == SOFTWARE
    except (OSError, UnidentifiedImageError):
        return False


# -- helpers ------------------------------------------------------------------------------
def _unit_label(what: str, units: dict[str, str] | None, target: str | None = None) -> str:
    """``what (unit)``; the unit of ``target`` (default: of ``what``), or 'original units'."""
    unit = (units or {}).get(target or what, "original units")
    return f"{what} ({unit})"


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"].colors
    return [palette[i % len(palette)] for i in range(n)]


def _codes(labels: np.ndarray, classes: list[Any]) -> np.ndarray:
    """Class labels as their position among ``classes`` (NaN for missing or unseen)."""
    values = pd.Series(labels, dtype=object)
    codes = pd.Categorical(values.astype(str), categories=[str(c) for c in classes]).codes
    return np.where((codes < 0) | values.isna().to_numpy(), math.nan, codes)


def _wall_clock(times: Any) -> np.ndarray:
    """Times as numpy values to draw: zone-aware ones as their wall-clock time in the zone."""
    if isinstance(times, pd.Series):
        times = pd.Index(times)
    if isinstance(times, pd.DatetimeIndex) and times.tz is not None:
        times = times.tz_localize(None)
    return np.asarray(times)


def _show(value: Any) -> str:
    if isinstance(value, np.datetime64):
        return str(pd.Timestamp(value)).removesuffix(" 00:00:00")
    return f"row {value}"


def _series_index(keys: list[Any], series: Any, column: str | None) -> int:
    """The position of ``series`` in ``keys``, as the same id read as a number or text
    (12, 12.0 and "12", a CSV file's id) is one series (``series_ids``)."""
    if series is None:
        return 0
    g = int(positions([id_text(key) for key in keys], [series])[0])
    if g < 0:
        raise ConfigError(f"series {series!r} is not in column {column!r}; it holds "
                          f"{keys[:5]}{' ...' if len(keys) > 5 else ''}")
    return g


def _origin_rows(origins: int | Sequence[int], n: int, lookback: int, horizon: int
                 ) -> list[int]:
    """The origin rows (last input row) to forecast from, ascending."""
    if isinstance(origins, int) and not isinstance(origins, bool):
        if origins < 1:
            raise ConfigError(f"origins must be a positive count or a list of rows, got {origins}")
        spacing = max(horizon, lookback // 4)
        last = n - 1 - horizon
        rows = [r for r in range(last - (origins - 1) * spacing, last + 1, spacing)
                if r >= lookback - 1]
    else:
        rows = sorted(int(r) for r in origins)
        bad = [r for r in rows if not lookback - 1 <= r < n]
        if bad:
            raise ConfigError(f"origin row {bad[0]} has no full lookback in the data: origins "
                              f"must lie in {lookback - 1} .. {n - 1}")
    if not rows:
        raise ConfigError(f"the series has {n} rows, too few for a forecast with its actual "
                          f"values: it needs lookback + horizon = {lookback + horizon}")
    return rows
