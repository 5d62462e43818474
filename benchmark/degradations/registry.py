"""The degradation scenarios by name: ``@DEGRADATIONS.register("bicubic")`` on ``degrade_bicubic``.

``benchmark.degradations`` imports every module of its folder, so a new scenario is one function with
this decorator (in a new or an existing module there) plus its tests.
"""

from __future__ import annotations

from cxr_kernel.registry import Registry

#: scenario name (a suite's ``scenario:``) -> its function ``(hr, scale, rng, *, params...)``.
DEGRADATIONS = Registry("degradation")
