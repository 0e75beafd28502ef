"""The replay report as one self-contained HTML file: summary, chart, table, minute strips. No external assets."""
from __future__ import annotations

import html
from decimal import Decimal

from .diff import change_line

COLOURS = {"available": "#cfe8cf", "unavailable": "#d9534f", "excluded": "#f0ad4e"}

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; } th, td { padding: .3rem .5rem; border-bottom: 1px solid #ddd; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.changed { background: #fff8e1; } .legend span { display: inline-block; width: .9rem; height: .9rem; margin: 0 .3rem 0 1rem; vertical-align: middle; }
.summary { display: flex; gap: 2rem; flex-wrap: wrap; } .summary div { background: #f5f5f5; padding: .8rem 1rem; border-radius: 6px; }
.summary b { display: block; font-size: 1.3rem; } small { color: #666; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _chart(result: dict) -> str:
    """Grouped bars: compensation per month, baseline vs amended (inline SVG)."""
    months = result["months"]
    per_month = result["totals"]["per_month"]
    values = [(Decimal(per_month[m]["baseline_compensation"]), Decimal(per_month[m]["amended_compensation"])) for m in months]
    top = max([max(b, a) for b, a in values] + [Decimal(1)])
    width, height, left, bottom = max(360, 70 * len(months) + 80), 220, 70, 30
    group = (width - left - 10) / max(len(months), 1)
    bar = group * 0.35
    parts = [f'<svg role="img" aria-label="Compensation per month, baseline and amended" width="{width}" height="{height + bottom}" '
             f'viewBox="0 0 {width} {height + bottom}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{left}" y1="{height}" x2="{width - 10}" y2="{height}" stroke="#999"/>',
             f'<text x="{left - 6}" y="14" font-size="11" text-anchor="end">{_e(top)}</text>',
             f'<text x="{left - 6}" y="{height}" font-size="11" text-anchor="end">0</text>']
    for i, (month, (baseline, amended)) in enumerate(zip(months, values)):
        x = left + i * group + group * 0.1
        for j, (value, colour, label) in enumerate(((baseline, "#5b8def", "baseline"), (amended, "#e8743b", "amended"))):
            h = float(value / top) * (height - 20)
            parts.append(f'<rect x="{x + j * bar:.1f}" y="{height - h:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{_e(month)} {label}: {_e(value)}</title></rect>')
        parts.append(f'<text x="{x + bar:.1f}" y="{height + 18}" font-size="11" text-anchor="middle">{_e(month)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _strip(strip: dict, side: str) -> str:
    total = strip["total_minutes"]
    width, height = 600, 10
    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {total} 1" preserveAspectRatio="none" '
             f'xmlns="http://www.w3.org/2000/svg"><rect width="{total}" height="1" fill="{COLOURS["available"]}"/>']
    for kind in ("excluded", "unavailable"):
        for start, end in strip[side][kind]:
            # at least ~1 px wide so that a single minute shows
            parts.append(f'<rect x="{start}" width="{max(end - start, total / width)}" height="1" fill="{COLOURS[kind]}"/>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(result: dict) -> str:
    overall = result["totals"]["overall"]
    under = result["under"]
    rows_html = []
    for row in result["rows"]:
        changed = " class=\"changed\"" if row["clauses_changed"] else ""
        why = "; ".join(f"{c['ref'] or ''} {change_line(c)}".strip() for c in row["clauses_changed"])
        strips = ""
        if "strip" in row:
            strips = (f'<div><small>baseline</small><br>{_strip(row["strip"], "baseline")}</div>'
                      f'<div><small>amended</small><br>{_strip(row["strip"], "amended")}</div>')
        b, a = row["baseline"], row["amended"]
        rows_html.append(
            f"<tr{changed}><td>{_e(row['account'])}</td><td>{_e(row['month'])}</td>"
            f"<td class=num>{_e(b['availability_percent'])}%</td>"
            f"<td class=num>{_e(b['credit_percent'])}% / {_e(b['compensation'] or '—')}</td>"
            f"<td class=num>{_e(a['credit_percent'])}% / {_e(a['compensation'] or '—')}</td>"
            f"<td class=num>{_e(row['delta']['compensation'] or '—')}</td><td>{_e(why)}</td></tr>"
            + (f"<tr{changed}><td></td><td colspan=6>{strips}</td></tr>" if strips else ""))
    legend = "".join(f'<span style="background:{c}"></span>{k}' for k, c in COLOURS.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Replay under {_e(under['version'])}</title>
<style>{STYLE}</style></head><body>
<h1>What would have been owed under {_e(under['version'])}?</h1>
<p>Every account and Service Month from {_e(result['months'][0])} to {_e(result['months'][-1])}, evaluated under the version
in force at the time (baseline) and under <code>{_e(under['file'])}</code> (amended, sha256 {_e(under['sha256'][:16])}…).</p>
<div class="summary">
<div>account-months<b>{overall['account_months']}</b></div>
<div>changed<b>{overall['changed']}</b></div>
<div>baseline compensation<b>{_e(overall['baseline_compensation'])}</b></div>
<div>amended compensation<b>{_e(overall['amended_compensation'])}</b></div>
<div>difference<b>{_e(overall['delta'])}</b></div>
</div>
<h2>Compensation per month</h2>
<p class="legend"><span style="background:#5b8def"></span>baseline<span style="background:#e8743b"></span>amended</p>
{_chart(result)}
<h2>Accounts and months</h2>
<p class="legend">minutes: {legend}</p>
<table><thead><tr><th>account</th><th>month</th><th class=num>availability</th><th class=num>baseline</th>
<th class=num>amended</th><th class=num>difference</th><th>why (clauses changed)</th></tr></thead>
<tbody>{''.join(rows_html)}</tbody></table>
</body></html>
"""
