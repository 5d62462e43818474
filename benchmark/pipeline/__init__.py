"""The pipeline: suites, data, caches, stages, executors, the run store and the regression check.

Built on the libraries (``benchmark.*`` outside this folder, ``sr_models``, ``classifiers``); the
commands and the reports build on it."""
