"""Print what statsmodels' Holm adjustment costs with PyTorch and TensorFlow loaded, with and without
``benchmark.stats.multiplicity.frozen_heap``.

    python benchmarks/multiplicity_gc.py [--families 100] [--size 6]

statsmodels' ``multipletests(method="holm")`` calls ``gc.collect()`` on every call; a full collection
walks every tracked object, and the frameworks hold millions.  Figures are seconds for ``--families``
calls on random p-value families of ``--size``.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np
from statsmodels.stats.multitest import multipletests

from benchmark.stats.multiplicity import frozen_heap


def timed(families: list[np.ndarray], method: str) -> float:
    start = time.perf_counter()
    for p_values in families:
        multipletests(p_values, method=method)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", type=int, default=100)
    parser.add_argument("--size", type=int, default=6)
    options = parser.parse_args()
    rng = np.random.default_rng(0)
    families = [rng.random(options.size) for _ in range(options.families)]
    print(f"{options.families} families of {options.size} p-values; tracked objects, seconds:")
    print(f"  numpy/statsmodels only  {len(gc.get_objects()):>9}  holm {timed(families, 'holm'):.3f}")
    import tensorflow  # noqa: F401
    import torch  # noqa: F401

    print(f"  + torch + tensorflow    {len(gc.get_objects()):>9}  holm {timed(families, 'holm'):.3f}")
    with frozen_heap():
        print(f"  + frozen_heap           {'':>9}  holm {timed(families, 'holm'):.3f}")
    print(f"  fdr_bh (no gc.collect)  {'':>9}  bh   {timed(families, 'fdr_bh'):.3f}")


if __name__ == "__main__":
    main()
