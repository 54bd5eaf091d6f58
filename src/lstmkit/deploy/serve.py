"""The prediction server: a saved model behind HTTP (FastAPI + uvicorn).

Endpoints: ``POST /predict`` (JSON rows, a CSV body or a Parquet body in; the
predictions of ``LSTMModel.predict`` out, in original units), ``GET /health``,
``GET /model`` (schema, targets, versions) and the OpenAPI docs at ``/docs``.
Input the library refuses gets 422 with the library's message, as does a query parameter
that is unknown, repeated or of the wrong type (one line, as every refusal); a body, a line or
a row count over the server's limits gets 413 (a Parquet body's rows are counted
from its metadata, before it is decoded), before the body is read in full where
its size says so. The model is loaded once, at start-up.

Example:
    >>> serve("runs/seattle_weather", port=8000)   # or: lstmkit serve runs/seattle_weather

``fastapi``, ``uvicorn`` and ``pydantic`` are the ``serve`` extra: this module is
imported only to serve.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect

from ..checks import check_positive_int, closest, quote
from ..conformal_online import adapt_rate
from ..data.sources import Limits, inflate, read_csv, read_parquet, text_columns
from ..errors import ConfigError, DataError, LimitError, LSTMKitError
from ..spec import Spec
from ..version import __version__

BACKENDS = ("torch", "onnx")
BYTES_PER_ROW = 1024          # the body limit is max_rows x this (CSV and JSON rows are smaller)
LINE_BYTES = 1 << 20          # the longest CSV line a body may hold (about 100,000 numbers)
JSON = "application/json"
CSV = "text/csv"
PARQUET = ("application/vnd.apache.parquet", "application/octet-stream")
ENCODINGS = ("identity", "gzip")    # Content-Encoding of a request body
LOG = logging.getLogger("uvicorn.error")    # uvicorn's own log: one line per event
QUERY = {"origins": "last or all", "adapt": "true, false or a rate"}   # what /predict reads
FLAGS = {"true": True, "1": True, "yes": True, "on": True,      # as FastAPI reads booleans
         "false": False, "0": False, "no": False, "off": False}


class Predictor(Protocol):
    """What the server needs from a backend: raw rows in, ``LSTMModel.predict``'s frame out."""

    def predict(self, frame: pd.DataFrame, origins: str, adapt: bool | float = False
                ) -> pd.DataFrame: ...


class TorchPredictor:
    """The saved model run by PyTorch, exactly as ``LSTMModel.predict`` runs it."""

    def __init__(self, model_dir: str | Path) -> None:
        from ..storage.artifact import load_pipeline

        self.pipeline = load_pipeline(Path(model_dir))

    def predict(self, frame: pd.DataFrame, origins: str, adapt: bool | float = False
                ) -> pd.DataFrame:
        return self.pipeline.predict(frame, origins=origins, adapt=adapt)


class OnnxPredictor:
    """The saved model exported to ONNX (``lstmkit.deploy.export``) and run by onnxruntime."""

    def __init__(self, model_dir: str | Path) -> None:
        import tempfile

        from ..storage.artifact import load_pipeline

        try:
            from .export import export_onnx
            from .onnx_model import OnnxModel
        except ImportError:
            raise ConfigError("--backend onnx needs onnx and onnxruntime: pip install "
                              "'lstmkit[onnx]', or use --backend torch") from None
        with tempfile.TemporaryDirectory() as tmp:
            path = export_onnx(load_pipeline(Path(model_dir)), Path(tmp) / "model.onnx")
            self.model = OnnxModel(path)

    def predict(self, frame: pd.DataFrame, origins: str, adapt: bool | float = False
                ) -> pd.DataFrame:
        return self.model.predict(frame, origins=origins, adapt=adapt)


def load_predictor(model_dir: str | Path, backend: str = "torch") -> Predictor:
    """The backend that serves ``model_dir``: ``torch``, or ``onnx`` (needs
    ``lstmkit.deploy.export``)."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "torch":
        return TorchPredictor(model_dir)
    return OnnxPredictor(model_dir)


def create_app(model_dir: str | Path, backend: str = "torch", max_rows: int = 100_000
               ) -> FastAPI:
    """A FastAPI app serving the model saved in ``model_dir``.

    Args:
        model_dir: a model directory written by ``LSTMModel.save`` or ``lstmkit fit``.
        backend: ``torch`` or ``onnx``.
        max_rows: the most rows one request may send (a Parquet body's are counted from
            its metadata); bodies over ``max_rows * 1 KiB``, before or after gzip
            decompression, and CSV lines over ``LINE_BYTES`` are refused (413).

    Returns:
        The app; run it with uvicorn (``serve`` does).

    Example:
        >>> app = create_app("runs/seattle_weather")
    """
    check_positive_int("max_rows", max_rows)
    _limit_threads()
    predictor = load_predictor(model_dir, backend)
    info = model_info(Path(model_dir), backend)
    max_bytes = max_rows * BYTES_PER_ROW
    limits = Limits(rows=max_rows, line_bytes=LINE_BYTES, inflated_bytes=max_bytes,
                    advice="split it into smaller requests (or start the server with a "
                           "larger --max-rows)")
    columns = set(info["schema"])       # the columns the model reads
    text = text_columns(Spec.saved(info["spec"]))     # a CSV body's ids, read as written
    # One worker: predictions run one at a time off the event loop, each with all the
    # intra-op threads, so concurrent requests never oversubscribe the cores.
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lstmkit-predict")

    body_schema = {"type": "string", "format": "binary"}
    app = FastAPI(title="lstmkit", version=__version__,
                  description=f"Predictions of the lstmkit model in {model_dir}.")

    @app.exception_handler(_RequestError)
    async def request_error(_: Request, exc: _RequestError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
        return await request_error(request, _RequestError(422, _invalid(exc.errors()[0])))

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the model is loaded and the server answers."""
        return {"status": "ok"}

    @app.get("/model")
    def model() -> dict[str, Any]:
        """The model's input schema, targets, task and the versions that serve it."""
        return info

    @app.post("/predict", openapi_extra={"requestBody": {"required": True, "content": {
        JSON: {"schema": Rows.model_json_schema()},
        CSV: {"schema": {"type": "string"}},
        **{kind: {"schema": body_schema} for kind in PARQUET},
    }}}, responses={413: {"description": "the body, a line or the rows are more than the "
                                         "server accepts"},
                    415: {"description": "a content type or encoding the server does not "
                                         "read"},
                    422: {"description": "the input does not fit the model (the message "
                                         "names the column, row and fix)"}})
    async def predict(request: Request, origins: Literal["last", "all"] = Query(
            "last", description="forecasts: from the end of each series, or every row"),
                      adapt: str = Query("false", description=(
                          "adapt the calibrated intervals to the misses of the rows' "
                          "earlier windows (the rows must hold the targets): true (the "
                          "default rate), false, or a rate in (0, 1] such as 0.02"))
                      ) -> Response:
        """Predictions in original units, one JSON record per row of ``LSTMModel.predict``.

        Send rows as JSON (``{"rows": [{column: value, ...}, ...]}``), as a CSV body
        (``text/csv``) or as a Parquet file (``application/vnd.apache.parquet``).
        Several series (or sequences) may share a request; their id column tells them apart.
        """
        _check_query(request.query_params)
        rate = _adapt(adapt)
        kind, encoding = _body_format(request)
        body = await _read_body(request, max_bytes)

        def run() -> str:
            # A CSV reader decompresses as it parses; the others need the whole body first.
            inflated = encoding == "gzip" and kind != CSV
            data = inflate(body, limits, "the gzip-encoded body") if inflated else body
            predictions = predictor.predict(_table(data, kind, limits, columns, text), origins,
                                            rate)
            return '{"predictions":' + predictions.to_json(orient="records",
                                                           date_format="iso") + "}"

        try:
            content = await asyncio.get_running_loop().run_in_executor(worker, run)
        except LimitError as exc:
            raise _RequestError(413, " ".join(str(exc).split())) from None
        except LSTMKitError as exc:       # everything the library refuses is the request's doing
            raise _RequestError(422, " ".join(str(exc).split())) from None
        return Response(content, media_type=JSON)

    return app


def serve(model_dir: str | Path, host: str = "127.0.0.1", port: int = 8000,
          backend: str = "torch", max_rows: int = 100_000) -> None:
    """Serve ``model_dir`` over HTTP until interrupted.

    Args:
        model_dir: a saved model directory.
        host: the interface to listen on (``0.0.0.0`` for every interface).
        port: the TCP port.
        backend: ``torch`` or ``onnx``.
        max_rows: the most rows one request may send.
    """
    import uvicorn

    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"port must be a TCP port number from 1 to 65535, got {quote(port)}; "
                          "choose a free port (--port)")
    app = create_app(model_dir, backend=backend, max_rows=max_rows)
    listening = _listen(host, port)
    print(f"serving {model_dir} ({backend}) on http://{host}:{port} (docs: /docs)", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or a ``ConfigError`` if that address cannot be used."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        listening = socket.socket(family, kind, proto)
    except OSError as exc:       # socket.gaierror: a name that does not resolve
        raise ConfigError(f"cannot listen on host {quote(host)} ({exc.strerror or exc}); pass "
                          "--host an address of this machine (127.0.0.1, or 0.0.0.0 for every "
                          "interface)") from None
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
    except OSError as exc:
        listening.close()
        raise ConfigError(f"cannot listen on {quote(host)} port {port} ({exc.strerror or exc}); "
                          "choose a free port (--port) and an address of this machine "
                          "(--host)") from None
    return listening


def model_info(model_dir: Path, backend: str) -> dict[str, Any]:
    """What ``GET /model`` answers: the saved config's schema and spec, and versions.

    Called once the model has loaded, so every entry it reads has passed the loader's checks
    (the spec as the loader parsed it, not as the file spells it).
    """
    import fastapi
    import torch

    from ..storage.artifact import read_config

    config = read_config(model_dir)
    spec = Spec.saved(config["spec"])
    return {
        "model_dir": str(model_dir),
        "backend": backend,
        "task": spec.task,
        "spec": spec.to_dict(),
        "schema": config["schema"],
        "targets": [{"name": t.name, "kind": t.kind} for t in spec.targets],
        "trained_with": config["versions"],
        "versions": {"lstmkit": __version__, "torch": torch.__version__,
                     "fastapi": fastapi.__version__, "python": platform.python_version()},
    }


class Rows(BaseModel):
    """Input rows: one object per time step (or sequence step), keyed by column name."""

    model_config = ConfigDict(extra="forbid")     # a key beside rows is no option it reads

    rows: list[dict[str, float | int | str | bool | None]]


class _RequestError(Exception):
    """A request the server refuses, with its HTTP status and message."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def _invalid(error: Any) -> str:
    """FastAPI's first complaint about a request's parameters, as one line."""
    where, name = error["loc"][0], ".".join(str(p) for p in error["loc"][1:])
    return f"{where} parameter {quote(name)}: {error['msg']}, got {quote(error.get('input'))}"


def _adapt(text: str) -> bool | float:
    """The ``adapt`` query parameter as ``predict`` takes it: a boolean word (``true``,
    ``0``, ...) or a rate in (0, 1] (``conformal_online.adapt_rate``); else 422."""
    flag = FLAGS.get(text.strip().lower())
    if flag is not None:
        return flag
    try:
        return adapt_rate(float(text))
    except (ValueError, ConfigError):
        raise _RequestError(422, f"query parameter 'adapt' is {quote(text)}: give true, false "
                                 "or a rate in (0, 1], such as adapt=0.02") from None


def _check_query(params: QueryParams) -> None:
    """422 for a query parameter ``/predict`` does not read, or one given more than once:
    predictions that ignore what was asked would look like an answer to it."""
    for name in params:
        if name not in QUERY:
            reads = " and ".join(f"{key} ({values})" for key, values in QUERY.items())
            raise _RequestError(422, f"unknown query parameter {quote(name)}"
                                     f"{closest(name, QUERY)}; /predict reads {reads}")
        if len(params.getlist(name)) > 1:
            raise _RequestError(422, f"query parameter {quote(name)} is given "
                                     f"{len(params.getlist(name))} times; give it once")


def _body_format(request: Request) -> tuple[str, str]:
    """The body's content type and encoding, or 415 for one the server does not read."""
    kind = request.headers.get("content-type", JSON).split(";")[0].strip().lower()
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if kind not in (JSON, CSV, *PARQUET):
        raise _RequestError(415, f"content type {quote(kind)} is not supported; send {JSON} "
                                 f"rows, {CSV} or {PARQUET[0]}")
    if encoding not in ENCODINGS:
        raise _RequestError(415, f"content encoding {quote(encoding)} is not supported; send "
                                 "the body uncompressed or gzip-compressed (Content-Encoding: "
                                 "gzip)")
    return kind, encoding


async def _read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``max_bytes``."""
    too_large = _RequestError(413, f"the request body is larger than this server's limit of "
                                   f"{max_bytes} bytes; split it into smaller requests")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:
        client = f"{request.client.host}:{request.client.port}" if request.client else "a client"
        LOG.warning("client %s disconnected before its request body was read (%d bytes "
                    "received); nothing was predicted", client, size)
        raise _RequestError(400, "the client disconnected before the body was read") from None
    return b"".join(chunks)


def _table(body: bytes, kind: str, limits: Limits, columns: set[str], text: list[str]
           ) -> pd.DataFrame:
    """The request body as a DataFrame, or a ``DataError`` that says what is wrong with it; a
    ``LimitError`` past ``limits``. Of a Parquet body, only ``columns`` are decoded; of a CSV
    body, the ``text`` columns are read as text (``text_columns``)."""
    if kind == CSV:
        return read_csv(body, limits, name="the CSV body", text=text)
    if kind in PARQUET:
        return read_parquet(body, limits, columns, name="the Parquet body")
    try:
        rows = Rows.model_validate_json(body).rows
    except ValidationError as exc:
        first = exc.errors()[0]
        where = quote(".".join(str(p) for p in first["loc"])) if first["loc"] else "the body"
        raise DataError(f"the JSON body is not {{'rows': [{{column: value, ...}}, ...]}}: "
                        f"{where}: {first['msg']}") from None
    if not rows:
        raise DataError("the JSON body has no rows; send the rows to predict from in 'rows'")
    limits.check_rows(len(rows), "the JSON body")
    frame = pd.DataFrame.from_records(rows)
    _check_float_range(frame, columns)
    return frame


def _check_float_range(frame: pd.DataFrame, columns: set[str]) -> None:
    """Refuse a JSON integer too large for a float (JSON allows any number of digits) in one
    of ``columns``."""
    mixed = [name for name, dtype in frame.dtypes.items()       # numbers too large for int64
             if name in columns and isinstance(dtype, np.dtype) and dtype.kind == "O"]
    for column in mixed:
        for row, value in enumerate(frame[column]):
            if type(value) is int and abs(value) > sys.float_info.max:
                raise DataError(f"column {quote(column)} of the JSON body holds an integer of "
                                f"{len(str(abs(value)))} digits at row {row}, beyond the range "
                                "of a number (about ±1.8e308); send values within that range")


def _limit_threads() -> None:
    """One prediction at a time uses the cores; more threads than cores only slow it down."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(max(1, min(torch.get_num_threads(), cores or 1)))
