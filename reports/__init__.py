"""Reports: turn a run directory into a self-contained HTML page and paper-ready tables.

Reports only read what the run stored (summary.json, parquet files, examples, histories); they never
compute a statistic.
"""

from reports.exports import write_tables
from reports.render import render_report
from reports.rundir import RunFileInvalid, RunFileMissing

__all__ = ["RunFileInvalid", "RunFileMissing", "render_report", "write_tables"]
