"""Coverage of 95% sensitivity intervals when images are clustered within patients.

    python benchmarks/cluster_coverage.py [--sets 400] [--replicates 400] [--icc 0.2 0.5]

Each simulated test set has the mini suite's pneumonia patients (7, 4, 1, 3, 2, 4, 9 images: 30 images
from 7 patients) and as many normal patients; whether an image is called pneumonia follows a latent
normal with a patient effect of intra-class correlation ``icc``, so the true sensitivity is known
(0.8).  For each set it computes the image-level stratified bootstrap percentile interval (what the
benchmark reported before issue 17), the plain Wilson interval, Wilson on Rao-Scott effective counts
(``wilson-cluster-design-effect``) and the patient-cluster bootstrap percentile interval, and prints how
often each covers the truth and its mean width.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

from benchmark.stats.clustered import cluster_bootstrap_weights
from benchmark.stats.intervals import percentile_interval, stratified_bootstrap_weights
from benchmark.stats.proportions import design_effect, wilson_interval

SIZES = np.array([7, 4, 1, 3, 2, 4, 9])
SENSITIVITY = 0.8


def simulate(rng, icc: float):
    clusters = np.repeat(np.arange(2 * SIZES.size), np.r_[SIZES, SIZES])
    labels = (clusters < SIZES.size).astype(int)
    effect = rng.normal(0, np.sqrt(icc), 2 * SIZES.size)[clusters]
    latent = effect + rng.normal(0, np.sqrt(1 - icc), clusters.size)
    called = np.where(labels == 1, latent < stats.norm.ppf(SENSITIVITY), latent > stats.norm.ppf(0.7))
    return labels, called.astype(int), clusters


def intervals_of(labels, called, clusters, rng, replicates):
    positives = labels == 1
    hits = called[positives]
    sensitivity = lambda w: (w[:, positives] @ hits) / w[:, positives].sum(axis=1)  # noqa: E731
    image_weights = stratified_bootstrap_weights(labels, replicates, rng)
    cluster_weights = cluster_bootstrap_weights(labels, clusters, replicates, rng)
    deff = design_effect(hits.astype(float), clusters[positives])
    return {
        "image bootstrap percentile": percentile_interval(sensitivity(image_weights)),
        "Wilson": wilson_interval(int(hits.sum()), hits.size),
        "Wilson, design effect": wilson_interval(int(hits.sum()), hits.size, deff=deff),
        "cluster bootstrap percentile": percentile_interval(sensitivity(cluster_weights)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, default=400)
    parser.add_argument("--replicates", type=int, default=400)
    parser.add_argument("--icc", type=float, nargs="+", default=[0.0, 0.2, 0.5])
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"{'icc':>5}  {'method':30s} {'coverage':>8} {'mean width':>10}")
    for icc in args.icc:
        covered, widths = {}, {}
        for _ in range(args.sets):
            for name, (low, high) in intervals_of(*simulate(rng, icc), rng, args.replicates).items():
                covered[name] = covered.get(name, 0) + (low <= SENSITIVITY <= high)
                widths.setdefault(name, []).append(high - low)
        for name in covered:
            print(f"{icc:5.2f}  {name:30s} {covered[name] / args.sets:8.3f} {np.mean(widths[name]):10.3f}")


if __name__ == "__main__":
    main()
