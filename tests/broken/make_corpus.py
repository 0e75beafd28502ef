"""Regenerates the broken-policy corpus from the shipped policy: python tests/broken/make_corpus.py (from the repo root).

Each file under drafts/ starts with "# expect: LINE:COL severity CODE message", computed here from
where the mutation was made, independently of the validator that tests/test_policy_corpus.py runs."""
import json, hashlib, pathlib, shutil
src = open('policies/ccc/2019-01-01.yaml').read()
draft = src.replace('status: published', 'status: draft')
out = pathlib.Path('tests/broken')

def write(name, text, marker, col_of, code, message, severity='error', nth=1):
    """marker: a substring whose line (nth occurrence after header) the diagnostic points at; col_of: substring in that line whose column is reported."""
    lines = text.split('\n')
    hits = [i for i, l in enumerate(lines) if marker in l]
    i = hits[nth - 1]
    col = lines[i].index(col_of) + 1
    header = f"# expect: {i + 2}:{col} {severity} {code} {message}"
    (out / 'drafts' / name).write_text(header + '\n' + text)

def sub(text, old, new, count=1):
    assert old in text, old
    return text.replace(old, new, count)

t = sub(draft, 'display_decimals: {value: 2,', 'display_decimals: {value: two,')
write('wrong-type.yaml', t, 'display_decimals: {value: two', 'two', 'schema', "display_decimals must be a whole number — got two")
t = sub(draft, '  unit_minutes: {value: 1,', '  colour: blue\n  unit_minutes: {value: 1,')
write('unknown-key.yaml', t, 'colour: blue', 'colour', 'schema', "unknown key 'colour'")
t = sub(draft, '{at_least: "95%", below: "99%"', '{at_least: "95%", below: "99.5%"')
write('overlapping-tiers.yaml', t, 'below: "99.5%", credit: "25%"', '{', 'tier-overlap', 'overlaps tier 1')
t = sub(draft, '{at_least: "95%", below: "99%"', '{at_least: "95%", below: "98%"')
write('tier-gap.yaml', t, 'below: "99.95%", credit: "10%"', '{', 'tier-gap', 'no tier covers availability in [98 %, 99 %)')
t = sub(draft, 'when: {fact: incident.cause, equals: customer_network}', 'when: {fact: incident.reason, equals: customer_network}')
write('undeclared-fact.yaml', t, 'incident.reason', 'incident.reason', 'undeclared-fact', "fact 'incident.reason'")
t = sub(draft, '    title: Attacks on the customer\'s application\n', '    title: Attacks on the customer\'s application\n    title: Attacks\n')
write('duplicate-key.yaml', t, '    title: Attacks', 'title', 'duplicate-key', "duplicate key 'title'", nth=2)
bomb = '\nlaughs:\n  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n  g: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n'
write('alias-bomb.yaml', draft + bomb, '  a: &a', '&a', 'yaml-anchor', 'anchor &a refused')
t = sub(draft, '    when: {fact: incident.cause, equals: authority_control}\n', '')
write('missing-clause-condition.yaml', t, '  - id: "5.9"', 'id', 'schema', "missing key when")
t = sub(draft, 'effective_from: "2019-01-01"', 'effective_from: "2019-02-30"')
write('bad-date.yaml', t, 'effective_from: "2019-02-30"', '"2019-02-30"', 'bad-date', "'2019-02-30' is not a calendar date")
t = sub(draft, '''    examples:
      - {facts: {incident.cause: trial_feature}, applies: true}
      - {facts: {incident.cause: provider}, applies: false}''', '    examples: []')
write('clause-without-examples.yaml', t, 'examples: []', '[]', 'no-examples', 'clause 5.8 (§5.8) has no examples')
t = sub(draft, '{fact: minute.concurrency_qps, at_least: {param: concurrency_threshold_qps}}', '{fact: minute.concurrency_qps, at_least: {param: qps_limit}}')
write('unknown-param.yaml', t, 'qps_limit', 'qps_limit', 'unknown-param', "parameter 'qps_limit'")

t = sub(draft, '  - id: "5.3"\n', '  - id: "5.2"\n')
write('duplicate-clause-id.yaml', t, '  - id: "5.2"', '"5.2"', 'duplicate-clause', 'clause id 5.2 is used twice', nth=2)

# Directories: a published file edited after locking; two versions with one date; a misnamed version.
def directory(name, files):
    d = out / name
    if d.exists(): shutil.rmtree(d)
    d.mkdir()
    lock = {}
    for fname, text, locked_text in files:
        (d / fname).write_text(text)
        lock[fname] = hashlib.sha256((locked_text or text).encode()).hexdigest()
    (d / 'versions.lock').write_text(json.dumps(lock, indent=2) + '\n')
edited = sub(src, 'credit: "10%"', 'credit: "15%"')
directory('edited-published', [('2019-01-01.yaml', edited, src)])
second = sub(src, 'version: "2019-01-01"', 'version: "2019-01-01-bis"')
directory('same-date', [('2019-01-01.yaml', src, None), ('2019-02-01.yaml', second, None)])
directory('misnamed', [('2019-03-01.yaml', src, None)])
mid = src.replace('"2019-01-01"', '"2019-01-15"')
directory('mid-month', [('2019-01-15.yaml', mid, None)])
