import numpy as np
import pytest

from benchmark.pipeline.cache import Cache, content_key


def test_key_changes_with_every_part():
    base = content_key("sr", "1", lr="abc", model="m")
    assert base == content_key("sr", "1", model="m", lr="abc")
    assert base != content_key("sr", "2", lr="abc", model="m")
    assert base != content_key("sr", "1", lr="abc", model="other")
    assert base != content_key("lr", "1", lr="abc", model="m")


def test_array_is_computed_once(tmp_path):
    cache, calls = Cache(tmp_path), []

    def compute():
        calls.append(1)
        return np.arange(4, dtype=np.float32)

    first = cache.array("s", "k" * 64, compute)
    second = cache.array("s", "k" * 64, compute)
    assert calls == [1] and np.array_equal(first, second)


def test_a_failure_is_not_cached_and_the_next_call_recomputes(tmp_path):
    cache = Cache(tmp_path)

    def boom():
        raise RuntimeError("killed mid-way")

    with pytest.raises(RuntimeError):
        cache.array("s", "a" * 64, boom)
    assert not [path for path in tmp_path.rglob("*") if path.is_file() and ".locks" not in path.parts]
    assert cache.array("s", "a" * 64, lambda: np.ones(2)).sum() == 2


def test_batched_arrays_compute_only_missing_items(tmp_path):
    cache, seen = Cache(tmp_path), []
    keys = [content_key("x", "1", i=i) for i in range(5)]
    cache.array("x", keys[1], lambda: np.full(3, 1.0))

    def compute(batch):
        seen.extend(batch)
        return [np.full(3, float(i)) for i in batch]

    stack = cache.arrays("x", keys, compute, batch_size=2, progress=False)
    assert seen == [0, 2, 3, 4]
    assert stack[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_a_killed_batch_loop_keeps_finished_batches(tmp_path):
    """Resumability: items of batches that finished before the failure are not recomputed."""
    cache = Cache(tmp_path)
    keys = [content_key("x", "1", i=i) for i in range(4)]

    def dies_on_second_batch(batch):
        if 2 in batch:
            raise KeyboardInterrupt
        return [np.zeros(1) for _ in batch]

    with pytest.raises(KeyboardInterrupt):
        cache.arrays("x", keys, dies_on_second_batch, batch_size=2, progress=False)
    recomputed = []
    cache.arrays(
        "x", keys, lambda b: recomputed.extend(b) or [np.ones(1) for _ in b], batch_size=2, progress=False
    )
    assert recomputed == [2, 3]
