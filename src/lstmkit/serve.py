"""The prediction server: a saved model behind HTTP (FastAPI + uvicorn).

Endpoints: ``POST /predict`` (JSON rows, a CSV body or a Parquet body in; the
predictions of ``LSTMModel.predict`` out, in original units), ``GET /health``,
``GET /model`` (schema, targets, versions) and the OpenAPI docs at ``/docs``.
Input the library refuses gets 422 with the library's message; a body over the
size limit gets 413. The model is loaded once, at start-up.

Example:
    >>> serve("runs/seattle_weather", port=8000)   # or: lstmkit serve runs/seattle_weather

``fastapi``, ``uvicorn`` and ``pydantic`` are the ``serve`` extra: this module is
imported only to serve.
"""

from __future__ import annotations

import asyncio
import io
import os
import platform
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, Protocol

import pandas as pd
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from . import __version__
from .checks import check_positive_int
from .errors import ConfigError, DataError, LSTMKitError

BACKENDS = ("torch", "onnx")
BYTES_PER_ROW = 1024          # the body limit is max_rows x this (CSV and JSON rows are smaller)
JSON = "application/json"
CSV = "text/csv"
PARQUET = ("application/vnd.apache.parquet", "application/octet-stream")


class Predictor(Protocol):
    """What the server needs from a backend: raw rows in, ``LSTMModel.predict``'s frame out."""

    def predict(self, frame: pd.DataFrame, origins: str) -> pd.DataFrame: ...


class TorchPredictor:
    """The saved model run by PyTorch, exactly as ``LSTMModel.predict`` runs it."""

    def __init__(self, model_dir: str | Path) -> None:
        from .model import LSTMModel

        self.model = LSTMModel.load(model_dir)

    def predict(self, frame: pd.DataFrame, origins: str) -> pd.DataFrame:
        return self.model.predict(frame, origins=origins)


class OnnxPredictor:
    """The saved model exported to ONNX (``lstmkit.export``) and run by onnxruntime."""

    def __init__(self, model_dir: str | Path) -> None:
        import tempfile

        from .model import LSTMModel

        try:
            from .export import export_onnx
            from .onnx_predict import OnnxModel
        except ImportError:
            raise ConfigError("--backend onnx needs onnx and onnxruntime: pip install "
                              "'lstmkit[onnx]', or use --backend torch") from None
        with tempfile.TemporaryDirectory() as tmp:
            path = export_onnx(LSTMModel.load(model_dir), Path(tmp) / "model.onnx")
            self.model = OnnxModel(path)

    def predict(self, frame: pd.DataFrame, origins: str) -> pd.DataFrame:
        return self.model.predict(frame, origins=origins)


def load_predictor(model_dir: str | Path, backend: str = "torch") -> Predictor:
    """The backend that serves ``model_dir``: ``torch``, or ``onnx`` (needs ``lstmkit.export``)."""
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
        max_rows: the most rows one request may send; bodies over
            ``max_rows * 1 KiB`` are refused (413) before they are read in full.

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
    # One worker: predictions run one at a time off the event loop, each with all the
    # intra-op threads, so concurrent requests never oversubscribe the cores.
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lstmkit-predict")

    body_schema = {"type": "string", "format": "binary"}
    app = FastAPI(title="lstmkit", version=__version__,
                  description=f"Predictions of the lstmkit model in {model_dir}.")

    @app.exception_handler(_RequestError)
    async def request_error(_: Request, exc: _RequestError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

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
    }}}, responses={413: {"description": "the body is larger than the server accepts"},
                    422: {"description": "the input does not fit the model (the message "
                                         "names the column, row and fix)"}})
    async def predict(request: Request, origins: Literal["last", "all"] = Query(
            "last", description="forecasts: from the end of each series, or every row")
                      ) -> Response:
        """Predictions in original units, one JSON record per row of ``LSTMModel.predict``.

        Send rows as JSON (``{"rows": [{column: value, ...}, ...]}``), as a CSV body
        (``text/csv``) or as a Parquet file (``application/vnd.apache.parquet``).
        Several series (or sequences) may share a request; their id column tells them apart.
        """
        body = await _read_body(request, max_bytes)
        kind = request.headers.get("content-type", JSON).split(";")[0].strip().lower()

        def run() -> str:
            frame = _table(body, kind)
            if len(frame) > max_rows:
                raise _RequestError(413, f"the request has {len(frame)} rows, more than this "
                                         f"server's limit of {max_rows}; split it into smaller "
                                         "requests (or start the server with a larger --max-rows)")
            predictions = predictor.predict(frame, origins)
            return '{"predictions":' + predictions.to_json(orient="records",
                                                           date_format="iso") + "}"

        try:
            content = await asyncio.get_running_loop().run_in_executor(worker, run)
        except (DataError, ConfigError) as exc:
            raise _RequestError(422, " ".join(str(exc).split())) from None
        except LSTMKitError as exc:
            raise _RequestError(500, " ".join(str(exc).split())) from None
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

    app = create_app(model_dir, backend=backend, max_rows=max_rows)
    print(f"serving {model_dir} ({backend}) on http://{host}:{port} (docs: /docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def model_info(model_dir: Path, backend: str) -> dict[str, Any]:
    """What ``GET /model`` answers: the saved config's schema and spec, and versions.

    Called once the model has loaded, so every entry it reads has passed the loader's checks
    (the spec as the loader parsed it, not as the file spells it).
    """
    import fastapi
    import torch

    from .artifact import read_config
    from .spec import Spec

    config = read_config(model_dir)
    spec = Spec.from_dict(config["spec"])
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

    rows: list[dict[str, float | int | str | bool | None]]


class _RequestError(Exception):
    """A request the server refuses, with its HTTP status and message."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


async def _read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``max_bytes``."""
    too_large = _RequestError(413, f"the request body is larger than this server's limit of "
                                   f"{max_bytes} bytes; split it into smaller requests")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _table(body: bytes, kind: str) -> pd.DataFrame:
    """The request body as a DataFrame, or a ``DataError`` that says what is wrong with it."""
    if kind == CSV:
        try:
            return pd.read_csv(io.BytesIO(body), encoding="utf-8-sig")
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise DataError(f"cannot read the CSV body: {exc}; send a header line of column "
                            "names, then one line per row") from None
    if kind in PARQUET:
        try:
            return pd.read_parquet(io.BytesIO(body))
        except Exception as exc:  # pyarrow raises its own types for corrupt files
            raise DataError(f"cannot read the Parquet body ({type(exc).__name__}: {exc}); send "
                            "a complete Parquet file") from None
    if kind != JSON:
        raise _RequestError(415, f"content type {kind!r} is not supported; send {JSON} rows, "
                                 f"{CSV} or {PARQUET[0]}")
    try:
        rows = Rows.model_validate_json(body).rows
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the body"
        raise DataError(f"the JSON body is not {{'rows': [{{column: value, ...}}, ...]}}: "
                        f"{where}: {first['msg']}") from None
    return pd.DataFrame.from_records(rows)


def _limit_threads() -> None:
    """One prediction at a time uses the cores; more threads than cores only slow it down."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(max(1, min(torch.get_num_threads(), cores or 1)))
