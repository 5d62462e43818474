"""Reports: turn a run directory into a self-contained HTML page and paper-ready tables.

Reports only read what the run stored (summary.json, parquet files, examples, histories); they never
compute a statistic.
"""

from cxr_kernel.run_files import RunFileInvalid, RunFileMissing
from reports.exports import write_tables
from reports.render import render_report

__all__ = ["RunFileInvalid", "RunFileMissing", "render_report", "render_run", "write_tables"]


def render_run(run_dir):
    """Write a finished run's tables and its HTML report; returns the report's path.

    Called by the CLI after ``benchmark.pipeline.study.run_suite`` (the pipeline, a floor below, never
    imports reports).
    """
    write_tables(run_dir)
    return render_report(run_dir)
