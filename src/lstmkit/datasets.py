"""Named public data sets, checksum-verified and cached.

>>> from lstmkit import datasets
>>> df = datasets.load("etth1")                          # forecasting table
>>> X, y = datasets.load_uea("BasicMotions", part="train")  # (n, steps, channels), labels

Files are looked up, in order, in ``data_dir``, in ``$LSTMKIT_DATA_DIR`` and in the
user cache (``$XDG_CACHE_HOME/lstmkit`` or ``~/.cache/lstmkit``), each laid out as
``forecasting/ETT-small/ETTh1.csv``, ``classification/UEA/<Name>/<Name>_TRAIN.ts``,
and so on. A file found is verified by sha256; a file not found is downloaded into
the cache where a stable URL exists, and otherwise must be placed by hand.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .checks import closest
from .data.ts_format import read_ts, to_padded
from .errors import DataError

ENV_VAR = "LSTMKIT_DATA_DIR"
PARTS = ("train", "test")
_ISO = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Entry:
    """One named data set: its stored file(s), checksums, source and citation."""

    name: str
    kind: str                      # "table": one CSV; "uea": TRAIN and TEST .ts files
    paths: tuple[str, ...]         # relative to the data directory; UEA: (TRAIN, TEST)
    sha256: tuple[str, ...]        # one per path
    url: str | None                # None: no stable download, local copy only
    source: str
    citation: str
    plain_sha256: str | None = None  # for a .csv.gz: the uncompressed .csv, accepted too
    date_format: str | None = None   # format of the ``date`` column

    def info(self) -> dict[str, Any]:
        if self.kind == "uea":
            path: Any = dict(zip(PARTS, self.paths, strict=True))
            sha: Any = dict(zip(PARTS, self.sha256, strict=True))
        else:
            path, sha = self.paths[0], self.sha256[0]
        out = {"name": self.name, "kind": self.kind, "path": path, "sha256": sha,
               "url": self.url, "source": self.source, "citation": self.citation}
        if self.plain_sha256:
            out["uncompressed_sha256"] = self.plain_sha256
        return out


_ETT_GIT = ("https://raw.githubusercontent.com/zhouhaoyi/ETDataset/"
            "1d16c8f4f943005d613b5bc962e9eeb06058cf07/ETT-small/")
_ETT_CITE = "Zhou et al., Informer, AAAI 2021 (data CC BY-ND 4.0)"
_AUTOFORMER = ("Autoformer 'all_six_datasets' Google-Drive release (github.com/thuml/Autoformer); "
               "no stable direct URL: local copy only")
_UEA_CITE = ("Bagnall et al. 2018, The UEA multivariate time series classification archive, "
             "arXiv:1811.00075")


def _ett(name: str, sha: str, plain_sha: str | None = None) -> Entry:
    stored = f"{name}.csv.gz" if plain_sha else f"{name}.csv"
    return Entry(name.lower(), "table", (f"forecasting/ETT-small/{stored}",), (sha,),
                 f"{_ETT_GIT}{name}.csv", "github.com/zhouhaoyi/ETDataset, ETT-small/",
                 _ETT_CITE, plain_sha, _ISO)


def _uea(name: str, train_sha: str, test_sha: str) -> Entry:
    folder = f"classification/UEA/{name}/{name}"
    return Entry(name, "uea", (f"{folder}_TRAIN.ts", f"{folder}_TEST.ts"),
                 (train_sha, test_sha),
                 f"https://www.timeseriesclassification.com/aeon-toolkit/{name}.zip",
                 "timeseriesclassification.com (UEA archive)", _UEA_CITE)


_ENTRIES = (
    _ett("ETTh1", "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066"),
    _ett("ETTh2", "a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b"),
    _ett("ETTm1", "ca45123028f1acad120b5f971ca64594746aa9b881d56cdff589ee9aa6cdbd8f",
         "6ce1759b1a18e3328421d5d75fadcb316c449fcd7cec32820c8dafda71986c9e"),
    _ett("ETTm2", "40da2dc79c8f7140eab4f3456debdf85fe8baca5d626280f1ba50181be8ae4ed",
         "db973ca252c6410a30d0469b13d696cf919648d0f3fd588c60f03fdbdbadd1fd"),
    Entry("weather", "table", ("forecasting/weather/weather.csv.gz",),
          ("a08c6d04be34805e0167e75461d7cc6a565f81ca3296f43cc154ce9cbcf9027c",), None,
          _AUTOFORMER, "Wu et al., Autoformer, NeurIPS 2021; data: MPI-BGC Jena weather "
          "station, 2020 (bgc-jena.mpg.de/wetter)",
          "34ee981d07313e51da2a50bb600072c8ae4a69cb4b0651f4cb93a069d7a2ba63", _ISO),
    Entry("exchange_rate", "table", ("forecasting/exchange_rate/exchange_rate.csv",),
          ("48b4d9d3d508f5104162e85b9a6042e3557fde11aa9f2944eba8c0d0efc89842",), None,
          _AUTOFORMER, "Lai et al., LSTNet, SIGIR 2018; Wu et al., Autoformer, NeurIPS 2021",
          date_format="%Y/%m/%d %H:%M"),
    Entry("illness", "table", ("forecasting/illness/national_illness.csv",),
          ("93601f64d2566dc796ca4305adad8b8560c2db1a1ff04543c3bd813a7263570a",), None,
          _AUTOFORMER, "US CDC ILINet; Wu et al., Autoformer, NeurIPS 2021",
          date_format=_ISO),
    Entry("beijing_pm25", "table",
          ("forecasting/beijing_pm2.5/PRSA_data_2010.1.1-2014.12.31.csv",),
          ("4127f868775e31b3956522adc0ec75af8937dde6a3896e8beed3a376c6d27f1c",),
          "https://archive.ics.uci.edu/static/public/381/beijing+pm2+5+data.zip",
          "UCI Machine Learning Repository, Beijing PM2.5 Data (CC BY 4.0)",
          "Liang et al. 2015, Proc. R. Soc. A 471: 20150257"),
    _uea("ArticularyWordRecognition",
         "40c54640f20aa094115a47ad1f4745f5adcc08a65085659a4a042aee1c32a6d5",
         "b4431c96e04310c55b8f50b6f93b0e20cfa019a2d25ab2a5c844e5e0b1375995"),
    _uea("AtrialFibrillation",
         "1037b09c03dfc9d9d6af0a32208519ae4697f6c86083d80dd4f57f7fc1f2cdc9",
         "fed5ef4795417dd14513aa39233676d20f9dbc8d016acc71940ef3f74368ade7"),
    _uea("BasicMotions",
         "8dc43cc6306cb679c888c01e26f91772ac4441a916da43bac8b79734a538b9d6",
         "79213102bc6fca1a398ad98ce1185dff0208fa3d1465e687f48288946b0ff8dc"),
    _uea("Epilepsy",
         "e2555afb91b2484831bcc66b3b5db3a362ba0697e855cfbb041eac165e371022",
         "e68e220e31a9235fd7da23bbae2e59bd8315a3cc4c2b12f803885235b61b52ac"),
    _uea("Handwriting",
         "c187e2288bd7f0667ab7453de436feeadb5dd417c5778a6c62b71852b50736cc",
         "156ee781ad41d58b4e5d48a907aef956f5a3756e1ab2d796c785db1a47863524"),
    _uea("JapaneseVowels",
         "68a430eabd919cc77f40b1f5f3bc0dcafacc1486bca9260785aeb7d262cc78cd",
         "b3d41d6a0ca3bcad3afb9ca7d4365382aa51341e2e58bae2a574babdda5b9462"),
    _uea("NATOPS",
         "3567f0aa297e89327215ee1147537e06f7bdc51f48ac8d2c39aaa34fb1eab1b7",
         "3a9a41a948c30d19db6b9e0ec44d946d42199c4f8724c2aa6e8b71b28612404e"),
    _uea("PenDigits",
         "8c665817e28c88922d06a25791bb24e3bef766ea0c48534e79f0b5ccd44526e4",
         "efc35920415126cb0b1019f4a40c12990845f7d4eadf72c996d5d1f6aeb91c9a"),
    _uea("RacketSports",
         "f5374faaaf6a1aad9ca2ec26d0e39ba61f26b8a6d6bf1766a691027c1ca6f023",
         "c8179bbde0e45f41218ce4a46258524ae7abca7d0e7e45f4424a23d1b1d98d8d"),
    _uea("UWaveGestureLibrary",
         "e1d656037ceb880fe3d4ef7f83f2ee38459897ebaaada93527a17a86823bc92d",
         "734b30171297cc4c209485020466d83dabd2b7ecf76edc10957354f2557d0964"),
    Entry("seattle_weather", "package", ("vega_datasets/_data/seattle-weather.csv",),
          ("62f0609f787158128aa2bd102967173a4953122dd4f872bf1d502cae1037df0b",), None,
          "the installed vega_datasets package", "vega-datasets seattle-weather.csv "
          "(NOAA daily weather, Seattle 2012-2015)", date_format="%Y/%m/%d"),
)
_REGISTRY = {entry.name.lower(): entry for entry in _ENTRIES}
_VERIFIED: dict[tuple[str, int, int], str] = {}   # (path, size, mtime_ns) -> sha256


def names() -> list[str]:
    """Every registered data set name (lookups ignore case)."""
    return [entry.name for entry in _ENTRIES]


def info(name: str) -> dict[str, Any]:
    """Relative path(s), sha256, download URL, source and citation of a data set."""
    return _entry(name).info()


def path(name: str, data_dir: str | os.PathLike | None = None, download: bool = True,
         part: str | None = None) -> Path:
    """The verified local file of a data set; UEA sets need ``part`` "train" or "test"."""
    entry = _entry(name)
    if entry.kind == "uea":
        if part is None or str(part).lower() not in PARTS:
            raise DataError(f"{entry.name} is a UEA set with TRAIN and TEST files: pass "
                            f"part='train' or part='test', got {part!r}")
        index = PARTS.index(str(part).lower())
    elif part is not None:
        raise DataError(f"{entry.name} is a single table; leave part unset, got {part!r}")
    else:
        index = 0
    if entry.kind == "package":
        return _package_file(entry)
    return _find(entry, index, _search_dirs(data_dir), download)


def load(name: str, data_dir: str | os.PathLike | None = None,
         download: bool = True) -> pd.DataFrame:
    """A forecasting table (or seattle_weather) as stored, ``date`` parsed to datetime64.

    Values are left as the source has them: weather's -9999 missing-value sentinels
    stay -9999 and its header keeps the U+FFFD characters of the distributed file;
    Beijing PM2.5's ``NA`` become NaN, and a ``date`` column is built from
    year/month/day/hour and put first.
    """
    entry = _entry(name)
    if entry.kind == "uea":
        raise DataError(f"{entry.name} is a classification set: use "
                        f"datasets.load_uea({entry.name!r}, part='train')")
    file = path(name, data_dir, download)
    try:
        frame = pd.read_csv(file)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read {str(file)!r}: {exc}") from None
    if entry.date_format:
        frame["date"] = pd.to_datetime(frame["date"], format=entry.date_format)
    else:
        frame.insert(0, "date", pd.to_datetime(frame[["year", "month", "day", "hour"]]))
    return frame


def load_uea(name: str, part: str = "train", data_dir: str | os.PathLike | None = None,
             download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A UEA set's TRAIN or TEST split: X (n, max_steps, channels) NaN-padded, y labels."""
    entry = _entry(name)
    if entry.kind != "uea":
        raise DataError(f"{entry.name} is not a UEA classification set: use "
                        f"datasets.load({entry.name!r})")
    samples, labels = read_ts(path(name, data_dir, download, part=part))
    return to_padded(samples), labels


def _entry(name: str) -> Entry:
    entry = _REGISTRY.get(str(name).lower())
    if entry is None:
        raise DataError(f"unknown data set {name!r}{closest(str(name).lower(), _REGISTRY)}; "
                        f"known: {', '.join(names())}")
    return entry


def _search_dirs(data_dir: str | os.PathLike | None) -> list[Path]:
    dirs = [Path(d).expanduser() for d in (data_dir, os.environ.get(ENV_VAR)) if d]
    dirs.append(_cache_dir())
    return list(dict.fromkeys(dirs))


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "lstmkit"


def _find(entry: Entry, index: int, dirs: list[Path], download: bool) -> Path:
    """The first stored copy of ``entry.paths[index]`` in ``dirs``, verified, else a download."""
    stored, sha = entry.paths[index], entry.sha256[index]
    for directory in dirs:
        for relpath, expected in _variants(entry, stored, sha):
            candidate = directory / relpath
            if candidate.is_file():
                return _verify(candidate, expected, entry)
    how = _placement(entry, stored, dirs)
    if not download:
        raise DataError(f"{entry.name}: {stored} not found and download=False; {how}")
    if entry.url is None:
        raise DataError(f"{entry.name}: {stored} not found and it has no download URL "
                        f"({entry.source}); {how}")
    return _download(entry, index, how)


def _variants(entry: Entry, stored: str, sha: str) -> list[tuple[str, str]]:
    """Accepted (relative path, sha256): the stored file, and a plain .csv for a .csv.gz."""
    if entry.plain_sha256:
        return [(stored, sha), (stored.removesuffix(".gz"), entry.plain_sha256)]
    return [(stored, sha)]


def _placement(entry: Entry, stored: str, dirs: list[Path]) -> str:
    file = Path(stored).name
    plain = f" (or the uncompressed {file.removesuffix('.gz')})" if entry.plain_sha256 else ""
    return (f"put {file}{plain} at {dirs[0] / stored}, or set {ENV_VAR} to a directory "
            f"holding {stored}; searched: {', '.join(str(d) for d in dirs)}")


def _sha256(file: Path) -> str:
    stat = file.stat()
    key = (str(file.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        with open(file, "rb") as handle:
            _VERIFIED[key] = hashlib.file_digest(handle, "sha256").hexdigest()
    return _VERIFIED[key]


def _verify(file: Path, expected: str, entry: Entry) -> Path:
    actual = _sha256(file)
    if actual != expected:
        fix = (f"download it again from {entry.url}" if entry.url
               else f"replace it with the original from {entry.source}")
        raise DataError(f"{entry.name}: sha256 mismatch for {file}: expected {expected}, got "
                        f"{actual}; the file is corrupt or a different version: delete it "
                        f"and {fix}")
    return file


def _package_file(entry: Entry) -> Path:
    package, _, relpath = entry.paths[0].partition("/")
    try:
        file = Path(str(resources.files(package).joinpath(relpath)))
    except ModuleNotFoundError:
        raise DataError(f"{entry.name} needs the {package} package: pip install "
                        f"{package}") from None
    if not file.is_file():
        raise DataError(f"{entry.name}: {relpath} is missing from the installed {package} "
                        f"package; reinstall it (pip install --force-reinstall {package})")
    return _verify(file, entry.sha256[0], entry)


def _download(entry: Entry, index: int, how: str) -> Path:
    """Fetch ``entry.url`` into the cache and return the verified file for ``index``.

    A zip download is unpacked for every file of the entry, so one fetch serves
    both parts of a UEA set.
    """
    assert entry.url is not None
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    fetched = _scratch(cache)
    try:
        try:
            with urllib.request.urlopen(entry.url, timeout=60) as response, \
                    open(fetched, "wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as exc:        # URLError, HTTPError and timeouts are all OSError
            raise DataError(f"{entry.name}: downloading {entry.url} failed ({exc}); "
                            f"{how}") from None
        if not entry.url.endswith(".zip"):       # upstream serves the plain .csv
            stored, sha = _variants(entry, entry.paths[index], entry.sha256[index])[-1]
            return _install(fetched, cache / stored, sha, entry)
        installed = [_unzip(fetched, cache, stored, sha, entry)
                     for stored, sha in zip(entry.paths, entry.sha256, strict=True)]
        return installed[index]
    finally:
        fetched.unlink(missing_ok=True)


def _unzip(archive: Path, cache: Path, stored: str, sha: str, entry: Entry) -> Path:
    """Extract the member named like ``stored`` from ``archive`` into the cache."""
    file = Path(stored).name
    part = _scratch(cache)
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.namelist() if Path(m).name == file]
            if not members:
                raise DataError(f"{entry.name}: {entry.url} does not contain {file}")
            with zipped.open(members[0]) as source, open(part, "wb") as out:
                shutil.copyfileobj(source, out)
        return _install(part, cache / stored, sha, entry)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{entry.name}: {entry.url} is not a valid zip ({exc})") from None
    finally:
        part.unlink(missing_ok=True)


def _scratch(directory: Path) -> Path:
    """A new empty temporary file in ``directory``, so a rename into place is atomic."""
    handle, name = tempfile.mkstemp(dir=directory, suffix=".part")
    os.close(handle)
    return Path(name)


def _install(fetched: Path, target: Path, expected: str, entry: Entry) -> Path:
    """Verify a downloaded file and move it into place atomically."""
    actual = _sha256(fetched)
    if actual != expected:
        raise DataError(f"{entry.name}: the download of {target.name} from {entry.url} has "
                        f"sha256 {actual}, expected {expected}; the upstream file has changed "
                        f"or the transfer was corrupted: place a verified copy at {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(fetched, target)
    return target
