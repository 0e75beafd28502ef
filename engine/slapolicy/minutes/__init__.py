"""The one way minutes are read, for ``evaluate``, ``claim`` and ``replay``: plan, read, check, reduce, merge.

1. **Plan** (``planning``, from metadata only): the input -- a file (CSV, JSON Lines, Parquet), a
   directory of Parquet files, or a hive-partitioned directory (``month=2024-03/``, ``account=acme/``) --
   becomes a list of :class:`Part` s; directories and row groups outside the request are never opened.
2. **Read** each part (``readers``: Parquet row groups, CSV and JSON Lines blocks), one batch at a time,
   so memory is bounded by a batch, never by the input; it runs in a thread, a local process or a Dask
   worker.
3. **Check** every row with the one set of row checks (:func:`slapolicy.inputs.tables.check_minute_table`);
   problems name the file, its row and line.
4. **Reduce** (``reduce``: :func:`read_part`) to what an evaluation needs: per account and Service Month
   the counts and the few rows that may be unavailable under any of the versions asked about.
5. **Merge** (``aggregates``: :func:`merge`, and :func:`read_minutes`, the whole path) the parts'
   summaries per account and Service Month.

``storage`` opens minutes named by a URL; ``readers.read_digest`` names the bytes a reading depended on.
"""
from .aggregates import AccountMonth, MinuteAggregates, map_parts, merge, read_minutes
from .planning import Part, Request, plan, request_for
from .readers import READ_DIGEST, read_digest
from .reduce import PartSummary, read_part

__all__ = ["READ_DIGEST", "AccountMonth", "MinuteAggregates", "Part", "PartSummary", "Request", "map_parts", "merge",
           "plan", "read_digest", "read_minutes", "read_part", "request_for"]
