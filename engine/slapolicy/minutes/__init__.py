"""The one way minutes are read, by ``evaluate``, ``claim`` and ``replay``: plan the work as parts (files of
a dataset, row groups), read each part's columns in batches, check its rows, reduce it to per-account-month
aggregates and candidate rows, and merge the parts' summaries (``reduce``); ``storage`` opens minutes named
by a URL."""
from .reduce import (READ_DIGEST, AccountMonth, MinuteAggregates, Part, PartSummary, Request, map_parts, merge, plan,
                     read_digest, read_minutes, read_part, request_for)

__all__ = ["READ_DIGEST", "AccountMonth", "MinuteAggregates", "Part", "PartSummary", "Request", "map_parts", "merge",
           "plan", "read_digest", "read_minutes", "read_part", "request_for"]
