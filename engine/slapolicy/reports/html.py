"""The replay report as one self-contained HTML file, for analysts. No external assets, no network.

Totals and a per-month chart; the total change broken down by the clause that caused it; the
accounts with the largest changes first; then every account-month in a table that sorts and
filters in the page (a few lines of inline script), showing the rows that changed first. Minute
strips are drawn only where they help — for rows that changed — with a day scale and, on
hover, the dates and times of each run of minutes.
"""
from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from zoneinfo import ZoneInfo

from ..policy.diff import change_line
from .text import baseline_versions, one_line, replay_availability, without_billing_note

COLOURS = {"available": "#cfe8cf", "unavailable": "#d9534f", "excluded": "#f0ad4e"}
TOP_ACCOUNTS = 10
STRIP_WIDTH = 720

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 76rem; color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; } th, td { padding: .3rem .5rem; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th[data-sort] { cursor: pointer; user-select: none; } th[data-sort]:hover { background: #f0f0f0; }
th.sorted-asc::after { content: " ▲"; } th.sorted-desc::after { content: " ▼"; }
.changed { background: #fff8e1; } .legend span { display: inline-block; width: .9rem; height: .9rem; margin: 0 .3rem 0 1rem; vertical-align: middle; }
.summary { display: flex; gap: 2rem; flex-wrap: wrap; } .summary div { background: #f5f5f5; padding: .8rem 1rem; border-radius: 6px; }
.summary b { display: block; font-size: 1.3rem; } small { color: #666; }
.controls { display: flex; gap: 1.5rem; align-items: center; margin: .6rem 0; }
.controls input[type=search] { width: 22rem; padding: .3rem .5rem; }
.bar { display: inline-block; height: .7rem; background: #e8743b; vertical-align: middle; margin-right: .4rem; }
.chart { overflow-x: auto; } .bar.neg { background: #5b8def; } tr.strip td { border-bottom: 1px solid #ddd; padding-top: 0; }
"""

SCRIPT = """
(function () {
  var table = document.getElementById('rows'), body = table.tBodies[0];
  var filter = document.getElementById('filter'), onlyChanged = document.getElementById('only-changed');
  var shown = document.getElementById('shown');
  function groups() {  // each data row with the strip row that follows it
    var out = [], rows = body.rows;
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].classList.contains('strip')) { out[out.length - 1].push(rows[i]); } else { out.push([rows[i]]); }
    }
    return out;
  }
  function apply() {
    var words = filter.value.toLowerCase().split(/\\s+/).filter(Boolean), count = 0;
    groups().forEach(function (g) {
      var text = g[0].textContent.toLowerCase();
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; }) &&
               (!onlyChanged.checked || g[0].classList.contains('changed'));
      g.forEach(function (r) { r.hidden = !ok; });
      if (ok) { count++; }
    });
    shown.textContent = count;
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
    if (!th.dataset.sort) { return; }
    th.addEventListener('click', function () {
      var descending = !th.classList.contains('sorted-desc');
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.classList.remove('sorted-asc', 'sorted-desc'); });
      th.classList.add(descending ? 'sorted-desc' : 'sorted-asc');
      var numeric = th.dataset.sort === 'number';
      var sorted = groups().sort(function (a, b) {
        var x = a[0].cells[column].dataset.value || a[0].cells[column].textContent;
        var y = b[0].cells[column].dataset.value || b[0].cells[column].textContent;
        var order = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
        return descending ? -order : order;
      });
      sorted.forEach(function (g) { g.forEach(function (r) { body.appendChild(r); }); });
    });
  });
  filter.addEventListener('input', apply);
  onlyChanged.addEventListener('change', apply);
  apply();
})();
"""


def _e(text) -> str:
    """A value as the page shows it: escaped for HTML, and, as in the text report, a character that is not
    printable (a bidirectional override, a terminal's escape, a line end) written as its escape: an account named
    'ac\u202eme' reversed the text after it in the page."""
    return html.escape(one_line("" if text is None else str(text)), quote=True)


def _money(value) -> Decimal:
    return Decimal(value) if value not in (None, "") else Decimal(0)


def _chart(result: dict) -> str:
    """Grouped bars: compensation per month, baseline vs amended (inline SVG)."""
    months = result["months"]
    per_month = result["totals"]["per_month"]
    values = [(Decimal(per_month[m]["baseline_compensation"]), Decimal(per_month[m]["amended_compensation"])) for m in months]
    top = max([max(b, a) for b, a in values] + [Decimal(1)])
    width, height, left, bottom = max(360, 70 * len(months) + 80), 220, 70, 40
    group = (width - left - 10) / max(len(months), 1)
    bar = group * 0.35
    parts = [f'<svg role="img" aria-label="Compensation per month, baseline and amended" width="{width}" height="{height + bottom}" '
             f'viewBox="0 0 {width} {height + bottom}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{left}" y1="{height}" x2="{width - 10}" y2="{height}" stroke="#999"/>',
             f'<text x="{left - 6}" y="14" font-size="11" text-anchor="end">{_e(top)}</text>',
             f'<text x="{left - 6}" y="{height}" font-size="11" text-anchor="end">0</text>']
    for i, (month, (baseline, amended)) in enumerate(zip(months, values)):
        x = left + i * group + group * 0.1
        unbilled = per_month[month].get("without_billing", 0)
        note = f" ({without_billing_note(per_month[month])})" if unbilled else ""
        for j, (value, colour, label) in enumerate(((baseline, "#5b8def", "baseline"), (amended, "#e8743b", "amended"))):
            h = float(value / top) * (height - 20)
            parts.append(f'<rect x="{x + j * bar:.1f}" y="{height - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{_e(month)} {label}: {_e(value)}{_e(note)}</title></rect>')
        parts.append(f'<text x="{x + bar:.1f}" y="{height + 18}" font-size="11" text-anchor="middle">{_e(month)}</text>')
        if unbilled:  # a bar of 0.00 there is no fee known, not nothing owed: said under the month, the count on hover
            parts.append(f'<text x="{x + bar:.1f}" y="{height + 32}" font-size="9" fill="#a94442" text-anchor="middle">'
                         f'<title>{_e(without_billing_note(per_month[month]))}</title>no billing: {unbilled}</text>')
    parts.append("</svg>")
    # A chart wider than the page (a replay of years: 70 px a month) scrolls in its own box, not the page.
    return f'<div class="chart">{"".join(parts)}</div>'


def _baselines(result: dict) -> str:
    runs = baseline_versions(result)
    if not runs:
        return ""
    words = ", ".join(f"<b>{_e(version)}</b> ({_e(first)}{'' if first == last else ' to ' + _e(last)})"
                      for version, first, last in runs)
    return f"<p>Baseline version{'s' if len(runs) > 1 else ''} in force: {words}.</p>"


def _why(row: dict) -> str:
    return "; ".join(f"{c['ref'] or ''} {change_line(c)}".strip() for c in row["clauses_changed"])


def by_clause(rows: list) -> list[tuple[str, int, Decimal]]:
    """The total change split by what caused it: (the change, account-months, sum of their differences),
    largest first. A row citing two changes is counted under both together, never twice."""
    found: dict[str, list] = {}
    for row in rows:
        if not row["clauses_changed"]:
            continue
        entry = found.setdefault(_why(row), [0, Decimal("0.00")])
        entry[0] += 1
        entry[1] += _money(row["delta"]["compensation"])
    return sorted(((why, n, total) for why, (n, total) in found.items()), key=lambda item: (-abs(item[2]), item[0]))


def by_account(rows: list) -> list[tuple[str, int, Decimal]]:
    """(account, changed months, total difference) for the accounts whose compensation changed, largest first."""
    found: dict[str, list] = {}
    for row in rows:
        delta = _money(row["delta"]["compensation"])
        if row["clauses_changed"] or delta:
            entry = found.setdefault(row["account"], [0, Decimal("0.00")])
            entry[0] += 1
            entry[1] += delta
    return sorted(((a, n, total) for a, (n, total) in found.items()), key=lambda item: (-abs(item[2]), item[0]))


def _bars(items: list, label: str) -> str:
    top = max([abs(total) for _, _, total in items] + [Decimal(1)])
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td class=num>{n}</td><td class=num>"
        f'<span class="bar{" neg" if total < 0 else ""}" style="width:{float(abs(total) / top) * 8:.2f}rem"></span>{_e(total)}</td></tr>'
        for name, n, total in items)
    return (f"<table><thead><tr><th>{label}</th><th class=num>account-months</th><th class=num>difference</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _clock(month_start: dt.datetime, offset: int) -> str:
    """The wall time ``offset`` minutes after the Service Month's first minute (``month_start``: aware, in the
    policy's timezone): counted in elapsed minutes, as the strip's are, so that after a change of the clocks in the
    month (America/New_York's March) the hour shown is the one the clocks showed, not an hour off."""
    moment = (month_start.astimezone(dt.timezone.utc) + dt.timedelta(minutes=offset)).astimezone(month_start.tzinfo)
    return moment.strftime("%Y-%m-%d %H:%M")


def _span(month_start: dt.datetime, first: int, end: int) -> str:
    """A run of minutes as its hover says it: its end without its date when it ends on the day it starts
    ("2019-03-12 09:00 – 10:00"; the date was written twice, "2019-03-12 09:00 – 2019-03-12 10:00")."""
    begins, ends = _clock(month_start, first), _clock(month_start, end)
    return f"{begins} – {ends[11:] if ends[:10] == begins[:10] else ends}"


def _elapsed(month_start: dt.datetime, day: int) -> int:
    """Minutes elapsed from the Service Month's first minute (``month_start``: aware, local midnight of the 1st) to
    local midnight ``day`` days later (an aware difference in one zone is a wall-clock one: taken in UTC)."""
    midnight = (month_start.replace(tzinfo=None) + dt.timedelta(days=day)).replace(tzinfo=month_start.tzinfo)
    return int((midnight.astimezone(dt.timezone.utc) - month_start.astimezone(dt.timezone.utc)).total_seconds()) // 60


def _midnights(month: str, timezone: str, days: int) -> tuple[dt.datetime, list[int]]:
    """The Service Month's first minute (aware, in ``timezone``) and its local midnights, in minutes elapsed since
    it: a day in which the clocks change is 1,380 or 1,500 of them (the strip's minutes are elapsed ones), so that
    after the change ticks and runs keep their day."""
    start = dt.datetime.fromisoformat(f"{month}-01T00:00").replace(tzinfo=ZoneInfo(timezone))
    return start, [_elapsed(start, day) for day in range(days + 1)]


def _day_scale(month: str, timezone: str, days: int) -> str:
    """The ticks at each day of a strip, numbered every 5 days: the same for every strip of a Service Month (in one
    timezone), so drawn once in the page and used by each (:func:`_day_scales`); drawn in each strip, they were
    half of the page (500 changed account-months: 1.2 of 2.3 MB)."""
    _, midnights = _midnights(month, timezone, days)
    scale = STRIP_WIDTH / midnights[-1]
    parts = []
    for day, midnight in enumerate(midnights):
        x = midnight * scale
        parts.append(f'<line x1="{x:.1f}" y1="12" x2="{x:.1f}" y2="{16 if day % 5 else 19}" stroke="#888"/>')
        if day % 5 == 0 and day < days:
            parts.append(f'<text x="{x:.1f}" y="28" font-size="9" fill="#555">{day + 1}</text>')
    return "".join(parts)


def _day_scales(scales: dict) -> str:
    """The day scales the page's strips use (``scales``: (month, timezone, days) -> id, as :func:`_strip` named
    them), defined once in an SVG that takes no room: each strip's ``<use>`` draws its month's."""
    if not scales:
        return ""
    defined = "".join(f'<g id="{name}">{_day_scale(*key)}</g>' for key, name in scales.items())
    return (f'<svg width="0" height="0" style="position:absolute" aria-hidden="true" '
            f'xmlns="http://www.w3.org/2000/svg"><defs>{defined}</defs></svg>')


def _strip(strip: dict, side: str, month: str, label: str, scales: dict) -> str:
    """One Service Month as a bar: each run of unavailable or excluded minutes drawn to scale, with its dates on
    hover; its day scale is the page's one for the month (``scales``, filled in: :func:`_day_scales`)."""
    days = strip["total_minutes"] // 1440
    start, midnights = _midnights(month, strip["timezone"], days)
    scale = STRIP_WIDTH / midnights[-1]
    name = scales.setdefault((month, strip["timezone"], days), f"days-{len(scales)}")
    parts = [f'<svg class="strip" width="{STRIP_WIDTH + 70}" height="30" viewBox="0 0 {STRIP_WIDTH + 70} 30" '
             f'xmlns="http://www.w3.org/2000/svg"><text x="0" y="11" font-size="10">{_e(label)}</text>'
             f'<g transform="translate(66,0)"><rect width="{STRIP_WIDTH}" height="12" fill="{COLOURS["available"]}">'
             f'<title>{_e(month)}: available unless marked</title></rect>']
    for kind in ("excluded", "unavailable"):
        runs = strip[side][kind]
        if not runs:
            continue
        parts.append(f'<g fill="{COLOURS[kind]}">')  # the colour once for the runs of a kind, not on each
        for first, end in runs:
            x, width = first * scale, max((end - first) * scale, 1.0)  # at least 1 px, so that one minute shows
            parts.append(f'<rect x="{x:.2f}" width="{width:.2f}" height="12"><title>{kind} '
                         f'{_e(_span(start, first, end))} ({end - first} min)</title></rect>')
        parts.append("</g>")
    parts.append(f'<use href="#{name}"/></g></svg>')
    return "".join(parts)


def _strips(row: dict, scales: dict) -> str:
    """Drawn only for rows that changed; once when both versions read the minutes alike, else one bar each."""
    strip = row.get("strip")
    if not strip or not row["clauses_changed"]:
        return ""
    if strip["baseline"] == strip["amended"]:
        return _strip(strip, "baseline", row["month"], "minutes", scales)
    return (_strip(strip, "baseline", row["month"], "baseline", scales) + "<br>" +
            _strip(strip, "amended", row["month"], "amended", scales))


def _row_html(row: dict, scales: dict) -> str:
    b, a = row["baseline"], row["amended"]
    changed = " class=\"changed\"" if row["clauses_changed"] else ""
    delta = row["delta"]["compensation"]
    cells = (f"<td>{_e(row['account'])}</td><td>{_e(row['month'])}</td>"
             f"<td class=num data-value=\"{_e(b['availability_percent'])}\">{_e(replay_availability(row))}</td>"
             f"<td class=num data-value=\"{_e(b['compensation'] or 0)}\">{_e(b['credit_percent'])}% / {_e(b['compensation'] or '—')}</td>"
             f"<td class=num data-value=\"{_e(a['compensation'] or 0)}\">{_e(a['credit_percent'])}% / {_e(a['compensation'] or '—')}</td>"
             f"<td class=num data-value=\"{_e(delta or 0)}\">{_e(delta or '—')}</td><td>{_e(_why(row))}</td>")
    strips = _strips(row, scales)
    return f"<tr{changed}>{cells}</tr>" + (f'<tr class="strip{" changed" if changed else ""}"><td></td><td colspan=6>{strips}</td></tr>'
                                           if strips else "")


def _largest_first(rows: list) -> list:
    return sorted(rows, key=lambda r: (-abs(_money(r["delta"]["compensation"])), not r["clauses_changed"], r["account"], r["month"]))


def render_html(result: dict) -> str:
    overall = result["totals"]["overall"]
    under = result["under"]
    rows = result["rows"]
    legend = "".join(f'<span style="background:{c}"></span>{k}' for k, c in COLOURS.items())
    causes = by_clause(rows)
    accounts = by_account(rows)[:TOP_ACCOUNTS]
    scales: dict = {}  # the strips' day scales, each drawn once (_day_scales)
    table = "".join(_row_html(row, scales) for row in _largest_first(rows))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Replay under {_e(under['version'])}</title>
<style>{STYLE}</style></head><body>
<h1>What would have been owed under {_e(under['version'])}?</h1>
<p>Every account and Service Month from {_e(result['months'][0])} to {_e(result['months'][-1])}, evaluated under the version
in force at the time (baseline) and under <code>{_e(under['file'])}</code> (amended, sha256 {_e(under['sha256'][:16])}…).</p>
{_baselines(result)}
{f"<p><b>{_e(result['not_replayed_note'])}</b></p>" if "not_replayed_note" in result else ""}
{f"<p><b>{_e(result['nothing_to_replay'])}</b></p>" if "nothing_to_replay" in result else ""}
<div class="summary">
<div>account-months<b>{overall['account_months']}</b></div>
<div>changed<b>{overall['changed']}</b></div>
<div>baseline compensation<b>{_e(overall['baseline_compensation'])}</b></div>
<div>amended compensation<b>{_e(overall['amended_compensation'])}</b></div>
<div>difference<b>{_e(overall['delta'])}</b></div>
</div>
{f"<p>{_e(without_billing_note(overall))}.</p>" if overall.get("without_billing") else ""}
<h2>Compensation per month</h2>
<p class="legend"><span style="background:#5b8def"></span>baseline<span style="background:#e8743b"></span>amended</p>
{_chart(result)}
<h2>Where the difference comes from</h2>
<p><small>Each changed account-month counted under the change(s) of the policy that moved its money.</small></p>
{_bars(causes, "change of the policy") if causes else "<p>No account-month changed.</p>"}
<h2>Accounts with the largest changes</h2>
{_bars(accounts, "account") if accounts else "<p>No account's compensation changed.</p>"}
<h2>Accounts and months</h2>
<div class="controls"><label>filter <input id="filter" type="search" placeholder="account, month, clause…"></label>
<label><input id="only-changed" type="checkbox" checked> only the rows that changed</label>
<small><span id="shown">{overall['changed']}</span> of {len(rows)} shown; click a heading to sort</small></div>
<p class="legend">minutes: {legend} <small>(strips for the rows that changed; hover for dates and times)</small></p>
<table id="rows"><thead><tr><th data-sort="text">account</th><th data-sort="text">month</th>
<th class=num data-sort="number">availability</th><th class=num data-sort="number">baseline</th>
<th class=num data-sort="number">amended</th><th class=num data-sort="number">difference</th><th data-sort="text">why</th></tr></thead>
<tbody>{table}</tbody></table>
{_day_scales(scales)}
<script>{SCRIPT}</script>
</body></html>
"""
