"""The ``lstmkit`` command line: fit, predict, evaluate, calibrate, importance, serve,
export, backtest,
tune, datasets and runs, mirroring the Python API.

Errors print as one line (``error: ...``) without a traceback, and the exit code
says what went wrong: 2 config or usage, 3 data, 4 model files, 5 not fitted,
6 training diverged, 1 any other lstmkit error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from ..allocator import keep_freed_memory
from ..conformal import check_coverage, chosen
from ..data.ts_format import TS_SUFFIX
from ..errors import ConfigError, DataError, LSTMKitError, LSTMKitWarning
from ..metrics import PREDICTORS, SCALE_FREE, Evaluation, compare
from ..spec import PARTS
from ..storage import files
from ..version import __version__
from .tracking import epoch_number

console = Console(stderr=False, highlight=False)
METRICS_KEYS = {"baseline", "targets", "confusion"}   # in every metrics file, 0.2.0's too


def command() -> int:
    """The installed ``lstmkit`` command: a process of its own, so it also sets the
    allocator to reuse freed tensor memory (``lstmkit.allocator``)."""
    keep_freed_memory()
    return main()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lstmkit`` command; returns the exit code.

    lstmkit's warnings print as one line each, ``warning: ...``, every time they occur.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("always", LSTMKitWarning)
        warnings.showwarning = _warning_printer(warnings.showwarning)
        try:
            return args.run(args)
        except LSTMKitError as exc:
            message = " ".join(str(exc).split())
            print(f"error: {message}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print("error: interrupted; nothing was saved", file=sys.stderr)
            return 130


def _warning_printer(show: Any) -> Any:
    """A ``warnings.showwarning`` that prints lstmkit's warnings as ``warning: <message>``
    on one line and leaves the others to ``show``."""

    def printer(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
        if issubclass(category, LSTMKitWarning):
            print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)
        else:
            show(message, category, *args, **kwargs)

    return printer


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors print as one line like lstmkit's own errors
    (and exit with 2), pointing to ``--help`` instead of printing the usage block."""

    def error(self, message: str) -> Any:
        self.exit(2, f"error: {' '.join(message.split())}; see {self.prog} --help\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lstmkit", description="Multi-input, multi-output LSTM models from the command line.")
    parser.add_argument("--version", action="version", version=f"lstmkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser("fit", help="train a model from a YAML config and save the run")
    fit.add_argument("config", help="YAML config file (see examples/)")
    fit.add_argument("--run-dir", help="where to save the run (default: the config's run_dir)")
    again = fit.add_mutually_exclusive_group()
    again.add_argument("--overwrite", action="store_true",
                       help="replace the run in the run directory (only a run lstmkit wrote)")
    again.add_argument("--resume", action="store_true",
                       help="continue the interrupted run in the run directory from its checkpoint")
    fit.add_argument("--init-from", metavar="MODEL_DIR",
                     help="continue training the model (run) directory MODEL_DIR on the "
                     "config's data, its encoding and architecture kept (the config's "
                     "init_from; the run's config.yaml records it)")
    fit.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    fit.set_defaults(run=_fit)

    predict = commands.add_parser("predict", help="predict with a saved model")
    predict.add_argument("model", help="model (run) directory")
    predict.add_argument("data", help="CSV/Parquet/.ts file, or dataset:NAME[:part]")
    predict.add_argument("-o", "--output", required=True, help="output .csv or .parquet file")
    predict.add_argument("--overwrite", action="store_true",
                         help="replace an existing output that holds predictions with the same "
                         "columns")
    predict.add_argument("--origins", choices=("last", "all"), default="last",
                         help="forecasts: from the end of each series (last) or every row (all)")
    predict.add_argument("--chunk-rows", type=int, default=65_536,
                         help="rows read per chunk: memory stays bounded however large the file")
    predict.add_argument("--coverage", nargs="+", metavar="SHARE",
                         help="which calibrated conformal intervals to write (e.g. 0.8 0.95; "
                              "default: all the model has)")
    predict.add_argument("--adapt", nargs="?", const=True, default=False, type=float,
                         metavar="RATE",
                         help="adapt the calibrated intervals to the misses of each series' "
                              "earlier windows as their truth arrives (the file must hold the "
                              "targets; each series is held whole); RATE default 0.01")
    predict.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    predict.set_defaults(run=_predict)

    evaluate = commands.add_parser("evaluate", help="metrics of a saved model on data")
    evaluate.add_argument("model", help="model (run) directory")
    evaluate.add_argument("data", help="CSV/Parquet/.ts file, or dataset:NAME[:part]")
    evaluate.add_argument("--part", choices=PARTS, default="all",
                          help="which part of the model's split to score (default: all rows)")
    evaluate.add_argument("--weighted", action="store_true",
                          help="weigh each window by the spec's weight column")
    evaluate.add_argument("--adapt", nargs="?", const=True, default=False, type=float,
                          metavar="RATE",
                          help="score the calibrated intervals adapted to the misses of the "
                               "earlier windows, as predict --adapt gives them")
    evaluate.add_argument("--json", help="also write the metrics to this JSON file")
    evaluate.add_argument("--overwrite", action="store_true",
                          help="replace an existing metrics JSON file that evaluate wrote")
    evaluate.set_defaults(run=_evaluate)

    calibrate = commands.add_parser(
        "calibrate", help="calibrate a saved model's conformal intervals and save it anew")
    calibrate.add_argument("model", help="model (run) directory")
    calibrate.add_argument("data", help="CSV/Parquet/.ts file, or dataset:NAME[:part]")
    calibrate.add_argument("--coverage", nargs="+", metavar="SHARE", required=True,
                           help="nominal coverages, each between 0 and 1 (e.g. 0.8 0.95)")
    calibrate.add_argument("--part", choices=("val", "test", "all"), default="val",
                           help="the windows to calibrate on: a part of the model's split of "
                                "DATA, or all of it (a held-out table; default: val)")
    calibrate.add_argument("--out", required=True, help="the model directory to write")
    calibrate.add_argument("--overwrite", action="store_true",
                           help="replace a model directory at --out")
    calibrate.set_defaults(run=_calibrate)

    importance = commands.add_parser("importance", help="permutation importance of a saved "
                                     "model: which input drives which target")
    importance.add_argument("model", help="model (run) directory")
    importance.add_argument("data", help="CSV/Parquet/.ts file, or dataset:NAME[:part]")
    importance.add_argument("--part", choices=PARTS, default="test",
                            help="which part of the model's split to score (default: test)")
    importance.add_argument("--repeats", type=int, default=5,
                            help="permutations per input column (default: 5)")
    importance.add_argument("--per-step", action="store_true", help="a row per output step too")
    importance.add_argument("--seed", type=int, default=0, help="seed of the permutations")
    importance.add_argument("--out", help="also write the table to this CSV file")
    importance.add_argument("--plot", help="also draw the heatmap to this PNG file")
    importance.add_argument("--overwrite", action="store_true",
                            help="replace an existing table or plot that lstmkit wrote")
    importance.set_defaults(run=_importance)

    backtest = commands.add_parser("backtest", help="rolling-origin backtest of a YAML config")
    backtest.add_argument("config", help="YAML config file (see examples/)")
    backtest.add_argument("--folds", type=int, required=True, help="number of forecast origins")
    backtest.add_argument("--step", type=int, help="rows between origins (default: the horizon)")
    backtest.add_argument("--coverage", nargs="+", metavar="SHARE",
                          help="calibrate conformal intervals at these coverages on each "
                               "fold's validation part and score them per fold")
    refit = backtest.add_mutually_exclusive_group()
    refit.add_argument("--no-refit", action="store_true",
                       help="fit once before the first origin instead of once per fold")
    refit.add_argument("--warm", action="store_true",
                       help="fine-tune each fold's model from the previous fold's instead of "
                       "fitting it afresh")
    backtest.add_argument("--run-dir", help="where to write backtest.csv and backtest.png "
                          "(default: the config's run_dir + '-backtest')")
    backtest.add_argument("--overwrite", action="store_true", help="replace an existing "
                          "backtest directory (only one lstmkit wrote)")
    backtest.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    backtest.set_defaults(run=_backtest)

    export = commands.add_parser("export", help="export a saved model's whole inference "
                                 "pipeline (scaling, network, inverse scaling) as ONNX")
    export.add_argument("model", help="model (run) directory")
    export.add_argument("--onnx", required=True, help="the .onnx file to write")
    export.add_argument("--overwrite", action="store_true",
                        help="replace an existing ONNX file that lstmkit exported")
    export.set_defaults(run=_export)

    tune = commands.add_parser("tune", help="search hyperparameters (Optuna) over the config's "
                               "search section, on validation data")
    tune.add_argument("config", help="YAML config file with a search section")
    tune.add_argument("--trials", type=int, required=True,
                      help="finished trials the study should have, counting earlier runs'")
    tune.add_argument("--storage", help="Optuna storage URL (default: sqlite:///RUN_DIR/study.db)")
    tune.add_argument("--study", help="study name (default: the config file's name)")
    tune.add_argument("--run-dir", help="where to write study.db, best.yaml and trials.csv "
                      "(default: the config's run_dir + '-tune')")
    tune.add_argument("--timeout", type=float, help="start no new trial after this many seconds")
    tune.add_argument("--seed", type=int, default=0, help="seed of the sampler (default: 0)")
    tune.add_argument("--overwrite", action="store_true",
                      help="replace best.yaml and trials.csv that another study wrote")
    tune.set_defaults(run=_tune)

    serve = commands.add_parser("serve", help="serve a saved model over HTTP (POST /predict)")
    serve.add_argument("model", help="model (run) directory")
    serve.add_argument("--host", default="127.0.0.1", help="interface (0.0.0.0: all)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port")
    serve.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                       help="run the model with PyTorch or with onnxruntime")
    serve.add_argument("--max-rows", type=int, default=100_000,
                       help="the most rows one request may send (larger ones get 413)")
    serve.set_defaults(run=_serve)

    names = commands.add_parser("datasets", help="list the named public data sets")
    names.set_defaults(run=_datasets)

    runs = commands.add_parser("runs", help="list and compare the finished runs in a directory")
    runs.add_argument("root", nargs="?", default="runs", help="directory of run directories")
    runs.set_defaults(run=_runs)
    return parser


def _fit(args: argparse.Namespace) -> int:
    from ..training.config import global_rank
    from . import runs
    from .config import RunConfig, fit_arguments

    config = RunConfig.read(args.config)
    if args.init_from is not None:
        config = dataclasses.replace(config, init_from=args.init_from)
    run_dir = Path(args.run_dir or config.run_dir or Path("runs") / Path(args.config).stem)
    reading = _inputs(args.config, config)
    checkpoints = run_dir / files.CHECKPOINTS
    first = global_rank() == 0    # data-parallel workers start after these checks
    if first:
        runs.check_run_dir(run_dir, args.overwrite, args.resume, reading)
    model = config.start_model()
    if args.no_progress:
        model.progress = False
    data, y = fit_arguments(config.data.load(config.spec))
    test = _test_data(config, data, y)
    if args.overwrite and first:
        shutil.rmtree(checkpoints, ignore_errors=True)
    resuming = args.resume and checkpoints.is_dir()
    if first:
        start = f" from {config.init_from}" if config.init_from else ""
        console.print(f"{'resuming' if resuming else 'training'}{start} on "
                      f"{config.data.describe()} -> {run_dir}")
    loggers = config.tracking.loggers(run_dir, Path(args.config).stem)
    model.fit(data, y, checkpoint_dir=checkpoints, resume=args.resume, loggers=loggers,
              warm_start=config.init_from is not None)
    if not first:
        return 0          # a data-parallel worker: process 0 scores and saves the run
    try:
        files.check_output_dir(run_dir, files.MODEL, overwrite=True, reading=reading)
    except ConfigError as exc:      # someone put a file into the run directory meanwhile
        raise ConfigError(f"{exc}; the trained model waits in {files.shown(checkpoints)}: "
                          "then run the same command with --resume to save it") from None
    run = runs.write_run(model, run_dir, data, y, test=test, config=config, overwrite=True,
                         reading=reading)
    _print_metrics(run.evaluation, f"metrics on {run.scored_on}")
    console.print(f"saved the model, metrics ({files.METRICS}, {files.EPOCHS}), "
                  f"{files.RUN_CONFIG}, {files.ENVIRONMENT} and {', '.join(run.plots)} "
                  f"to {run_dir}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from ..analysis import plots
    from .config import RunConfig, fit_arguments

    config = RunConfig.read(args.config)
    default = f"{config.run_dir or Path('runs') / Path(args.config).stem}-backtest"
    run_dir = Path(args.run_dir or default)
    config.fit_only("backtest")
    reading = _inputs(args.config, config)
    files.check_output_dir(run_dir, files.BACKTEST, args.overwrite, reading)
    model = config.build_model()
    if args.no_progress:
        model.progress = False
    data, y = fit_arguments(config.data.load(config.spec))
    if y is not None:
        raise ConfigError(f"backtesting needs a forecast table, but {config.data.describe()} is a "
                          "set of sequences (arrays)")
    console.print(f"backtesting on {config.data.describe()} -> {run_dir}")
    refit = "warm" if args.warm else not args.no_refit
    result = model.backtest(data, folds=args.folds, step=args.step, refit=refit,
                            coverage=_shares(args.coverage))
    summary = Evaluation(result.summary(), result.table.iloc[:0],
                         baseline=result.evaluations[0].baseline)
    console.print(render(summary, f"mean over {args.folds} folds"))
    with files.atomic_directory(run_dir, files.BACKTEST, args.overwrite, reading) as tmp:
        result.table.to_csv(tmp / "backtest.csv", index=False)
        plots.backtest_folds(result, save=tmp / "backtest.png")
    console.print(f"saved backtest.csv and backtest.png to {run_dir}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from ..deploy.batch import PREDICTION_FILES, predict_chunks, read_chunks, write_predictions
    from ..model import LSTMModel

    output = Path(args.output)
    if args.chunk_rows < 1:
        raise ConfigError(f"--chunk-rows must be a positive integer, got {args.chunk_rows}")
    reading = _read_files(args.data)
    files.check_output_file(output, args.overwrite, reading, kind="predictions file",
                            suffixes=PREDICTION_FILES)
    model = LSTMModel.load(args.model)
    coverage = _shares(args.coverage)
    chosen(model.conformal_, coverage, model.spec_)      # before any row is read
    if _arrays(args.data):
        chunks, total = read_chunks(_as_table(_load_data(args.data, model.spec_), model))
    else:
        chunks, total = read_chunks(args.data, rows=args.chunk_rows, spec=model.spec_)
    columns = ("rows read", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=args.no_progress) as progress:
        task = progress.add_task("predict", total=total)

        def counted() -> Any:
            for chunk in chunks:
                yield chunk
                progress.advance(task, len(chunk))

        written = write_predictions(predict_chunks(model, counted(), args.origins, coverage,
                                                   args.adapt),
                                    output, overwrite=args.overwrite, reading=reading)
    console.print(f"wrote {written} row{'' if written == 1 else 's'} to {output}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from ..model import LSTMModel
    from .config import fit_arguments

    out = Path(args.out)
    coverage = check_coverage(_shares(args.coverage))
    reading = [*_read_files(args.data), Path(args.model)]      # the model is an input too
    files.check_output_dir(out, files.MODEL, args.overwrite, reading)
    model = LSTMModel.load(args.model)
    data, y = fit_arguments(_load_data(args.data, model.spec_))
    model.calibrate_intervals(data, y, part=args.part, coverage=list(coverage))
    record = model.conformal_
    for name, entry in record["targets"].items():
        shares = ", ".join(f"{c:g}: {100 * share:.1f} %"
                           for c, share in zip(record["coverage"], entry["covered"], strict=True))
        console.print(f"{name}: coverage on the {record['windows']} calibration windows "
                      f"({args.part}) {shares}")
    model.save(out, overwrite=args.overwrite)
    console.print(f"saved the calibrated model to {out}")
    return 0


def _shares(values: list[str] | None) -> list[Any] | None:
    """``--coverage`` values as numbers where they read as such (the rest stay text, for
    ``check_coverage`` to name)."""
    if values is None:
        return None
    out: list[Any] = []
    for value in values:
        try:
            out.append(float(value))
        except ValueError:
            out.append(value)
    return out


def _serve(args: argparse.Namespace) -> int:
    from ..deploy.serve import serve

    serve(args.model, host=args.host, port=args.port, backend=args.backend,
          max_rows=args.max_rows)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from ..model import LSTMModel
    from .config import fit_arguments

    output = Path(args.json) if args.json else None
    reading = _read_files(args.data)
    if output is not None:          # before scoring: a file of the user's is kept, in one line
        files.check_output_file(output, args.overwrite, reading, kind="metrics file",
                                is_own=lambda path: _json_keys(path) >= METRICS_KEYS,
                                suffixes=(".json",))
    model = LSTMModel.load(args.model)
    data, y = fit_arguments(_load_data(args.data, model.spec_))
    evaluation = model.evaluate(data, y, part=args.part, weighted=args.weighted,
                                adapt=args.adapt)
    weighted = ", weighted" if args.weighted else ""
    _print_metrics(evaluation, f"metrics on {args.data} (part: {args.part}{weighted})")
    if output is not None:
        metrics = evaluation.to_dict()
        files.check_output_file(output, args.overwrite, reading, kind="metrics file",
                                is_own=lambda path: _json_keys(path) >= METRICS_KEYS)
        files.write_text(output, files.json_text(metrics))
    return 0


def _importance(args: argparse.Namespace) -> int:
    from ..analysis import plots
    from ..analysis.importance import COLUMNS
    from ..model import LSTMModel
    from .config import fit_arguments

    reading = _read_files(args.data)
    out, plot = (None if p is None else Path(p) for p in (args.out, args.plot))
    if out is not None:
        files.check_output_file(out, args.overwrite, reading, kind="importance table",
                                suffixes=(".csv",),
                                is_own=lambda path: set(COLUMNS) <= _csv_columns(path))
    if plot is not None:
        files.check_output_file(plot, args.overwrite, reading, kind="plot",
                                suffixes=(".png",))
    model = LSTMModel.load(args.model)
    data, y = fit_arguments(_load_data(args.data, model.spec_))
    table = model.importance(data, y, part=args.part, repeats=args.repeats,
                             per_step=args.per_step, seed=args.seed)
    shown = Table(title=f"permutation importance on {args.data} (part: {args.part}, "
                  f"{args.repeats} repeats; increase of the error, original units)")
    for column in table.columns:
        shown.add_column(column, justify="left" if column in ("input", "target", "metric")
                         else "right")
    for row in table.itertuples(index=False):
        shown.add_row(*(v if isinstance(v, str) else _cell(float(v)) or "n/a" for v in row))
    console.print(shown)
    if out is not None:
        files.write_text(out, table.to_csv(index=False))
    if plot is not None:
        plots.importance(table, save=plot)
    return 0


def _csv_columns(path: Path) -> set[str]:
    """The column names in the first line of the CSV file ``path`` (none if unreadable)."""
    try:
        with path.open(encoding="utf-8") as handle:
            return set(handle.readline().strip().split(","))
    except (OSError, UnicodeDecodeError):
        return set()


def _json_keys(path: Path) -> set[str]:
    """The keys of the JSON object in ``path``; none if it holds no object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return set()
    return set(data) if isinstance(data, dict) else set()


def _export(args: argparse.Namespace) -> int:
    from ..model import LSTMModel

    model = LSTMModel.load(args.model)
    path = model.export_onnx(args.onnx, overwrite=args.overwrite)
    console.print(f"wrote {path} (inputs and outputs: see its lstmkit metadata, or README)")
    return 0


def _tune(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..tuning import tune
    from .config import RunConfig

    optuna = tune.require_optuna()
    if args.trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {args.trials}")
    config = RunConfig.read(args.config)
    config.fit_only("tune")
    tune.check_tunable(config)
    stem = Path(args.config).stem
    run_dir = Path(args.run_dir or f"{config.run_dir or Path('runs') / stem}-tune")
    storage, name = args.storage or tune.default_storage(run_dir), args.study or stem
    files.inspect_output_dir(run_dir, files.TUNE, _inputs(args.config, config))
    run_dir.mkdir(parents=True, exist_ok=True)
    tune.check_outputs(run_dir, tune.study_exists(storage, name), args.overwrite)
    optuna.logging.set_verbosity(optuna.logging.ERROR)   # the progress display reports trials
    study = tune.create_study(config, storage, name, seed=args.seed)
    done = len(tune.finished(study))
    console.print(f"study {name!r} in {storage}: {done} finished trials, running up to "
                  f"{max(args.trials - done, 0)} more on the validation part of "
                  f"{config.data.describe()}")
    columns = (TextColumn("tuning"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.description}"))
    interrupted = False
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("", total=max(args.trials, done), completed=done)

        def show(study: Any, trial: Any) -> None:
            progress.console.print(f"trial {trial.number}: {_trial_outcome(trial)}")
            best = tune.best_trials(study, 1)
            progress.update(bar, completed=len(tune.finished(study)),
                            description=f"best val loss {best[0].value:.4g}" if best else "")

        try:
            tune.optimize(study, config, args.trials, timeout=args.timeout, callbacks=[show])
        except (KeyboardInterrupt, SystemExit):   # Lightning exits on Ctrl-C during training
            interrupted = True
    console.print(_best_table(study, tune.best_trials(study), config))
    if tune.best_trials(study, 1) or not interrupted:
        best = tune.write_results(config, study, run_dir)   # an error if no trial completed
        console.print(f"wrote {best} and trials.csv; train the best config with: "
                      f"lstmkit fit {best}")
    if interrupted:
        print(f"error: interrupted; the finished trials are kept in {storage}: run the same "
              "command to continue", file=sys.stderr)
        return 130
    return 0


def _trial_outcome(trial: Any) -> str:
    """How a finished trial ended, in a few words."""
    state = trial.state.name
    if state == "COMPLETE":
        return f"val loss {trial.value:.4g}"
    if state == "PRUNED":
        return f"pruned after epoch {epoch_number(trial.last_step)}"
    return f"failed: {trial.user_attrs.get('error', 'no value')}"


def _best_table(study: Any, trials: list, config: Any) -> Table:
    """The best trials with their values, best first (keys are unique without their section)."""
    table = Table(title=f"best trials of study {study.study_name!r} ({len(study.trials)} in all)")
    keys = [p.key for p in config.search.params]
    for column in ("trial", "val loss", "epochs", *(k.partition(".")[2] for k in keys)):
        table.add_column(column, justify="right", overflow="fold")
    for t in trials:
        values = [f"{v:.3g}" if isinstance(v, float) else str(v)
                  for v in (t.params.get(k) for k in keys)]
        table.add_row(str(t.number), f"{t.value:.4g}", str(t.user_attrs.get("epochs")), *values)
    return table


def _datasets(args: argparse.Namespace) -> int:
    from .. import datasets

    table = Table(title="named data sets (lstmkit.datasets)")
    for column in ("name", "kind", "file", "source"):
        table.add_column(column)
    for name in datasets.names():
        info = datasets.info(name)
        path = info["path"]
        files = "\n".join(path.values()) if isinstance(path, dict) else path
        table.add_row(name, info["kind"], files, info["citation"])
    console.print(table)
    return 0


def _runs(args: argparse.Namespace) -> int:
    from .runs import list_runs

    root = Path(args.root)
    if not root.is_dir():
        raise ConfigError(f"no run directory {str(root)!r}; pass the directory that holds the "
                          "runs (default: runs)")
    runs = list_runs(root)
    if runs.empty:
        console.print(f"no finished runs under {root}")
        return 0
    title = f"runs under {root} (model metrics on each run's test data)"
    table = _runs_wide(runs, title)
    if Measurement.get(console, console.options.update_width(10**6), table).maximum \
            > console.width:
        table = _runs_long(runs, title)
    console.print(table)
    return 0


def _runs_wide(runs: Any, title: str) -> Table:
    """One row per run, one column per field: the table where the terminal is wide enough."""
    table = Table(title=title)
    for column in runs.columns:
        table.add_column(str(column), justify="left" if column in ("run", "task",
                                                                   "scored_on") else "right")
    for row in runs.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    return table


def _runs_long(runs: Any, title: str) -> Table:
    """A block of rows per run, one per field, long text folded: fits a narrow terminal."""
    table = Table(title=title)
    table.add_column("run / field", overflow="fold")
    table.add_column("value", justify="right", overflow="fold")
    for row in runs.to_dict("records"):
        table.add_row(f"[bold]{row.pop('run')}[/bold]", "")
        fields = [(name, _cell(value)) for name, value in row.items() if _cell(value)]
        for i, (name, value) in enumerate(fields):
            table.add_row(f"  {name}", value, end_section=i == len(fields) - 1)
    return table


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _print_metrics(evaluation: Evaluation, title: str) -> None:
    """The metrics table, and for a panel the scale-free summary after it."""
    console.print(render(evaluation, title))
    summary = render_series(evaluation)
    if summary is not None:
        console.print(summary)


def render(evaluation: Evaluation, title: str) -> Table:
    """The metrics table for the terminal: the model beside the naive baselines, its skill,
    and ``worse`` (in red) where it does worse than the naive baseline, named below."""
    shown = [p for p in PREDICTORS if p in ("model", "naive") or evaluation.table[p].notna().any()]
    table = Table(title=f"{title} (original units; naive = {evaluation.baseline})")
    for column in ("target", "metric", *shown, "skill", "vs naive"):
        table.add_column(column, justify="left" if column in ("target", "metric") else "right")
    for row in evaluation.table.itertuples():
        verdict = compare(row.metric, row.model, row.naive)
        table.add_row(row.target, evaluation.label(row.metric, row.target),
                      *(_cell(float(getattr(row, k))) or "n/a" for k in shown),
                      _cell(row.skill), "[red]worse[/red]" if verdict == "worse" else verdict)
    notes = [f"{name} = {text}" for name, text in (("seasonal naive", evaluation.seasonal),
                                                   ("neighbour", evaluation.neighbour),
                                                   ("MASE, RMSSE", evaluation.scale_free))
             if text]
    notes.append("skill = 1 - model's error / naive's: above 0 is better than naive")
    worse = [t for t, e in evaluation.verdict()["targets"].items() if e["worse"]]
    if worse:
        notes.append(f"[red]worse than the naive baseline (MAE; accuracy if categorical): "
                     f"{', '.join(worse)}[/red]")
    table.caption = "\n".join(notes)
    return table


def render_series(evaluation: Evaluation) -> Table | None:
    """The scale-free summary of a panel (None for one series): per target, MASE and RMSSE
    as means over series for the model and the baselines, how many series the model does
    worse on than the naive baseline, and its worst series."""
    frame = evaluation.per_series[evaluation.per_series.metric.isin(SCALE_FREE)]
    if frame.empty:
        return None
    shown = [p for p in PREDICTORS if p in ("model", "naive") or frame[p].notna().any()]
    n = frame.series.nunique()
    table = Table(title=f"scale-free summary: means over {n} series, each weighing the same")
    for column in ("target", "metric", *shown, "worse than naive", "worst series (model)"):
        table.add_column(column, justify="left" if column in ("target", "metric") else "right")
    for (target, metric), rows in frame.groupby(["target", "metric"], sort=False):
        scored = rows[rows.model.notna()]
        worse = sum(compare(metric, r.model, r.naive) == "worse" for r in scored.itertuples())
        worst = scored.loc[scored.model.idxmax()] if len(scored) else None
        table.add_row(target, metric, *(_cell(float(rows[p].mean())) or "n/a" for p in shown),
                      f"{worse} of {len(scored)}",
                      "" if worst is None else f"{worst.series} ({_cell(float(worst.model))})")
    table.caption = "per series: Evaluation.per_series (metrics.json: per_series)"
    return table


def _arrays(data: str) -> bool:
    """Whether a ``DATA`` argument is read whole, as arrays or a named set's table: a named
    data set or a ``.ts`` file, not a CSV or Parquet file read in chunks."""
    return data.startswith("dataset:") or data.lower().endswith(TS_SUFFIX)


def _load_data(text: str, spec: Any) -> Any:
    """A ``DATA`` argument's table or arrays, read for the model of ``spec``."""
    from .config import DataSource

    return DataSource.parse(text, "data", Path(".")).load(spec)


def _as_table(data: Any, model: Any) -> Any:
    """A loaded data set as a table: ``(X, y)`` arrays become the model's long format."""
    from ..data.sources import from_arrays

    return from_arrays(data[0], None, model.spec_)[0] if isinstance(data, tuple) else data


def _inputs(config_file: str, config: Any) -> list[Path]:
    """The files a run reads: its config and its data files."""
    sources = (config.data, config.test)
    return [Path(config_file), *(Path(s.path) for s in sources if s is not None and s.path)]


def _read_files(data: str) -> list[Path]:
    """The file a ``DATA`` argument reads (none for ``dataset:NAME``)."""
    return [] if data.startswith("dataset:") else [Path(data)]


def _test_data(config: Any, data: Any, y: Any) -> tuple[Any, Any] | None:
    """The config's ``test`` data, loaded and checked against the training data before
    training, so that a long training never ends in an error about it."""
    from ..data.validate import require_columns
    from .config import fit_arguments

    if config.test is None:
        return None
    test, test_y = fit_arguments(config.test.load(config.spec))
    where = config.test.describe()
    if (test_y is None) != (y is None):
        forms = ("a table", "arrays (X, y)")
        raise ConfigError(f"the test data ({where}) is {forms[test_y is not None]} but the "
                          f"training data is {forms[y is not None]}; give both in one form")
    if test_y is None:
        spec = config.spec
        needed = [c for c in (spec.time, spec.group) if c] + spec.input_names + spec.target_names
        require_columns(test, dict.fromkeys(needed), f"section 'test' ({where}):")
    elif np.shape(test[0])[-1] != np.shape(data[0])[-1]:
        raise DataError(f"the test data ({where}) has {np.shape(test[0])[-1]} features per step, "
                        f"the training data {np.shape(data[0])[-1]}; give the same features")
    _check_test_labels(config.spec, (data, y), (test, test_y), where)
    return test, test_y


def _check_test_labels(spec: Any, train: tuple[Any, Any], test: tuple[Any, Any],
                       where: str) -> None:
    """Refuse test sequences of a class the training data lacks before training (scoring
    them would fail once training is done): each (table, None) or (X, y) pair."""
    from ..data.scaling import Labels

    if spec.shape.sliding:
        return
    for target in spec.targets:
        if not target.categorical:
            continue
        if train[1] is None:
            known, scored = train[0][target.name], test[0][target.name]
        elif np.ndim(train[1]) == 1 and len(spec.targets) == 1:
            known, scored = train[1], test[1]
        else:
            return
        labels = Labels.fit(known, target.name)
        try:
            labels.codes(scored, target.name, sequences=True)
        except DataError as exc:
            raise DataError(f"section 'test' ({where}): {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
