"""Shared fixtures: the real data sets in ../shared/data, loaded once per session."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pandas as pd
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ETTH1 = SHARED_DATA / "forecasting" / "ETT-small" / "ETTh1.csv"
ETT_COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]


def pytest_configure(config: pytest.Config) -> None:
    if not ETTH1.is_file():
        raise pytest.UsageError(f"the shared data sets are missing: expected {ETTH1}; the tests "
                                "need ../shared/data beside the repository")


@pytest.fixture(scope="session")
def etth1() -> pd.DataFrame:
    """ETTh1, the first 20 months (the rows the standard protocol uses)."""
    return pd.read_csv(ETTH1).iloc[:14400].reset_index(drop=True)


@pytest.fixture(scope="session")
def seattle() -> pd.DataFrame:
    path = importlib.resources.files("vega_datasets") / "_data" / "seattle-weather.csv"
    return pd.read_csv(path)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA
