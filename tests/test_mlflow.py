"""The MLflow flavour for real: a local SQLite tracking store, MLflow's own pyfunc loader, and
``mlflow models serve`` answering over HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest

import lstmkit.mlflow
from lstmkit import LSTMModel, Spec
from lstmkit.errors import ArtifactError, ConfigError

SOURCE = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def model(etth1) -> LSTMModel:
    spec = Spec(["HUFL", "OT"], ["OT"], lookback=24, horizon=2, time="date")
    return LSTMModel(spec, hidden=8, max_epochs=1, seed=0, coverage=[0.8]).fit(etth1.iloc[:600])


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Iterator[str]:
    """A local tracking store (SQLite in a temporary folder) with an experiment whose
    artifacts go into that folder too (by default MLflow writes them to ./mlruns, the
    repository), set for the module's tests."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("doors", artifact_location=(folder / "artifacts").as_uri())
    yield uri
    mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def logged(model, store) -> str:
    """The model logged to the store: its model URI."""
    mlflow.set_experiment("doors")
    with mlflow.start_run():
        return lstmkit.mlflow.log_model(model, "etth1").model_uri


@pytest.fixture
def recent(etth1) -> pd.DataFrame:
    return etth1.iloc[500:600].reset_index(drop=True)


def test_mlflows_pyfunc_loader_predicts_what_the_model_predicts(model, logged, recent):
    pyfunc = mlflow.pyfunc.load_model(logged)
    pd.testing.assert_frame_equal(pyfunc.predict(recent), model.predict(recent))
    every = pyfunc.predict(recent, params={"origins": "all"})
    pd.testing.assert_frame_equal(every, model.predict(recent, origins="all"))
    assert len(every) == 2 * (len(recent) - 24 + 1)
    adapted = pyfunc.predict(recent, params={"origins": "all", "adapt": 0.05})
    pd.testing.assert_frame_equal(adapted, model.predict(recent, origins="all", adapt=0.05))
    assert not adapted[["OT_lo_80", "OT_hi_80"]].equals(every[["OT_lo_80", "OT_hi_80"]])


def test_the_logged_model_is_lstmkits_own_directory_without_pickle(logged):
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=logged))
    files = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    assert {"data/lstmkit_model/config.json", "data/lstmkit_model/weights.safetensors"} <= files
    assert not [f for f in files if f.endswith((".pkl", ".pickle"))]
    requirements = (local / "requirements.txt").read_text().split()
    assert f"lstmkit=={lstmkit.__version__}" in requirements


def test_load_model_gives_the_lstmmodel_back(model, logged, recent):
    loaded = lstmkit.mlflow.load_model(logged)
    assert isinstance(loaded, LSTMModel)
    assert loaded.spec_ == model.spec_
    pd.testing.assert_frame_equal(loaded.predict(recent), model.predict(recent))


def test_save_model_from_a_model_directory_and_refusals(model, tmp_path, recent):
    directory = model.save(tmp_path / "saved")
    lstmkit.mlflow.save_model(directory, tmp_path / "mlflow_model")
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "mlflow_model"))
    pd.testing.assert_frame_equal(pyfunc.predict(recent), model.predict(recent))
    with pytest.raises(mlflow.exceptions.MlflowException, match="'HUFL'"):
        pyfunc.predict(recent.drop(columns="HUFL"))    # lstmkit's message, for MLflow
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="empty"):
        lstmkit.mlflow.save_model(tmp_path / "empty", tmp_path / "never")
    with pytest.raises(ConfigError, match="fitted LSTMModel or a model directory"):
        lstmkit.mlflow.save_model(42, tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_mlflows_loader_predicts_without_lightning(model, tmp_path, recent):
    lstmkit.mlflow.save_model(model, tmp_path / "mlflow_model")
    recent.to_csv(tmp_path / "recent.csv", index=False)
    script = ("import sys, mlflow.pyfunc, pandas as pd\n"
              f"model = mlflow.pyfunc.load_model({str(tmp_path / 'mlflow_model')!r})\n"
              f"print(len(model.predict(pd.read_csv({str(tmp_path / 'recent.csv')!r}))))\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('lightning', 'pytorch_lightning', 'lightning_fabric')))\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[:2] == ["2", "[]"]


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context: object, model_input: pd.DataFrame, params: dict | None = None
                ) -> pd.DataFrame:
        return model_input


def test_load_model_refuses_another_flavour(tmp_path):
    mlflow.pyfunc.save_model(str(tmp_path / "other"), python_model=Echo(), pip_requirements=[])
    with pytest.raises(ConfigError, match=r"not logged by lstmkit\.mlflow"):
        lstmkit.mlflow.load_model(str(tmp_path / "other"))


def test_without_mlflow_the_error_names_the_extra(model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)      # as if it were not installed
    with pytest.raises(ConfigError, match=r"pip install 'lstmkit\[mlflow\]'"):
        lstmkit.mlflow.log_model(model)


def test_mlflow_models_serve_answers_over_http(model, logged, store, recent, tmp_path):
    body = {"dataframe_split": recent.to_dict(orient="split", index=False)}
    with serving(logged, store, tmp_path / "serve.log") as url:
        answer = httpx.post(f"{url}/invocations", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        served = pd.DataFrame(answer.json()["predictions"])
        expected = model.predict(recent)
        assert served["time"].tolist() == expected["time"].dt.strftime("%Y-%m-%dT%H:%M:%S").tolist()
        pd.testing.assert_series_equal(served["OT"], expected["OT"])
        body["dataframe_split"]["columns"][1] = "hufl"
        refused = httpx.post(f"{url}/invocations", json=body, timeout=60)
        assert refused.status_code == 400
        assert "'HUFL'" in refused.json()["message"]


@contextlib.contextmanager
def serving(model_uri: str, store: str, log: Path) -> Iterator[str]:
    """``mlflow models serve -m MODEL_URI --env-manager local`` on a free port of 127.0.0.1,
    with this interpreter's scripts first on the PATH (MLflow starts ``uvicorn`` by name):
    its base URL once ``/ping`` answers; stopped afterwards."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    scripts = str(Path(sys.executable).parent)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLFLOW_TRACKING_URI": store,
           "PATH": os.pathsep.join([scripts, os.environ.get("PATH", "")]),
           "PYTHONPATH": os.pathsep.join([str(SOURCE), os.environ.get("PYTHONPATH", "")])}
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri,
             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
            env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while not _answers(f"{url}/ping"):
                if process.poll() is not None:
                    pytest.fail(f"mlflow models serve exited at start-up: {log.read_text()}")
                if time.monotonic() > deadline:
                    pytest.fail("mlflow models serve did not answer /ping within 120 s")
                time.sleep(0.25)
            yield url
        finally:
            os.killpg(process.pid, 15)     # MLflow's command and the uvicorn it started
            process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
