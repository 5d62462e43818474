"""The test suite, one folder per area (what a file tests decides its folder, not which command runs it):

kernel/        cxr_kernel, the bottom floor (errors, atomic writes, registries, native stderr)
data/          images, manifests, datasets and subsets, bad images, bit depths, screening, leakage, phantoms
degradations/  degradation scenarios, their primitives, property tests through them
metrics/       image-quality and classification metrics, LPIPS, the metric registries
stats/         benchmark.stats: analysis tables, intervals, paired tests, power, agreement (seeds and panels)
sr_models/     SR architectures, weights, inference, losses, training, fine-tuning, shipping
classifiers/   classifier types and backends, training, resume, Grad-CAM, shipping
pipeline/      the run: stages, cache, executors, run directory, pinning, refusals, hostile files, faults
studies/       whole studies through the CLI on tiny or shipped suites (end to end, seeds, panels)
regression/    the regression check, its keys, tolerances and instruction-set runs
reports/       report.html and the tables rendered from a run directory, in and out of a browser
cli/           the command line and suite config files
perf/          `perf` and `gpu-study`

Fixtures a folder shares live in its conftest.py; helpers that are not fixtures in tests/support/.
"""
