"""Fixtures shared by the pipeline tests."""

import pytest

from benchmark.pipeline.cache import Cache


@pytest.fixture
def cache(tmp_path):
    """An empty cache in this test's temporary folder."""
    return Cache(tmp_path / "cache")
