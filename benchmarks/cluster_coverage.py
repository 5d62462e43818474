"""Coverage of 95% sensitivity intervals when images are clustered within patients.

    python benchmarks/cluster_coverage.py [--sets 400] [--replicates 400] [--icc 0.2 0.5]

Each simulated test set has the mini suite's pneumonia patients (7, 4, 1, 3, 2, 4, 9 images: 30 images
from 7 patients) and as many normal patients; whether an image is called pneumonia follows a latent
normal with a patient effect of intra-class correlation ``icc``, so the true sensitivity is known
(0.8).  For each set it computes the image-level stratified bootstrap percentile interval (what the
benchmark reported before issue 17), the plain Wilson interval, Wilson on Rao-Scott effective counts
(``wilson-cluster-design-effect``) and the patient-cluster bootstrap percentile interval, and prints how
often each covers the truth and its mean width.

Then the type I error of McNemar's test on images, of Durkalski's clustered McNemar, and of the rule the
benchmark applies (McNemar's own test when no patient holds two discordant images, else Durkalski) on the
same patients under the null (a variant that is better or worse than HR on an image exactly as
often, but whose advantage is shared within a patient with intra-class correlation ``icc``): the share
of ``--sets`` test sets each rejects at 0.05.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

from benchmark.stats.clustered import cluster_bootstrap_weights, clustered_mcnemar, max_discordant_per_cluster
from benchmark.stats.intervals import percentile_interval, stratified_bootstrap_weights
from benchmark.stats.paired import mcnemar_test
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


def null_pairs(rng, icc: float, discordant: float = 0.3):
    """Correctness of a variant and of HR per image under H0 (p10 = p01), advantage shared per patient."""
    clusters = np.repeat(np.arange(2 * SIZES.size), np.r_[SIZES, SIZES])
    effect = rng.normal(0, np.sqrt(icc), 2 * SIZES.size)[clusters]
    variant_better = effect + rng.normal(0, np.sqrt(1 - icc), clusters.size) > 0
    differs = rng.random(clusters.size) < discordant
    reference = np.where(differs, ~variant_better, rng.random(clusters.size) < 0.8)
    variant = np.where(differs, variant_better, reference)
    return variant, reference, clusters


def type_one_error(rng, icc: float, sets: int) -> dict[str, float]:
    rejected = {"McNemar (images)": 0, "Durkalski (patients)": 0, "as the benchmark runs it": 0}
    for _ in range(sets):
        variant, reference, clusters = null_pairs(rng, icc)
        p_images = mcnemar_test(variant, reference).p_value
        p_durkalski = clustered_mcnemar(variant, reference, clusters).p_value
        rejected["McNemar (images)"] += p_images <= 0.05
        rejected["Durkalski (patients)"] += bool(p_durkalski <= 0.05)
        # the benchmark: McNemar's own test when no patient holds two discordant images
        single = max_discordant_per_cluster(variant, reference, clusters) <= 1
        rejected["as the benchmark runs it"] += bool((p_images if single else p_durkalski) <= 0.05)
    return {name: count / sets for name, count in rejected.items()}


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
    print(f"\n{'icc':>5}  {'test':30s} {'type I error at 0.05':>20}")
    for icc in args.icc:
        for name, rate in type_one_error(rng, icc, args.sets).items():
            print(f"{icc:5.2f}  {name:30s} {rate:20.3f}")


if __name__ == "__main__":
    main()
