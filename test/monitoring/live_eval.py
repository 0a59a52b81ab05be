#!/usr/bin/env python3
"""Evaluates every dashboard and rule expression against a live Prometheus.

Helper of test/monitoring/live_test.sh (which says what it proves).
Usage: live_eval.py PROM_URL EXPRS_TSV RULES_DIR EXPECTED_EMPTY_TSV

- EXPRS_TSV: dashboard TAB panel TAB PromQL, as check-dashboards.sh --exprs
  writes it (variables already substituted).
- RULES_DIR: the rule files (*.yml) as the repository holds them.
- EXPECTED_EMPTY_TSV: key TAB reason; '#' starts a comment line. A key is an
  expression (whitespace-collapsed), or alert:NAME / record:NAME.

Every expression must parse (status success) and return at least one sample
that is not NaN, unless it is listed. Alert expressions are evaluated with
each comparison made a bool comparison (`a > 0.8` -> `a > bool 0.8`, which
keeps every series the comparison sees, at 0 or 1) and absent(X) replaced by
X: the alert's inputs must have data whether it fires or not. Recording rules
must return data and their recorded series must exist.

The list must be honest. An expression naming an orchestrator_* metric that
no node exports (no series of that name at all) fails unless its entry's
reason starts with "NOT EXPORTED YET:", with or without data (`or vector(0)`
hides a missing metric); such an entry fails once every metric it names is
exported. Otherwise an entry fails when its expression has data (remove
it), and any entry matching no expression fails.
Exit status 0 when all holds, 1 otherwise; the last line is the summary.
"""

import glob
import json
import math
import os
import re
import sys
import urllib.parse
import urllib.request

import yaml

NOT_EXPORTED = "NOT EXPORTED YET:"

KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "atan2", "inf", "nan", "start", "end",
}
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
    "count_values", "bottomk", "topk", "quantile",
}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")


def norm(expr):
    return " ".join(expr.split())


def skip_string(s, i):
    """Index just past the string literal starting at s[i]."""
    quote = s[i]
    i += 1
    while i < len(s) and s[i] != quote:
        i += 2 if s[i] == "\\" and quote != "`" else 1
    return i + 1


def skip_group(s, i, open_ch, close_ch):
    """Index just past the bracketed group starting at s[i] (strings respected)."""
    depth = 0
    while i < len(s):
        c = s[i]
        if c in "\"'`":
            i = skip_string(s, i)
            continue
        if c == open_ch:
            depth += 1
        elif c == close_ch:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def next_char(s, i):
    while i < len(s) and s[i].isspace():
        i += 1
    return s[i] if i < len(s) else ""


def selectors(expr):
    """The vector selectors of a PromQL expression, with their matchers."""
    out, i, s = [], 0, expr
    while i < len(s):
        c = s[i]
        if c in "\"'`":
            i = skip_string(s, i)
        elif c == "[":
            i = skip_group(s, i, "[", "]")
        elif c == "{":
            end = skip_group(s, i, "{", "}")
            out.append(s[i:end])
            i = end
        elif c.isdigit() or (c == "." and i + 1 < len(s) and s[i + 1].isdigit()):
            m = re.compile(r"[0-9.eE+xXa-fA-F_]+[smhdwy]*").match(s, i)
            i = m.end()
        elif IDENT.match(s, i):
            m = IDENT.match(s, i)
            word, i = m.group(0), m.end()
            nxt = next_char(s, i)
            if word in LABEL_LIST_KEYWORDS and nxt == "(":
                i = skip_group(s, s.index("(", i), "(", ")")
            elif word in KEYWORDS or word in AGGREGATIONS or nxt == "(":
                continue
            elif nxt == "{":
                j = s.index("{", i)
                end = skip_group(s, j, "{", "}")
                out.append(word + s[j:end])
                i = end
            else:
                out.append(word)
        else:
            i += 1
    return out


def boolify(expr):
    """Every comparison outside label matchers becomes a bool comparison."""
    out, i, s = [], 0, expr
    while i < len(s):
        c = s[i]
        if c in "\"'`":
            j = skip_string(s, i)
        elif c == "{":
            j = skip_group(s, i, "{", "}")
        elif c == "[":
            j = skip_group(s, i, "[", "]")
        else:
            op = next((o for o in COMPARISONS if s.startswith(o, i)), None)
            if op is None:
                out.append(c)
                i += 1
                continue
            j = i + len(op)
            out.append(op)
            if not re.match(r"\s*bool\b", s[j:]):
                out.append(" bool")
            i = j
            continue
        out.append(s[i:j])
        i = j
    return "".join(out)


def unwrap_absent(expr):
    e = expr.strip()
    for fn in ("absent(", "absent_over_time("):
        if e.startswith(fn) and skip_group(e, len(fn) - 1, "(", ")") == len(e):
            return e[len(fn):-1], True
    return expr, False


class Prometheus:
    def __init__(self, url):
        self.url = url.rstrip("/")
        self.cache = {}

    def query(self, expr):
        """(ok, has_data, error) for an instant query at now."""
        data = urllib.parse.urlencode({"query": expr}).encode()
        req = urllib.request.Request(self.url + "/api/v1/query", data=data)
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            try:
                body = json.load(e)
            except ValueError:
                return False, False, f"HTTP {e.code}"
        except (urllib.error.URLError, OSError, ValueError) as e:
            return False, False, str(e)
        if body.get("status") != "success":
            return False, False, body.get("error", "status " + str(body.get("status")))
        result = body["data"]
        kind, value = result["resultType"], result["result"]
        if kind in ("scalar", "string"):
            samples = [value]
        elif kind == "vector":
            samples = [v["value"] for v in value]
        else:
            samples = [p for v in value for p in v["values"]]
        has_data = any(not math.isnan(float(p[1])) for p in samples if kind != "string") or (
            kind == "string" and bool(samples))
        return True, has_data, ""

    def has_series(self, selector):
        if selector not in self.cache:
            ok, data, _ = self.query(f"count({selector})")
            self.cache[selector] = ok and data
        return self.cache[selector]


def load_expected(path):
    expected = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            key, sep, reason = line.partition("\t")
            if not sep or not reason.strip():
                raise SystemExit(f"FAIL: {path}:{n}: expected 'key TAB reason'")
            expected[norm(key)] = reason.strip()
    return expected


def load_entries(exprs_path, rules_dir):
    entries = []
    with open(exprs_path) as f:
        for line in f:
            if not line.strip():
                continue
            uid, title, expr = line.rstrip("\n").split("\t", 2)
            entries.append({"kind": "dashboard", "where": f"dashboard {uid} / {title}",
                            "expr": expr, "query": expr, "keys": [norm(expr)], "note": ""})
    for path in sorted(glob.glob(os.path.join(rules_dir, "*.yml"))):
        with open(path) as f:
            doc = yaml.safe_load(f) or {}
        base = os.path.basename(path)
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                expr = str(rule["expr"])
                if "record" in rule:
                    entries.append({"kind": "record", "where": f"{base}: record {rule['record']}",
                                    "expr": expr, "query": expr, "record": rule["record"],
                                    "keys": [norm(expr), "record:" + rule["record"]], "note": ""})
                else:
                    inner, unwrapped = unwrap_absent(expr)
                    entries.append({"kind": "alert", "where": f"{base}: alert {rule['alert']}",
                                    "expr": expr, "query": boolify(inner),
                                    "keys": [norm(expr), "alert:" + rule["alert"]],
                                    "note": "absent() unwrapped, comparisons bool" if unwrapped
                                    else "comparisons bool"})
    return entries


def main():
    prom_url, exprs_path, rules_dir, expected_path = sys.argv[1:5]
    prom = Prometheus(prom_url)
    expected = load_expected(expected_path)
    entries = load_entries(exprs_path, rules_dir)
    used, problems, listed, not_exported, with_data = set(), [], [], [], 0

    for e in entries:
        key = next((k for k in e["keys"] if k in expected), None)
        reason = expected.get(key, "")
        ok, data, err = prom.query(e["query"])
        sels = selectors(e["query"])
        missing = [s for s in sels if not prom.has_series(s)]
        names = sorted({s.split("{")[0] for s in sels if s.startswith("orchestrator_")})
        unexported = [n for n in names if not prom.has_series(n)]
        where = f"{e['where']}: {norm(e['expr'])}"
        if e["note"]:
            where += f"  [evaluated as: {norm(e['query'])}]"
        if not ok:
            problems.append(f"does not evaluate ({err}): {where}")
            continue
        if key is not None:
            used.add(key)
        if e["kind"] == "record" and data and not prom.has_series(e["record"]):
            problems.append(f"has data but Prometheus recorded no {e['record']}: {where}")
        if unexported:
            # A metric no node exports: a typo, or one the code does not export yet.
            if key is None or not reason.startswith(NOT_EXPORTED):
                problems.append(f"{', '.join(unexported)}: no node exports it (a wrong name, or list it in "
                                f"expected_empty.tsv with a reason starting '{NOT_EXPORTED}'): {where}")
            else:
                not_exported.append((e["where"], reason, unexported))
            continue
        if reason.startswith(NOT_EXPORTED):
            problems.append(f"every orchestrator metric it names is exported now: the entry '{NOT_EXPORTED}' "
                            f"is stale (remove it, or give the reason it is empty by design): {where}")
            continue
        if data:
            with_data += 1
            if key is not None:
                problems.append(f"listed in expected_empty.tsv but has data (remove the entry): {where}")
            continue
        if key is None:
            why = f"; selectors without series: {', '.join(missing)}" if missing else ""
            problems.append(f"empty{why}: {where}")
            continue
        listed.append((e["where"], reason, missing))

    for key in sorted(set(expected) - used):
        problems.append(f"expected_empty.tsv entry matches no expression: {key}")

    kinds = {k: sum(1 for e in entries if e["kind"] == k) for k in ("dashboard", "record", "alert")}
    for title, items in (("expected empty, by design", listed), ("not exported yet", not_exported)):
        if items:
            print(f"{title} ({len(items)}):")
        for where, reason, missing in items:
            extra = f" (no series: {', '.join(missing)})" if missing else ""
            print(f"  {where}: {reason}{extra}")
    for p in problems:
        print("FAIL: " + p, file=sys.stderr)
    print(f"{len(entries)} expressions evaluated ({kinds['dashboard']} dashboard, {kinds['record']} recording, "
          f"{kinds['alert']} alert), {with_data} with data, {len(listed)} expected empty by design, "
          f"{len(not_exported)} naming a metric not exported yet, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
