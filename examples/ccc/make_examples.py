"""Regenerate the example data of `slapolicy demo` (fixed seed): python examples/ccc/make_examples.py

March 2019, Asia/Singapore local time, three accounts:

* acme    — the §2.1 example: 30 minutes at 98 % (Mar 12 10:00–10:29); a maintenance
            announced on Mar 1 (Mar 20 12:00–12:19, excluded by §5.12); a major event
            announced only after it began (Mar 21 15:00–15:09, counts against the
            provider); illegal-number failures (§5.10) on Mar 5. Standard met.
* globex  — its own network fails (incident I-2, Mar 8 14:00–14:44, §5.1); a burst of
            7 QPS without prior notice (Mar 15 16:00–16:07, §5.7); a provider outage
            (Mar 22 09:00–12:59, 240 minutes at 90 %). 99.46 %: below the standard, 10 %.
* initech — a provider outage of two whole days (Mar 25–26, 2880 minutes): 93.55 %,
            50 % of a 1000.00 fee, capped at the 400.00 paid after 600.00 of vouchers.
"""
import csv
import datetime as dt
import random
from pathlib import Path

HERE = Path(__file__).parent
rng = random.Random(20190301)


def minutes_of_day(day, start_hour=9, end_hour=18):
    for minute in range(start_hour * 60, end_hour * 60):
        yield dt.datetime(2019, 3, day, minute // 60, minute % 60)


def business_hours():
    for day in range(1, 32):
        if dt.date(2019, 3, day).weekday() < 5:
            yield from minutes_of_day(day)


def within(stamp, day, start, end):
    """Is stamp on March `day` between `start` and `end` (HH:MM, end exclusive)?"""
    begin = dt.datetime.combine(dt.date(2019, 3, day), dt.time.fromisoformat(start))
    finish = dt.datetime.combine(dt.date(2019, 3, day), dt.time.fromisoformat(end))
    return begin <= stamp < finish


rows = []


def add(account, stamp, requests, failures, illegal=0, peak=None):
    rows.append({"account": account, "minute": stamp.strftime("%Y-%m-%dT%H:%M"), "requests": requests,
                 "failures": failures, "illegal_number_failures": illegal, "peak_qps": "" if peak is None else peak})


for stamp in business_hours():
    requests = rng.randint(20, 60)
    # acme
    if within(stamp, 12, "10:00", "10:30"):
        add("acme", stamp, 100, 2)                      # §2.1: 98 % success
    elif within(stamp, 20, "12:00", "12:20"):
        add("acme", stamp, requests, requests // 2)     # notified maintenance
    elif within(stamp, 21, "15:00", "15:10"):
        add("acme", stamp, requests, requests // 3)     # major event announced too late
    elif within(stamp, 5, "11:00", "11:05"):
        add("acme", stamp, 100, 5, illegal=4)           # 1 failure of 96 normal requests: unavailable
    elif within(stamp, 5, "11:05", "11:10"):
        add("acme", stamp, 100, 3, illegal=3)           # all failures illegal-number: available
    else:
        add("acme", stamp, requests, 1 if rng.random() < 0.05 and requests >= 100 else 0)
    # globex
    requests = rng.randint(20, 60)
    if within(stamp, 8, "14:00", "14:45"):
        add("globex", stamp, requests, requests * 3 // 10)  # customer network
    elif within(stamp, 15, "16:00", "16:08"):
        add("globex", stamp, 420, 42, peak="7.2")            # burst without prior notice
    elif within(stamp, 22, "09:00", "13:00"):
        add("globex", stamp, requests, requests // 10)       # provider outage
    else:
        add("globex", stamp, requests, 0)

# initech: a contact center open around the clock on the days of its outage.
for day in (25, 26):
    for stamp in minutes_of_day(day, 0, 24):
        requests = rng.randint(10, 40)
        add("initech", stamp, requests, requests // 4)
for stamp in business_hours():
    if stamp.day not in (25, 26):
        add("initech", stamp, rng.randint(20, 60), 0)

rows.sort(key=lambda r: (r["account"], r["minute"]))
with open(HERE / "minutes.csv", "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)

(HERE / "incidents.yaml").write_text("""\
# Incidents of March 2019. A window is [start, end); times without an offset are
# Asia/Singapore, the policy's timezone. No account means every account.
- id: I-1
  start: 2019-03-12T10:00:00+08:00
  end: 2019-03-12T10:30:00+08:00
  cause: provider
  account: acme
  description: Call routing degraded (the §2.1 example)
- id: I-2
  start: 2019-03-08T14:00
  end: 2019-03-08T14:45
  cause: customer_network
  account: globex
  description: Customer's SIP trunk down
- id: I-3
  start: 2019-03-22T09:00
  end: 2019-03-22T13:00
  cause: provider
  account: globex
  description: Media server cluster failure
- id: I-4
  start: 2019-03-25T00:00
  end: 2019-03-27T00:00
  cause: provider
  account: initech
  description: Regional outage
""")

(HERE / "notices.yaml").write_text("""\
# Notices of March 2019: maintenance and major events from the provider (§5.11, §5.12),
# high-concurrency notices from customers (§5.7). Excluded only when published before
# the window begins.
- id: N-1
  kind: maintenance
  published_at: 2019-03-01T09:00
  start: 2019-03-20T12:00
  end: 2019-03-20T12:20
  description: Database upgrade, announced three weeks ahead
- id: N-2
  kind: major_event
  published_at: 2019-03-21T15:05
  start: 2019-03-21T15:00
  end: 2019-03-21T15:10
  description: Promotion traffic, announced after it began
- id: N-3
  kind: high_concurrency
  published_at: 2019-03-10T09:00
  start: 2019-03-18T09:00
  end: 2019-03-18T10:00
  account: globex
  description: globex's campaign, announced in advance (covers no unavailable minute)
""")

with open(HERE / "billing.csv", "w", newline="") as handle:
    handle.write("account,month,monthly_fee,offset\n")
    handle.write("acme,2019-03,2500.00,0.00\n")
    handle.write("globex,2019-03,1800.00,150.00\n")
    handle.write("initech,2019-03,1000.00,600.00\n")
