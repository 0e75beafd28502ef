"""The rows of a batch inside the provider incidents that concern their account, for the warning about an
incident over minutes without normal requests (§1.4): for one Service Month counted per account and incident
(:func:`traffic_inside`), for several kept beside the candidates. An incident of one account concerns that
account's rows only (:func:`rows_inside_own`): the incidents of 500 accounts together cover nearly the whole
month, and keeping every account's rows inside any of them kept almost every row."""
from __future__ import annotations

import numpy as np


def rows_inside_own(accounts: np.ndarray, code: np.ndarray, minute: np.ndarray, own: dict, order: str | None,
                    starts, span: tuple) -> np.ndarray:
    """The positions, increasing, of the rows whose minute lies inside one of their own account's windows.

    ``accounts``: the batch's (sorted) names; ``code``, ``minute``: the rows' account codes and minutes, in the
    batch's ``order`` ("account": each account's run begins at ``starts``; "minute"; None: no order); ``own``:
    account -> sorted, disjoint [start, end) windows; ``span``: the rows' first and last minute."""
    low, high = span
    windows = {}
    for k, name in enumerate(accounts.tolist()):
        found = own.get(str(name))
        if found:
            inside = [(a, b) for a, b in found if a <= high and b > low]
            if inside:
                windows[k] = inside
    if not windows:
        return np.zeros(0, np.int64)
    if order == "account":  # a few binary searches per run of an account with windows
        ends = np.append(starts[1:], len(minute))
        return _joined([np.arange(*(a + np.searchsorted(minute[a:b], window)))
                        for a, b, k in zip(starts.tolist(), ends.tolist(), code[starts].tolist())
                        for window in windows.get(k, ())])
    # Otherwise the rows of the accounts with windows (a batch written as time goes holds every account, few of
    # them with an incident in its minutes), each looked up: a key of (account, minute) among the windows' keys.
    wanted = np.zeros(len(accounts), bool)
    wanted[list(windows)] = True
    rows = np.flatnonzero(wanted[code])
    width = high - low + 2  # a window's minutes are clipped to [low, high + 1]: keys of two accounts never meet
    first, last = [], []
    for k in sorted(windows):
        for a, b in windows[k]:
            first.append(k * width + max(a, low) - low)
            last.append(k * width + min(b, high + 1) - low)
    first, last = np.array(first, np.int64), np.array(last, np.int64)
    key = code[rows].astype(np.int64) * width + (minute[rows] - low)
    at = np.searchsorted(first, key, side="right") - 1
    return rows[(at >= 0) & (key < last[np.maximum(at, 0)])]


def _joined(pieces: list) -> np.ndarray:
    return np.concatenate(pieces).astype(np.int64, copy=False) if pieces else np.zeros(0, np.int64)


def traffic_inside(accounts: np.ndarray, code: np.ndarray, minute: np.ndarray, requests: np.ndarray,
                   illegal: np.ndarray, inside: np.ndarray, windows: tuple, span: tuple):
    """Per account of the batch and provider incident window (``Request.incident_windows``) over its minutes:
    the minutes with requests, and with normal requests (§5.10 failures removed), among the rows at ``inside``
    (every row of an account inside its incidents' windows). None when no window meets the batch.

    A row's key is (account code, minute) as one integer; the keys of the rows with requests, sorted, are
    searched for each window's ends: two binary searches per window and account, whatever it covers."""
    low, high = span
    # Each window once per account: an account's own incident over the minutes of an every-account one (or two
    # incidents over the same minutes) is one window, whose rows counted twice made the minutes with requests twice
    # as many, summed over batches as if they were other rows (the warning said "covers -1 of its 1 minute(s)").
    common = list(dict.fromkeys((lo, hi) for account, lo, hi in windows if not account and lo <= high and hi > low))
    shared = set(common)
    own: dict = {}
    for account, lo, hi in windows:
        if account and lo <= high and hi > low and (lo, hi) not in shared:
            own.setdefault(account, {})[(lo, hi)] = None
    pairs = [(k, lo, hi) for k, name in enumerate(accounts.tolist()) for lo, hi in [*common, *own.get(str(name), ())]]
    if not pairs:
        return None
    k, lo, hi = (np.array(column, np.int64) for column in zip(*pairs))
    width = high - low + 2  # a window's ends are clipped to [low, high + 1]: keys of two accounts never meet
    first = k * width + np.clip(lo, low, high + 1) - low
    last = k * width + np.clip(hi, low, high + 1) - low
    key = code[inside].astype(np.int64) * width + (minute[inside] - low)
    counts = []
    for traffic in (requests[inside] > 0, requests[inside] - illegal[inside] > 0):
        keys = key[traffic]
        if len(keys) > 1 and not (keys[1:] >= keys[:-1]).all():
            keys = np.sort(keys)
        counts.append(np.searchsorted(keys, last) - np.searchsorted(keys, first))
    found = np.flatnonzero(counts[0])  # a window without rows with requests counts 0: nothing to say
    return accounts[k[found]], lo[found], hi[found], counts[0][found], counts[1][found]
