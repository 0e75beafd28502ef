"""``minute.concurrency_qps`` for §5.7: the minute's peak QPS, or the policy's fallback.

When the data has no ``peak_qps`` for a minute and the policy's
``exclusions.concurrency_fallback`` is ``requests_per_60``, concurrency is all requests
sent in the minute (illegal-number ones included) divided by 60; the trace says so.
"""
from slapolicy.hookspecs import MinuteFact, hookimpl


@hookimpl
def slapolicy_minute_facts(policy, context, minutes):
    import numpy as np  # loaded by then (the minutes are arrays); not at registration: show, diff, test never need it

    peak = minutes.peak_qps
    missing = np.isnan(peak)
    without = int(np.count_nonzero(missing))  # called for every account: one count, not any() then sum()
    if not without:
        return {"minute.concurrency_qps": MinuteFact(peak, "concurrency from peak_qps")}
    if policy.setting("exclusions", "concurrency_fallback") != "requests_per_60":
        return {"minute.concurrency_qps": MinuteFact(np.where(missing, 0.0, peak),
                                                     f"no peak_qps for {without} minute(s): concurrency 0")}
    fallback = minutes.requests / 60.0
    values = fallback if without == len(peak) else np.where(missing, fallback, peak)
    note = f"no peak_qps for {without} minute(s): concurrency = requests / 60 (fallback)"
    return {"minute.concurrency_qps": MinuteFact(values, note)}


@hookimpl
def slapolicy_supplied_facts():
    return ("minute.concurrency_qps",)
