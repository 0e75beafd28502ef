"""The replay report for analysts (engine/slapolicy/reports/html.py): the change by clause, the largest
accounts first, a table that sorts and filters in the page, strips only where they help."""
import re

import pytest

from conftest import DRAFT, POLICIES
from helpers import draft_variant, minute_rows, write_csv
from slapolicy.replay import replay
from slapolicy.reports.html import baseline_versions, by_account, by_clause, render_html

STANDARD = 'value: "99.5%"\n    met_when: at_least'


def _replay(tmp_path):
    """March 2019, fee 1000.00 each, under standard 99.9 % and tier [95, 99) at 30 % instead of 25 %.

    a: 60 unavailable minutes, 99.8656 %: now misses the standard: 0.00 → 100.00.
    b: 2,000 minutes, 95.5197 %: tier [95, 99): 250.00 → 300.00.
    c: 3,000 minutes, 93.2796 %: tier < 95 %, unchanged: 500.00 → 500.00.
    d: 100 minutes, 99.7760 %: now misses: 0.00 → 100.00."""
    rows = []
    for account, count in (("a", 60), ("b", 2000), ("c", 3000), ("d", 100)):
        rows += minute_rows(account, "2019-03-05T10:00", count, 100, 2)
    minutes = write_csv(tmp_path / "m.csv", rows)
    billing = write_csv(tmp_path / "b.csv", [{"account": x, "month": "2019-03", "monthly_fee": "1000.00", "offset": "0.00"}
                                             for x in "abcd"])
    under = draft_variant(tmp_path, STANDARD, 'value: "99.9%"\n    met_when: at_least')
    under.write_text(under.read_text().replace('{at_least: "95%", below: "99%", credit: "25%"',
                                               '{at_least: "95%", below: "99%", credit: "30%"'))
    return replay(POLICIES, minutes=minutes, billing=billing, start="2019-03", end="2019-03", under=under, strips=True)


def test_the_total_change_is_broken_down_by_the_change_that_caused_it(tmp_path):
    result = _replay(tmp_path)
    assert result["totals"]["overall"]["delta"] == "250.00"  # 100 + 50 + 0 + 100
    assert [(why, n, str(total)) for why, n, total in by_clause(result["rows"])] == [
        ("§2.2 ~ availability.standard: 99.5% → 99.9%", 2, "200.00"),
        ("§3.1 ~ compensation tier ≥ 95% and < 99%: credit 25% → credit 30%", 1, "50.00")]
    assert [(a, n, str(total)) for a, n, total in by_account(result["rows"])] == [
        ("a", 1, "100.00"), ("d", 1, "100.00"), ("b", 1, "50.00")]


@pytest.mark.slow
def test_the_table_lists_the_largest_changes_first_and_sorts_and_filters_in_the_page(tmp_path):
    page = render_html(_replay(tmp_path))
    body = page[page.index('<table id="rows">'):]
    accounts = re.findall(r"<tr(?: class=\"changed\")?><td>(\w)</td>", body)
    assert accounts == ["a", "d", "b", "c"]
    assert '<input id="filter" type="search"' in page and '<input id="only-changed" type="checkbox" checked>' in page
    assert page.count('<th class=num data-sort="number">') == 4 and "<script>" in page
    for external in ("http://", "https://", "src=", "<link", "@import"):
        assert external not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_strips_are_drawn_only_for_rows_that_changed_with_dates_on_hover_and_a_day_scale(tmp_path):
    page = render_html(_replay(tmp_path))
    # a, b and d changed; the amendment reads minutes alike, so each gets one strip; c did not change.
    assert page.count('<svg class="strip"') == 3
    # a's 60 minutes from 10:00 on 5 March 2019, in the policy's time zone.
    assert "<title>unavailable 2019-03-05 10:00 – 11:00 (60 min)</title>" in page  # its date once
    assert ">1</text>" in page and ">31</text>" in page  # days numbered every 5: 1, 6, ..., 31


# ---------------------------------------------------------------------------- hostile replays, read as a browser would

# Account names that close or open markup where they are written: a cell, a comment, a script, an SVG, an attribute.
MARKUP = ["<script>alert(1)</script>", "a\"b'c&amp;", "</td></tr></table>x", "<!-- y", "]]><svg onload=alert(2)>"]


def _family_of_versions(tmp_path):
    """The shipped version (standard 99.5 %) and two amendments of it, in force from February (99.9 %) and from
    March 2019 (99.95 %), published and locked."""
    import hashlib
    import json

    text = (POLICIES / "2019-01-01.yaml").read_text()
    family = tmp_path / "family"
    family.mkdir()
    lock = {}
    for effective, standard in (("2019-01-01", "99.5%"), ("2019-02-01", "99.9%"), ("2019-03-01", "99.95%")):
        version = family / f"{effective}.yaml"
        version.write_text(text.replace('effective_from: "2019-01-01"', f'effective_from: "{effective}"')
                           .replace('version: "2019-01-01"', f'version: "{effective}"')
                           .replace('value: "99.5%"', f'value: "{standard}"'))
        lock[version.name] = hashlib.sha256(version.read_bytes()).hexdigest()
    (family / "versions.lock").write_text(json.dumps(lock))
    return family


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """January to April 2019 under the shipped version, over the family above: each of MARKUP has 40 × (i + 1)
    minutes at 2 % failures on the 5th of February, March and April (99.91 % down to 99.55 % available), billing
    for March only, and January without data."""
    tmp_path = tmp_path_factory.mktemp("hostile")
    rows = []
    for i, account in enumerate(MARKUP):
        for month in ("2019-02", "2019-03", "2019-04"):
            rows += minute_rows(account, f"{month}-05T10:00", 40 * (i + 1), 100, 2)
    minutes = write_csv(tmp_path / "m.csv", rows)
    billing = write_csv(tmp_path / "b.csv", [{"account": a, "month": "2019-03", "monthly_fee": "1000.00",
                                               "offset": "0.00"} for a in MARKUP])
    return replay(_family_of_versions(tmp_path), minutes=minutes, billing=billing, start="2019-01", end="2019-04",
                  under=POLICIES / "2019-01-01.yaml", strips=True)


@pytest.mark.slow
def test_a_hostile_replay_s_page_is_html_without_a_parse_error_and_its_names_read_back_as_text(hostile):
    """A browser-less check: the WHATWG parser (html5lib, strict: any parse error raises) reads the page, and every
    account name comes back as the text of its cells, never as markup."""
    import html5lib

    page = render_html(hostile)
    tree = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page)
    rows = tree.find(".//table[@id='rows']/tbody")
    named = {"".join(tr[0].itertext()) for tr in rows if "strip" not in (tr.get("class") or "")}
    assert named == set(MARKUP)
    assert not [e for e in tree.iter() if e.tag == "script" and "alert" in "".join(e.itertext())]
    assert not [e for e in tree.iter() if any(name.startswith("on") for name in e.attrib)]


@pytest.mark.slow
def test_the_page_names_the_baseline_versions_month_by_month(hostile):
    result = hostile
    assert baseline_versions(result) == [("2019-02-01", "2019-02", "2019-02"), ("2019-03-01", "2019-03", "2019-04")]
    assert ("<p>Baseline versions in force: <b>2019-02-01</b> (2019-02), <b>2019-03-01</b> (2019-03 to 2019-04).</p>"
            in render_html(result))
    # The text report says it too (its header named the amended version alone): under one version, nothing more.
    from slapolicy.reports.text import render_replay

    assert render_replay(result).splitlines()[1] == \
        "baseline versions in force: 2019-02-01 (2019-02), 2019-03-01 (2019-03 to 2019-04)"
    one = dict(result, rows=[row for row in result["rows"] if row["month"] != "2019-02"])
    assert not render_replay(one).splitlines()[1].startswith("baseline versions")


@pytest.mark.slow
def test_a_month_without_billing_is_marked_under_its_bars_not_drawn_as_nothing_owed(hostile):
    result = hostile
    page = render_html(result)
    chart = page[page.index('<div class="chart">'):page.index("</svg></div>")]
    assert re.findall(r">no billing: (\d+)</text>", chart) == ["5", "5"]  # February and April, not January or March
    assert ("<title>2019-02 baseline: 0.00 (5 account-month(s) without billing: their compensation is not in this "
            "total (no Monthly Service Fee; give --billing))</title>") in chart
    # The changes' totals over rows without billing read as money, 0.00 (they read '0').
    assert [(why, n, str(total)) for why, n, total in by_clause(result["rows"])] == [
        ("§2.2 ~ availability.standard: 99.95% → 99.5%", 10, "-500.00"),
        ("§2.2 ~ availability.standard: 99.9% → 99.5%", 4, "0.00")]


@pytest.mark.slow  # a replay of 240 accounts: ~1 s
def test_the_page_grows_with_what_it_shows_not_with_a_day_scale_per_strip(tmp_path):
    # 240 changed account-months made a page of megabytes: each strip drew its month's 32 day ticks and 7 day
    # numbers again (~2.3 kB a strip, half of the page), the same for every strip of the month. They are drawn once
    # and used by each strip (<use>), so the page is its rows and each run of minutes with its dates on hover.
    rows = []
    for k in range(240):  # 6 runs of 5 unavailable minutes: 99.93 %, met at 99.5 %, missed at 99.95 %: changed
        for day in (2, 7, 12, 17, 22, 27):
            rows += minute_rows(f"acct-{k:03d}", f"2019-03-{day:02d}T{k % 24:02d}:00", 5, 100, 2)
    minutes = write_csv(tmp_path / "m.csv", rows)
    result = replay(POLICIES, minutes=minutes, start="2019-03", end="2019-03", under=DRAFT, strips=True)
    assert result["totals"]["overall"]["changed"] == 240
    page = render_html(result)
    assert page.count('<svg class="strip"') == 240 and page.count("<title>unavailable ") == 240 * 6
    assert page.count('stroke="#888"') == 32 and page.count('<use href="#days-0"/>') == 240  # March's ticks, once
    # 1,440 runs and 240 rows: within 20 kB for the page's frame, 700 bytes a row and 150 a run (it was 901 kB).
    assert len(page.encode()) <= 20_000 + 700 * 240 + 150 * 240 * 6
