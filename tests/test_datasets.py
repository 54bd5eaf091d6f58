"""Named data sets and the .ts reader, against the real files in ../shared/data.

No test touches the network: ``urllib.request.urlopen`` fails the test if called,
except where a test serves local bytes through it to exercise the download path.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmkit import DataError, datasets
from lstmkit.data.ts_format import read_ts, to_padded
from tests.conftest import SHARED_DATA as DATA

# name: (train, test, channels, (min length, max length), classes), from the data README.
UEA = {
    "ArticularyWordRecognition": (275, 300, 9, (144, 144), 25),
    "AtrialFibrillation": (15, 15, 2, (640, 640), 3),
    "BasicMotions": (40, 40, 6, (100, 100), 4),
    "Epilepsy": (137, 138, 3, (206, 206), 4),
    "Handwriting": (150, 850, 3, (152, 152), 26),
    "JapaneseVowels": (270, 370, 12, (7, 29), 9),
    "NATOPS": (180, 180, 24, (51, 51), 6),
    "PenDigits": (7494, 3498, 2, (8, 8), 10),
    "RacketSports": (151, 152, 6, (30, 30), 4),
    "UWaveGestureLibrary": (120, 320, 3, (315, 315), 8),
}
TABLES = {
    "etth1": (17420, 8), "etth2": (17420, 8), "ettm1": (69680, 8), "ettm2": (69680, 8),
    "weather": (52696, 22), "exchange_rate": (7588, 9), "illness": (966, 8),
    "beijing_pm25": (43824, 14),
}


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, an empty user cache, and no LSTMKIT_DATA_DIR from the environment."""
    def no_network(*args, **kwargs):
        raise AssertionError(f"test tried to use the network: {args}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(datasets.ENV_VAR, raising=False)


def serve(monkeypatch, payload: bytes) -> list[str]:
    """Make urlopen answer every request with ``payload``; returns the URLs asked for."""
    asked: list[str] = []

    def fake_urlopen(url, timeout=None):
        asked.append(url)
        return io.BytesIO(payload)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return asked


def lengths(X: np.ndarray) -> np.ndarray:
    """Steps per sample of a NaN-padded (n, steps, channels) array."""
    return (~np.isnan(X).all(axis=2)).sum(axis=1)


# ---------------------------------------------------------------- forecasting tables

@pytest.mark.parametrize(("name", "shape"), TABLES.items())
def test_forecasting_sets_load_with_documented_shape(name, shape):
    frame = datasets.load(name, data_dir=DATA)
    assert frame.shape == shape
    assert frame.columns[0] == "date"
    assert pd.api.types.is_datetime64_any_dtype(frame["date"])
    assert frame["date"].is_monotonic_increasing


def test_tables_keep_values_as_stored():
    ett = datasets.load("ETTh1", data_dir=DATA)
    assert list(ett.columns) == ["date", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert ett["date"].iloc[-1] == pd.Timestamp("2018-06-26 19:00")
    weather = datasets.load("weather", data_dir=DATA)
    assert (weather["OT"] == -9999).sum() == 50            # sentinels are left as-is
    assert "SWDR (W/m\ufffd)" in weather.columns
    pm = datasets.load("beijing_pm25", data_dir=DATA)
    assert pm["pm2.5"].isna().sum() == 2067
    assert pm["date"].iloc[[0, -1]].tolist() == [pd.Timestamp("2010-01-01 00:00"),
                                                 pd.Timestamp("2014-12-31 23:00")]
    assert set(pm["cbwd"]) == {"NE", "NW", "SE", "cv"}
    exchange = datasets.load("exchange_rate", data_dir=DATA)
    assert exchange["date"].iloc[-1] == pd.Timestamp("2010-10-10")


def test_seattle_weather_loads_from_vega_datasets():
    frame = datasets.load("seattle_weather")
    assert frame.shape == (1461, 6)
    assert frame["date"].iloc[[0, -1]].tolist() == [pd.Timestamp("2012-01-01"),
                                                    pd.Timestamp("2015-12-31")]


# ---------------------------------------------------------------- UEA classification

@pytest.mark.parametrize("name", UEA)
def test_uea_sets_match_the_archive_table(name):
    n_train, n_test, channels, (shortest, longest), classes = UEA[name]
    X_train, y_train = datasets.load_uea(name, "train", data_dir=DATA)
    X_test, y_test = datasets.load_uea(name.lower(), part="TEST", data_dir=DATA)
    assert X_train.shape[::2] == (n_train, channels) and X_test.shape[::2] == (n_test, channels)
    assert X_train.dtype == np.float64 and y_train.dtype == object
    assert len(y_train) == n_train and len(y_test) == n_test
    assert all(isinstance(label, str) for label in y_train)
    both = np.concatenate([lengths(X_train), lengths(X_test)])
    assert (both.min(), both.max()) == (shortest, longest)
    assert len(set(y_train)) == len(set(y_test)) == classes


def test_japanese_vowels_is_nan_padded_at_the_end():
    X, _ = datasets.load_uea("JapaneseVowels", data_dir=DATA)
    steps = lengths(X)
    assert X.shape[1] == steps.max()
    short = int(np.argmin(steps))
    assert not np.isnan(X[short, : steps[short]]).any()
    assert np.isnan(X[short, steps[short]:]).all()


# ---------------------------------------------------------------- lookup and checks

def test_sha256_mismatch_names_the_file_and_both_sums(tmp_path):
    copy = tmp_path / "data" / "forecasting" / "ETT-small" / "ETTh1.csv"
    copy.parent.mkdir(parents=True)
    shutil.copyfile(DATA / "forecasting" / "ETT-small" / "ETTh1.csv", copy)
    raw = bytearray(copy.read_bytes())
    raw[100] ^= 1
    copy.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="sha256 mismatch") as caught:
        datasets.load("etth1", data_dir=tmp_path / "data")
    message = str(caught.value)
    assert str(copy) in message
    assert datasets.info("etth1")["sha256"] in message
    assert hashlib.sha256(raw).hexdigest() in message
    assert "delete it" in message


def test_plain_csv_is_accepted_for_a_gzipped_set(tmp_path):
    plain = tmp_path / "forecasting" / "ETT-small" / "ETTm1.csv"
    plain.parent.mkdir(parents=True)
    plain.write_bytes(gzip.decompress((DATA / "forecasting/ETT-small/ETTm1.csv.gz").read_bytes()))
    assert datasets.path("ettm1", data_dir=tmp_path) == plain
    assert datasets.load("ettm1", data_dir=tmp_path).shape == (69680, 8)


def test_missing_file_without_download_names_what_to_place(tmp_path):
    with pytest.raises(DataError, match="download=False") as caught:
        datasets.load("etth1", data_dir=tmp_path, download=False)
    message = str(caught.value)
    assert f"put ETTh1.csv at {tmp_path / 'forecasting/ETT-small/ETTh1.csv'}" in message
    assert datasets.ENV_VAR in message
    assert str(tmp_path / "cache" / "lstmkit") in message    # the cache was searched too


def test_set_without_url_is_local_only(tmp_path):
    with pytest.raises(DataError, match="no download URL") as caught:
        datasets.load("weather", data_dir=tmp_path)
    assert "forecasting/weather/weather.csv.gz" in str(caught.value)
    assert "uncompressed weather.csv" in str(caught.value)


def test_failed_download_says_where_to_place_the_file(monkeypatch, tmp_path):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match="no route to host") as caught:
        datasets.load_uea("BasicMotions", data_dir=tmp_path)
    assert "classification/UEA/BasicMotions/BasicMotions_TRAIN.ts" in str(caught.value)
    assert not any((tmp_path / "cache").rglob("*.part"))


def test_data_dir_environment_variable_is_honoured(monkeypatch):
    monkeypatch.setenv(datasets.ENV_VAR, str(DATA))
    assert datasets.path("ETTh2") == DATA / "forecasting" / "ETT-small" / "ETTh2.csv"
    assert datasets.load("etth2").shape == (17420, 8)
    X, _ = datasets.load_uea("RacketSports", part="test")
    assert X.shape == (152, 30, 6)


def test_verification_is_cached_per_path_size_and_mtime(monkeypatch, tmp_path):
    copy = tmp_path / "forecasting" / "illness" / "national_illness.csv"
    copy.parent.mkdir(parents=True)
    shutil.copyfile(DATA / "forecasting" / "illness" / "national_illness.csv", copy)
    calls = []
    digest = hashlib.file_digest
    monkeypatch.setattr(hashlib, "file_digest", lambda *a: calls.append(1) or digest(*a))
    for _ in range(3):
        datasets.path("illness", data_dir=tmp_path)
    assert len(calls) == 1
    os.utime(copy, ns=(0, 10**9))
    datasets.path("illness", data_dir=tmp_path)
    assert len(calls) == 2


def test_unknown_names_suggest_the_closest():
    with pytest.raises(DataError, match="did you mean 'basicmotions'") as caught:
        datasets.load_uea("BasicMotion")
    assert "etth1" in str(caught.value) and "PenDigits" in str(caught.value)
    with pytest.raises(DataError, match="did you mean 'exchange_rate'"):
        datasets.info("exchange-rates")


def test_wrong_loader_or_part_is_explained():
    with pytest.raises(DataError, match="load_uea"):
        datasets.load("NATOPS")
    with pytest.raises(DataError, match=r"datasets.load\('etth1'\)"):
        datasets.load_uea("etth1")
    with pytest.raises(DataError, match="part='train' or part='test'"):
        datasets.load_uea("NATOPS", part="validation")


def test_names_and_info():
    assert set(TABLES) | set(UEA) | {"seattle_weather"} == set(datasets.names())
    ett = datasets.info("ETTm2")
    assert ett["path"] == "forecasting/ETT-small/ETTm2.csv.gz"
    assert ett["url"].endswith("/ETT-small/ETTm2.csv")
    assert ett["uncompressed_sha256"].startswith("db973ca2")
    uea = datasets.info("basicmotions")
    assert uea["path"]["test"] == "classification/UEA/BasicMotions/BasicMotions_TEST.ts"
    assert uea["url"] == "https://www.timeseriesclassification.com/aeon-toolkit/BasicMotions.zip"
    assert datasets.info("illness")["url"] is None
    assert all(datasets.info(name)["citation"] for name in datasets.names())


# ---------------------------------------------------------------- downloads (served locally)

def test_download_is_verified_and_moved_into_the_cache(monkeypatch, tmp_path):
    asked = serve(monkeypatch, (DATA / "forecasting/ETT-small/ETTh1.csv").read_bytes())
    file = datasets.path("etth1", data_dir=tmp_path / "empty")
    assert file == tmp_path / "cache" / "lstmkit" / "forecasting" / "ETT-small" / "ETTh1.csv"
    assert asked == [datasets.info("etth1")["url"]]
    assert not list(file.parent.glob("*.part")) and not list(file.parents[2].glob("*.part"))
    assert datasets.load("etth1").shape == (17420, 8)          # now found in the cache
    assert len(asked) == 1


def test_download_of_a_gzipped_set_fetches_the_plain_csv(monkeypatch):
    csv = gzip.decompress((DATA / "forecasting/ETT-small/ETTm2.csv.gz").read_bytes())
    serve(monkeypatch, csv)
    assert datasets.path("ettm2").name == "ETTm2.csv"


def test_uea_zip_download_extracts_both_parts(monkeypatch):
    folder = DATA / "classification" / "UEA" / "BasicMotions"
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in folder.glob("*.ts"):
            zipped.write(file, f"BasicMotions/{file.name}")
        zipped.writestr("BasicMotions/BasicMotions_TRAIN.arff", "not needed")
    asked = serve(monkeypatch, archive.getvalue())
    X, y = datasets.load_uea("BasicMotions", part="test")
    assert X.shape == (40, 100, 6) and len(set(y)) == 4
    assert datasets.load_uea("BasicMotions", part="train")[0].shape == (40, 100, 6)
    assert len(asked) == 1
    cached = datasets.path("BasicMotions", part="train").parent
    assert sorted(p.name for p in cached.iterdir()) == ["BasicMotions_TEST.ts",
                                                        "BasicMotions_TRAIN.ts"]


def test_corrupt_download_is_rejected_and_not_kept(monkeypatch, tmp_path):
    serve(monkeypatch, b"date,HUFL\n2016-07-01 00:00:00,1.0\n")
    with pytest.raises(DataError, match=r"the download of ETTh1\.csv") as caught:
        datasets.load("etth1")
    assert "expected f18de3ad" in str(caught.value)
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


# ---------------------------------------------------------------- the .ts reader

HEADER = "#comment\n@problemName Toy\n@dimensions 2\n@classLabel true a b\n@data\n"


def write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "toy.ts"
    file.write_text(text)
    return file


def test_read_ts_parses_missing_values_and_variable_lengths(tmp_path):
    text = ("# made-up\n\n@PROBLEMNAME Toy\n@Dimensions 2\n@equalLength false\n"
            "@ClassLabel TRUE a b\n@DATA\n1,2,3:4,?,6:a\r\n\n7,NaN:9,10:b\n")
    samples, labels = read_ts(write(tmp_path, text))
    assert [s.shape for s in samples] == [(3, 2), (2, 2)]
    np.testing.assert_array_equal(samples[0], [[1, 4], [2, np.nan], [3, 6]])
    assert labels.tolist() == ["a", "b"] and labels.dtype == object
    padded = to_padded(samples)
    assert padded.shape == (2, 3, 2)
    assert np.isnan(padded[1, 2]).all() and padded[1, 0, 1] == 9


def test_read_ts_skips_percent_comments_before_the_data_only(tmp_path):
    text = "%# a cut-down set\n%\n@classLabel true 1 2\n@data\n1,2:1\n"
    samples, labels = read_ts(write(tmp_path, text))   # aeon's UnitTest files start so
    assert samples[0].tolist() == [[1], [2]] and labels.tolist() == ["1"]
    with pytest.raises(DataError, match=r"line 6: dimension 1, value 1 is not a number: '%1'"):
        read_ts(write(tmp_path, text + "%1,2:2\n"))


def test_read_ts_without_labels(tmp_path):
    samples, labels = read_ts(write(tmp_path, "@classLabel false\n@data\n1,2:3,4\n"))
    assert samples[0].shape == (2, 2) and labels.tolist() == [None]


@pytest.mark.parametrize(("line", "problem"), [
    ("1,2:3,4:5,6:a", r"3 dimension\(s\), expected 2"),
    ("1,x:3,4:a", r"dimension 1, value 2 is not a number: 'x'"),
    ("1,2:3,:a", r"dimension 2, value 2 is not a number: ''"),
    ("1,2:3,4", "missing class label"),
    ("1,2,3:4,5:a", r"different lengths \(3, 2\)"),
    ("1,2:3,4:c", "label 'c' is not among the classes"),
])
def test_read_ts_names_file_and_line_of_a_bad_line(tmp_path, line, problem):
    file = write(tmp_path, HEADER + "1,2:3,4:a\n" + line + "\n")
    with pytest.raises(DataError, match=problem) as caught:
        read_ts(file)
    assert f"{file}, line 7:" in str(caught.value)


@pytest.mark.parametrize(("text", "problem"), [
    ("@timeStamps true\n@data\n(0,1):a\n", r"line 1: timestamped .* not supported"),
    ("@dimensions two\n@data\n", "line 1: @dimensions must be followed by a positive integer"),
    ("1,2:a\n", "line 1: data before the @data header"),
    ("@equalLength true\n@seriesLength 3\n@data\n1,2:3,4\n", r"line 4: 2 values .* is 3"),
    ("@data\n", "holds no samples"),
])
def test_read_ts_rejects_bad_headers(tmp_path, text, problem):
    with pytest.raises(DataError, match=problem):
        read_ts(write(tmp_path, text))


def test_read_ts_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"missing\.ts' does not exist"):
        read_ts(tmp_path / "missing.ts")


def test_to_padded_needs_equal_channels():
    with pytest.raises(DataError, match="channel counts"):
        to_padded([np.zeros((2, 1)), np.zeros((2, 3))])


def zipped(members: dict[str, str]) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        for name, text in members.items():
            out.writestr(name, text)
    return archive.getvalue()


@pytest.mark.parametrize(("payload", "problem"), [
    (b"<html>moved</html>", "is not a valid zip"),
    (zipped({"Other/Other_TRAIN.ts": ""}), "does not contain BasicMotions_TRAIN.ts"),
    (zipped({"BasicMotions_TRAIN.ts": "@data\n", "BasicMotions_TEST.ts": ""}),
     r"the download of BasicMotions_TRAIN\.ts .* has sha256"),
])
def test_bad_zip_downloads_are_rejected(monkeypatch, tmp_path, payload, problem):
    serve(monkeypatch, payload)
    with pytest.raises(DataError, match=problem):
        datasets.load_uea("BasicMotions")
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []
