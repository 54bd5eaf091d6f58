"""The prediction server, started for real on 127.0.0.1 in a subprocess and spoken to over HTTP."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from lstmkit import Feature, LSTMModel, Spec, Split, Target, datasets
from lstmkit.cli.command import main
from lstmkit.deploy.serve import load_predictor
from lstmkit.errors import ConfigError, DataError

MAX_ROWS = 2000      # bodies up to 2 MB: room for a CSV line past the server's 1 MiB limit
SHORT = 400          # characters: no message the server sends is longer, whatever it read
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
def served(model_dir, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """``lstmkit serve`` on a free port: its base URL and its log file; stopped after the module."""
    log = tmp_path_factory.mktemp("log") / "serve.log"
    with running_server(model_dir, "--max-rows", str(MAX_ROWS), log=log) as url:
        yield url, log


@pytest.fixture(scope="module")
def server(served) -> str:
    return served[0]


@contextlib.contextmanager
def running_server(model_dir: Path, *options: str, log: Path | None = None) -> Iterator[str]:
    """``lstmkit serve model_dir *options`` on a free port: its base URL, once it answers.
    What it prints goes to ``log`` (default: a pipe, read if it fails to start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    output = log.open("w") if log is not None else subprocess.PIPE
    process = subprocess.Popen(
        [sys.executable, "-m", "lstmkit", "serve", str(model_dir), "--port", str(port),
         *options], env=env, stdout=output, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                printed = log.read_text() if log is not None else process.stdout.read()
                pytest.fail(f"the server exited at start-up: {printed}")
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
        if log is not None:
            output.close()


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
    assert model.calibration_["targets"]["weather"]["temperature"] != 1   # calibrated ones
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
    assert response.status_code == 413 and f"limit of {MAX_ROWS:,}" in response.json()["detail"]
    assert post(server, recent, "json").status_code == 200
    assert httpx.get(f"{server}/health").status_code == 200


def test_serve_refuses_a_bad_model_limit_or_address_before_listening(tmp_path, model_dir,
                                                                      capsys):
    assert main(["serve", str(tmp_path / "missing"), "--port", "9"]) == 4
    assert "missing" in capsys.readouterr().err
    assert main(["serve", str(model_dir), "--max-rows", "0", "--port", "9"]) == 2
    assert "max_rows must be a positive integer" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for options, fragment in (
                (["--port", "70000"], "port must be a TCP port number from 1 to 65535, got 70000"),
                (["--port", "0"], "port must be a TCP port number from 1 to 65535, got 0"),
                (["--port", str(port)], f"cannot listen on '127.0.0.1' port {port} (Address "
                                        "already in use); choose a free port (--port)"),
                (["--host", "nonexistent.invalid"], "cannot listen on host "
                                                    "'nonexistent.invalid'"),
                (["--host", "192.0.2.1"], "cannot listen on '192.0.2.1' port 8000")):
            assert main(["serve", str(model_dir), *options]) == 2
            lines = capsys.readouterr().err.strip().splitlines()
            assert len(lines) == 1 and fragment in lines[0], lines


def test_the_onnx_backend_predicts_like_torch(model_dir, model, recent):
    onnx = load_predictor(model_dir, "onnx")
    for origins in ("last", "all"):
        pd.testing.assert_frame_equal(onnx.predict(recent, origins),
                                      model.predict(recent, origins=origins), rtol=1e-4)
    with pytest.raises(ConfigError, match="backend must be one of"):
        load_predictor(model_dir, "tensorflow")


def test_the_onnx_backend_blends_the_neighbours_vote_as_torch_does(shared_data, tmp_path):
    X, y = datasets.load_uea("BasicMotions", "train", data_dir=shared_data)
    X_test, _ = datasets.load_uea("BasicMotions", "test", data_dir=shared_data)
    model = LSTMModel(hidden=8, max_epochs=1, batch_size=8, progress=False, seed=0).fit(X, y)
    assert model.neighbour_vote_["y"]["weight"] > 0           # 6 validation sequences
    path = model.save(tmp_path / "motions")
    pd.testing.assert_frame_equal(load_predictor(path, "onnx").predict(X_test, "last"),
                                  model.predict(X_test), rtol=1e-5)


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


def send(url: str, body: bytes, content_type: str, encoding: str | None = None) -> httpx.Response:
    headers = {"content-type": content_type}
    if encoding is not None:
        headers["content-encoding"] = encoding
    return httpx.post(f"{url}/predict", content=body, headers=headers, timeout=60)


def csv_bytes(frame: pd.DataFrame, **options) -> bytes:
    return frame.to_csv(index=False, **options).encode(options.get("encoding", "utf-8"))


def parquet_bytes(table: pa.Table | pd.DataFrame) -> bytes:
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def json_bytes(frame: pd.DataFrame, big: str | None = None) -> bytes:
    """``{"rows": ...}``; with ``big``, row 3's wind becomes that integer literal."""
    text = json.dumps({"rows": frame.to_dict("records")})
    if big is not None:
        rows = json.loads(text)["rows"]
        rows[3]["wind"] = "BIG"
        text = json.dumps({"rows": rows}).replace('"BIG"', big)
    return text.encode()


BOMB = gzip.compress(b"a\n" + (b"x" * 99_999 + b"\n") * 200)    # 20 MB in 20 KB
CSV, PARQUET, JSON = "text/csv", "application/vnd.apache.parquet", "application/json"

# name: (body from the recent rows, content type, encoding, status, fragments of the message)
HOSTILE = {
    "Parquet rows counted from the metadata": (
        lambda r: parquet_bytes(pa.table({"x": np.zeros(1_000_000)})), PARQUET, None, 413,
        ["the Parquet body has 1,000,000 rows, more than the limit of 2,000", "--max-rows"]),
    "a CSV line past 1 MiB": (
        lambda r: csv_bytes(r).replace(b"\n", b"\n" + b"7" * 1_200_000, 1), CSV, None, 413,
        ["the CSV body has a line longer than 1,048,576 bytes (line 2)", "Parquet"]),
    "a gzip bomb, Content-Encoding: gzip": (
        lambda r: BOMB, PARQUET, "gzip", 413,
        ["the gzip-encoded body decompresses to more than 2,048,000 bytes"]),
    "a gzip bomb of rows, Content-Encoding: gzip": (
        lambda r: gzip.compress(b"a,b\n" + b"0,0\n" * 5_000_000), CSV, "gzip", 413,
        ["the CSV body has more rows than the limit of 2,000"]),
    "a gzip bomb as the CSV body": (
        lambda r: BOMB, CSV, None, 413, ["the CSV body decompresses to more than 2,048,000"]),
    "a plain JSON body said to be gzip": (
        json_bytes, JSON, "gzip", 422, ["cannot read the gzip-encoded body", "BadGzipFile"]),
    "an encoding the server does not read": (
        csv_bytes, CSV, "br", 415, ["content encoding 'br' is not supported"]),
    "a content type the server does not read": (
        csv_bytes, "text/plain", None, 415, ["content type 'text/plain' is not supported"]),
    "a JSON integer beyond float range": (
        lambda r: json_bytes(r, "1" + "0" * 400), JSON, None, 422,
        ["column 'wind' of the JSON body holds an integer of 401 digits at row 3"]),
    "a JSON integer of 5,000 digits": (
        lambda r: json_bytes(r, "1" + "0" * 4999), JSON, None, 422, ["number out of range"]),
    "a JSON body that is not an object": (
        lambda r: b"[1, 2]", JSON, None, 422, ["the JSON body is not", "Input should be"]),
    "JSON rows that are not objects": (
        lambda r: b'{"rows": [1, 2]}', JSON, None, 422, ["the JSON body is not", "'rows.0'"]),
    "a JSON value that is an object": (
        lambda r: b'{"rows": [{"wind": {"speed": 1}}]}', JSON, None, 422, ["'rows.0.wind"]),
    "duplicate CSV column names": (
        lambda r: csv_bytes(r.assign(extra=1.0)).replace(b"extra", b"wind", 1), CSV, None, 422,
        ["the CSV body has two columns named 'wind' (columns 5 and 8)"]),
    "an empty CSV body": (lambda r: b"", CSV, None, 422, ["the CSV body is empty"]),
    "an empty Parquet body": (lambda r: b"", PARQUET, None, 422,
                              ["the Parquet body is empty (0 bytes)"]),
    "a truncated Parquet body": (lambda r: parquet_bytes(r)[:500], PARQUET, None, 422,
                                 ["cannot read the Parquet body"]),
    "a CSV body of a header only": (lambda r: csv_bytes(r.iloc[:0]), CSV, None, 422,
                                    ["no rows"]),
    "a CSV body without a header": (lambda r: csv_bytes(r, header=False), CSV, None, 422, []),
    "a first CSV row far wider than the header": (
        lambda r: b"date,wind\n" + b"," * 100_000 + b"\n", CSV, None, 422,
        ["has 100,001 fields in its first row but 2 column names"]),
    "a JSON body of no rows": (lambda r: b'{"rows": []}', JSON, None, 422,
                               ["the JSON body has no rows"]),
    "a JSON key beside rows": (
        lambda r: json.dumps({"rows": r.to_dict("records"), "coverage": 0.9}).encode(), JSON,
        None, 422, ["the JSON body is not", "'coverage'", "Extra inputs are not permitted"]),
    "a label of 1.5 MB": (
        lambda r: json_bytes(r.assign(weather=["x" * 1_500_000, *r.weather.tolist()[1:]])),
        JSON, None, 422, ["column 'weather' has label 'xxx", "(1500002 characters)"]),
    "a JSON string of 1.5 MB in a number column": (
        lambda r: json_bytes(r.assign(wind=["x" * 1_500_000] + [1.0] * (len(r) - 1))), JSON,
        None, 422, ["column 'wind' was numeric", "(1500002 characters)"]),
    "many long column names, one missing": (
        lambda r: json_bytes(r.drop(columns="wind").assign(
            **{f"{'c' * 200}{i}": 0 for i in range(100)})), JSON, None, 422,
        ["required column 'wind' is missing from the data", "characters)"]),
    "a date of 1.5 MB": (
        lambda r: json_bytes(r.assign(date=["x" * 1_500_000, *r.date.tolist()[1:]])), JSON,
        None, 422, ["time column 'date' holds text of 1,500,000 characters at row 0",
                    "too long for a time"]),
    "a model column of lists in Parquet": (
        lambda r: parquet_bytes(pa.Table.from_pandas(r.drop(columns="wind"), preserve_index=False)
                                .append_column("wind", pa.array([[1.0]] * len(r)))), PARQUET,
        None, 422, ["the Parquet body's column 'wind' is nested (list<",
                    "one number or label per row"]),
    "a CSV body that is not UTF-8": (
        lambda r: csv_bytes(r.assign(weather="br\xfcme"), encoding="latin-1"), CSV, None, 422,
        ["cannot read the CSV body", "UnicodeDecodeError"]),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_bodies_get_4xx_and_the_server_stays_healthy(server, recent, case):
    make, content_type, encoding, status, fragments = HOSTILE[case]
    response = send(server, make(recent), content_type, encoding)
    assert response.status_code == status, response.text[:SHORT]
    detail = response.json()["detail"]
    assert len(detail) < SHORT and all(f in detail for f in fragments), detail[:SHORT]
    assert httpx.get(f"{server}/health").status_code == 200


# name: (query parameters of a POST /predict of the recent rows, fragments of the message)
QUERIES = {
    "a flag that is not a boolean": ({"adapt": "maybe"}, ["query parameter 'adapt'",
                                                          "'maybe'", "a rate in (0, 1]"]),
    "a rate above 1": ({"adapt": "2"}, ["query parameter 'adapt'", "'2'", "true, false"]),
    "origins of neither kind": ({"origins": "first"}, ["query parameter 'origins'",
                                                       "'last' or 'all'", "'first'"]),
    "a parameter the server does not read": ({"coverage": "abc", "samples": "-1"}, [
        "unknown query parameter 'coverage'", "reads origins (last or all) and adapt"]),
    "a misspelt parameter": ({"orgins": "all"}, ["'orgins'", "did you mean 'origins'?"]),
    "a parameter given twice": ([("origins", "all"), ("origins", "last")],
                                ["query parameter 'origins' is given 2 times"]),
}


@pytest.mark.parametrize("case", QUERIES, ids=list(QUERIES))
def test_query_parameters_the_server_cannot_use_get_422_naming_them(server, recent, case):
    """Not predictions that ignore what was asked (an unknown or repeated parameter), and one
    message as for every other refusal, not FastAPI's list of errors."""
    params, fragments = QUERIES[case]
    response = httpx.post(f"{server}/predict", params=params, timeout=30,
                          json={"rows": recent.to_dict("records")})
    assert response.status_code == 422, response.text[:SHORT]
    detail = response.json()["detail"]
    assert isinstance(detail, str) and all(f in detail for f in fragments), detail


def test_compressed_utf16_and_wider_bodies_predict_as_plain_ones(server, model, recent):
    """gzip bodies (with Content-Encoding, or a .csv.gz as it is), UTF-16 CSV, and columns
    the model does not read, of any type, give the predictions of the plain rows."""
    n = len(recent)
    extras = pa.Table.from_pandas(recent.assign(site="x"), preserve_index=False)
    extras = extras.set_column(extras.schema.get_field_index("site"), "site",
                               extras.column("site").dictionary_encode())
    for name, values in (("meta", pa.array([{"id": i, "tag": "a"} for i in range(n)])),
                         ("samples", pa.array([[i, i + 1] for i in range(n)])),
                         ("labels", pa.array([[("k", i)] for i in range(n)],
                                             type=pa.map_(pa.string(), pa.int64())))):
        extras = extras.append_column(name, values)
    unread = recent.assign(note="free text", count=2**70)
    bodies = {
        "gzip CSV": (gzip.compress(csv_bytes(recent)), CSV, "gzip"),
        "a .csv.gz as the body": (gzip.compress(csv_bytes(recent)), CSV, None),
        "gzip JSON": (gzip.compress(json_bytes(recent)), JSON, "gzip"),
        "gzip Parquet": (gzip.compress(parquet_bytes(recent)), PARQUET, "gzip"),
        "UTF-16 CSV": (csv_bytes(recent, encoding="utf-16"), CSV, None),
        "Parquet with nested and dictionary columns": (parquet_bytes(extras), PARQUET, None),
        "CSV with unread columns": (csv_bytes(unread), CSV, None),
        "JSON with an unread integer beyond float range": (
            json_bytes(unread.drop(columns="count")).replace(
                b'"note": "free text"', b'"note": 1' + b"0" * 400), JSON, None),
    }
    expected = model.predict(recent)
    for name, (body, content_type, encoding) in bodies.items():
        response = send(server, body, content_type, encoding)
        assert response.status_code == 200, (name, response.text[:SHORT])
        served = pd.DataFrame(response.json()["predictions"])
        assert served.weather.tolist() == expected.weather.tolist(), name
        pd.testing.assert_series_equal(served.temp_max, expected.temp_max, rtol=1e-6)


def open_upload(url: str, length: int) -> socket.socket:
    """A connection that has sent the headers of a CSV POST /predict of ``length`` bytes and
    that the server has started to read the body of (it answered 100 Continue)."""
    port = int(url.rsplit(":", 1)[1])
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.sendall(f"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: text/csv\r\n"
                       f"Content-Length: {length}\r\nExpect: 100-continue\r\n"
                       "Connection: close\r\n\r\n".encode())
    assert connection.recv(1024).startswith(b"HTTP/1.1 100")
    return connection


def test_a_slow_client_does_not_hold_up_other_requests(server, recent):
    body = csv_bytes(recent)
    with open_upload(server, len(body)) as upload:
        upload.sendall(body[:100])                         # the rest comes later
        assert httpx.get(f"{server}/health", timeout=10).status_code == 200
        assert post(server, recent, "json").status_code == 200
        upload.sendall(body[100:])
        answer = b""
        while chunk := upload.recv(65536):
            answer += chunk
    head, _, content = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and len(json.loads(content)["predictions"]) == 2


def test_a_client_that_vanishes_is_one_log_line(served, recent):
    url, log = served
    with open_upload(url, 100_000) as upload:
        upload.sendall(b"date,wind\n")
    deadline = time.monotonic() + 30
    while "disconnected" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(f"{url}/health").status_code == 200
    lines = [line for line in log.read_text().splitlines() if "disconnected" in line]
    assert len(lines) == 1 and "before its request body was read (10 bytes received)" in lines[0]
    assert "Traceback" not in log.read_text()
