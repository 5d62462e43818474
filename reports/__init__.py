"""Reports: turn a run directory into a self-contained HTML page and paper-ready tables.

Reports only read what the run stored (summary.json, parquet files, examples, histories); they never
compute a statistic.
"""

from reports.render import render_report
from reports.rundir import RunFileInvalid, RunFileMissing
from reports.tables import write_tables

__all__ = ["RunFileInvalid", "RunFileMissing", "render_report", "write_tables"]
