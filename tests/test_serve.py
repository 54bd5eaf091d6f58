"""The prediction server, started for real on 127.0.0.1 in a subprocess and spoken to over HTTP."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from lstmkit import Feature, LSTMModel, Spec, Split, Target
from lstmkit.cli import main
from lstmkit.errors import ConfigError, DataError
from lstmkit.serve import load_predictor

MAX_ROWS = 400
INPUTS = ["precipitation", "temp_max", "temp_min", "wind", Feature("weather", kind="categorical")]


def two_cities(seattle: pd.DataFrame) -> pd.DataFrame:
    """The Seattle weather as two series (the first and the last two years), ids in 'city'."""
    half = len(seattle) // 2
    return pd.concat([seattle.iloc[:half].assign(city="north"),
                      seattle.iloc[half:].assign(city="south")], ignore_index=True)


@pytest.fixture(scope="module")
def model_dir(seattle, tmp_path_factory) -> Path:
    spec = Spec(time="date", series="city", inputs=INPUTS, lookback=14,
                targets=["temp_max", Target("weather", kind="classification")])
    model = LSTMModel(spec, hidden=8, max_epochs=1, batch_size=128, progress=False,
                      split=Split(val_start=0.8, test_start=None))
    return model.fit(two_cities(seattle)).save(tmp_path_factory.mktemp("serve") / "model")


@pytest.fixture(scope="module")
def model(model_dir) -> LSTMModel:
    return LSTMModel.load(model_dir)


@pytest.fixture(scope="module")
def server(model_dir):
    """The base URL of ``lstmkit serve`` running on a free port; stopped after the module."""
    with running_server(model_dir, "--max-rows", str(MAX_ROWS)) as url:
        yield url


@contextlib.contextmanager
def running_server(model_dir: Path, *options: str) -> Iterator[str]:
    """``lstmkit serve model_dir *options`` on a free port: its base URL, once it answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "lstmkit", "serve", str(model_dir), "--port", str(port),
         *options], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited at start-up: {process.stdout.read()}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not answer /health within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def recent(seattle) -> pd.DataFrame:
    """The last 20 days of both series, dates as ISO strings as a client would send them."""
    frame = two_cities(seattle).groupby("city").tail(20).reset_index(drop=True)
    return frame.assign(date=frame.date.astype(str))


def post(url: str, frame: pd.DataFrame, kind: str, origins: str = "last") -> httpx.Response:
    if kind == "json":
        return httpx.post(f"{url}/predict", params={"origins": origins}, timeout=30,
                          json={"rows": frame.to_dict("records")})
    if kind == "csv":
        body, content_type = frame.to_csv(index=False).encode(), "text/csv"
    else:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        body, content_type = buffer.getvalue(), "application/vnd.apache.parquet"
    return httpx.post(f"{url}/predict", params={"origins": origins}, content=body, timeout=30,
                      headers={"content-type": content_type})


def test_health_and_model_describe_the_served_model(server, model):
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}
    info = httpx.get(f"{server}/model").json()
    assert info["task"] == "forecast" and info["backend"] == "torch"
    assert [t["name"] for t in info["targets"]] == ["temp_max", "weather"]
    assert info["schema"] == model.schema_
    assert info["spec"]["lookback"] == 14 and info["spec"]["series"] == "city"
    assert set(info["versions"]) >= {"lstmkit", "torch", "python"}
    assert "/predict" in httpx.get(f"{server}/openapi.json").json()["paths"]


@pytest.mark.parametrize("kind", ["json", "csv", "parquet"])
@pytest.mark.parametrize("origins", ["last", "all"])
def test_predictions_for_several_series_equal_the_library(server, model, recent, kind, origins):
    response = post(server, recent, kind, origins)
    assert response.status_code == 200, response.text
    served = pd.DataFrame(response.json()["predictions"])
    expected = model.predict(recent, origins=origins)
    assert len(served) == len(expected) == (2 if origins == "last" else 2 * 7)
    assert served.city.tolist() == expected.city.tolist()
    for column in ("origin", "time"):
        assert pd.to_datetime(served[column]).tolist() == expected[column].tolist()
    assert served.weather.tolist() == expected.weather.tolist()
    pd.testing.assert_series_equal(served.temp_max, expected.temp_max, rtol=1e-6)
    probabilities = [c for c in expected.columns if c.startswith("weather_proba_")]
    assert len(probabilities) > 1
    pd.testing.assert_frame_equal(served[probabilities], expected[probabilities], rtol=1e-6)


def test_bad_input_gets_422_with_the_library_message(server, model, recent):
    for bad in (recent.drop(columns="wind"),
                recent.assign(temp_min=["cold"] + [1.0] * (len(recent) - 1)),
                recent.assign(weather="hail")):
        for kind, received in (("json", pd.DataFrame.from_records(bad.to_dict("records"))),
                               ("csv", pd.read_csv(io.StringIO(bad.to_csv(index=False))))):
            with pytest.raises(DataError) as library:     # what the library says of those rows
                model.predict(received)
            response = post(server, bad, kind)
            assert response.status_code == 422
            assert response.json() == {"detail": str(library.value)}
    response = post(server, recent.head(10), "json")            # shorter than the lookback
    assert response.status_code == 422 and "fewer than lookback = 14" in response.json()["detail"]
    response = httpx.post(f"{server}/predict", content=b"{not json", timeout=10,
                          headers={"content-type": "application/json"})
    assert response.status_code == 422 and "JSON body" in response.json()["detail"]


def test_oversized_requests_get_413_and_the_server_keeps_answering(server, recent):
    huge = b"x" * (MAX_ROWS * 1024 + 1)
    response = httpx.post(f"{server}/predict", content=huge, timeout=30,
                          headers={"content-type": "text/csv"})
    assert response.status_code == 413 and "limit" in response.json()["detail"]

    def chunked():                                   # no Content-Length: the streamed size counts
        for _ in range(MAX_ROWS + 1):
            yield b"y" * 1024

    response = httpx.post(f"{server}/predict", content=chunked(), timeout=30,
                          headers={"content-type": "text/csv"})
    assert response.status_code == 413
    many = pd.concat([recent] * (MAX_ROWS // len(recent) + 1), ignore_index=True)
    response = post(server, many, "csv")             # small body, too many rows
    assert response.status_code == 413 and f"limit of {MAX_ROWS}" in response.json()["detail"]
    assert post(server, recent, "json").status_code == 200
    assert httpx.get(f"{server}/health").status_code == 200


def test_serve_refuses_a_bad_model_or_limit_before_listening(tmp_path, model_dir, capsys):
    assert main(["serve", str(tmp_path / "missing"), "--port", "9"]) == 4
    assert "missing" in capsys.readouterr().err
    assert main(["serve", str(model_dir), "--max-rows", "0", "--port", "9"]) == 2
    assert "max_rows must be a positive integer" in capsys.readouterr().err


def test_the_onnx_backend_predicts_like_torch(model_dir, model, recent):
    onnx = load_predictor(model_dir, "onnx")
    for origins in ("last", "all"):
        pd.testing.assert_frame_equal(onnx.predict(recent, origins),
                                      model.predict(recent, origins=origins), rtol=1e-4)
    with pytest.raises(ConfigError, match="backend must be one of"):
        load_predictor(model_dir, "tensorflow")


def test_generated_requests_never_get_a_server_error(server):
    """Schemathesis draws requests from the OpenAPI schema, valid and not: none gets a 5xx."""
    api = schemathesis.openapi.from_url(f"{server}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert {op.path for op in operations} == {"/health", "/model", "/predict"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def no_server_error(case):
            response = case.call(timeout=30)
            assert response.status_code < 500, f"{case.method} {case.path}: {response.text}"

        no_server_error()
    assert httpx.get(f"{server}/health").status_code == 200
