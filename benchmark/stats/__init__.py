"""Statistics over per-image results: intervals, paired tests, diagnosis flips and the summary tables.

``benchmark.stats.analysis.analyze`` is the one entry point the pipeline calls; the other modules are
pure functions it is built from.
"""
