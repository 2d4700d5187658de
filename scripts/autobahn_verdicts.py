#!/usr/bin/env python3
"""Judge Autobahn|Testsuite reports (wstest or kosoku) against the committed
expectations in scripts/autobahn-expected.json.

    autobahn_verdicts.py [options] ROLE=REPORT ...

ROLE is `server` (our echo_server, driven by the fuzzingclient) or `client`
(our autobahn_client, driven by the fuzzingserver); REPORT is a report
directory holding index.json, or the index.json itself.

For every case of every role:
  * case listed in the expected file: the verdict must equal the expectation.
    An expectation "B" means behavior == B (and, when B is OK, NON-STRICT or
    INFORMATIONAL, behaviorClose must be OK or INFORMATIONAL); "B/C" means
    behavior == B and behaviorClose == C.
  * case not listed: passes only when behavior and behaviorClose are both OK
    or INFORMATIONAL (so FAILED, NON-STRICT, UNIMPLEMENTED, ... fail).
  * case listed and selected by --cases/--exclude but absent from the report:
    fails (the run died or skipped it).
Prints the verdict counts per role, every case that is not plain OK, and a
closing `N passed, N failed` line (one count per case and role); exit status 1
when anything failed, 2 on a usage error.  --table writes every case's
behavior/behaviorClose to a TSV file.  --update-expected rewrites the expected
file from these reports instead of judging them.
"""
import argparse
import collections
import json
import os
import re
import sys

GOOD = ("OK", "INFORMATIONAL")
ACCEPTABLE_BEHAVIOR = ("OK", "NON-STRICT", "INFORMATIONAL")
ROLES = ("server", "client")


def case_key(case_id):
    return tuple(int(p) if p.isdigit() else 0 for p in case_id.split("."))


def split_patterns(text):
    return [p for p in re.split(r"[,\s]+", text or "") if p]


def pattern_matches(pattern, case_id):
    """Case selection the way wstest does it: a pattern without '*' names one
    case; with '*', '.' is literal, '*' is any run of characters, and the
    pattern only has to match the start of the id."""
    if "*" not in pattern:
        return pattern == case_id
    regex = pattern.replace(".", r"\.").replace("*", ".*")
    return re.match(regex, case_id) is not None


def selected(case_id, includes, excludes):
    return (any(pattern_matches(p, case_id) for p in includes)
            and not any(pattern_matches(p, case_id) for p in excludes))


def load_index(path, agent):
    if os.path.isdir(path):
        path = os.path.join(path, "index.json")
    if not os.path.isfile(path):
        return None, "no report at %s" % path
    try:
        with open(path, encoding="utf-8") as fh:
            index = json.load(fh)
    except (OSError, ValueError) as exc:
        return None, "unreadable report %s: %s" % (path, exc)
    if agent is not None:
        if agent not in index:
            return None, "agent %r not in %s (agents: %s)" % (agent, path, ", ".join(sorted(index)) or "none")
        return index[agent], None
    if len(index) != 1:
        return None, "%s holds %d agents (%s); pass --agent" % (path, len(index), ", ".join(sorted(index)))
    return next(iter(index.values())), None


def parse_expectation(value):
    behavior, _, close = str(value).partition("/")
    return behavior, (close or None)


def judge(case_id, result, expectation):
    """Return (passed, reason)."""
    behavior = result.get("behavior")
    close = result.get("behaviorClose")
    if expectation is None:
        if behavior in GOOD and close in GOOD:
            return True, "not in expected file"
        return False, "not in expected file and not OK/INFORMATIONAL"
    want_b, want_c = parse_expectation(expectation)
    if behavior != want_b:
        return False, "expected %s" % expectation
    if want_c is not None:
        if close != want_c:
            return False, "expected %s" % expectation
    elif want_b in ACCEPTABLE_BEHAVIOR and close not in GOOD:
        return False, "behaviorClose %s (expected OK or INFORMATIONAL)" % close
    return True, "as expected"


def write_expected(path, doc):
    """JSON with one line per case, so that diffs of the baseline stay readable."""
    lines = ["{"]
    for key, value in doc.items():
        if key != "cases":
            lines.append(" %s: %s," % (json.dumps(key), json.dumps(value, ensure_ascii=False)))
    cases = doc.get("cases", {})
    lines.append(' "cases": {')
    for i, (case_id, roles) in enumerate(cases.items()):
        comma = "," if i + 1 < len(cases) else ""
        lines.append("  %s: %s%s" % (json.dumps(case_id), json.dumps(roles, sort_keys=True), comma))
    lines.append(" }")
    lines.append("}")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def fmt_counts(counter):
    order = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
    keys = [k for k in order if k in counter] + sorted(k for k in counter if k not in order)
    return " ".join("%s=%d" % (k, counter[k]) for k in keys) or "none"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="+", metavar="ROLE=REPORT")
    ap.add_argument("--expected", required=True, help="expected-verdicts JSON file")
    ap.add_argument("--cases", default="*", help="case patterns that were run (comma/space separated)")
    ap.add_argument("--exclude", default="", help="case patterns that were excluded")
    ap.add_argument("--agent", default=None, help="agent name in index.json (default: the only one)")
    ap.add_argument("--table", default=None, help="write every case's verdicts to this TSV file")
    ap.add_argument("--all", action="store_true", help="print every case, not only the non-OK ones")
    ap.add_argument("--extra-failure", action="append", default=[], metavar="TEXT",
                    help="count one more failure with this description (e.g. a crashed client)")
    ap.add_argument("--update-expected", action="store_true",
                    help="write the reports' verdicts into the expected file and exit")
    args = ap.parse_args()

    includes, excludes = split_patterns(args.cases), split_patterns(args.exclude)
    try:
        with open(args.expected, encoding="utf-8") as fh:
            expected_doc = json.load(fh)
    except FileNotFoundError:
        expected_doc = {"cases": {}}
    except ValueError as exc:
        print("error: %s is not valid JSON: %s" % (args.expected, exc))
        return 2
    expected = expected_doc.get("cases", {})

    runs = []
    for item in args.reports:
        role, sep, path = item.partition("=")
        if not sep or role not in ROLES:
            print("error: report argument %r is not ROLE=PATH with ROLE in %s" % (item, ROLES))
            return 2
        cases, problem = load_index(path, args.agent)
        runs.append((role, path, cases, problem))

    if args.update_expected:
        for role, path, cases, problem in runs:
            if cases is None:
                print("error: %s: %s" % (role, problem))
                return 1
            for case_id, result in cases.items():
                b, c = result.get("behavior"), result.get("behaviorClose")
                value = b if (c in GOOD or b not in ACCEPTABLE_BEHAVIOR) else "%s/%s" % (b, c)
                expected.setdefault(case_id, {})[role] = value
        expected_doc["cases"] = {k: expected[k] for k in sorted(expected, key=case_key)}
        write_expected(args.expected, expected_doc)
        print("updated %s from %s" % (args.expected, ", ".join(r[0] for r in runs)))
        return 0

    total_pass = total_fail = 0
    table_rows = []
    role_lines = []
    for role, path, cases, problem in runs:
        passed = failed = 0
        print("== %s role: %s" % (role, path))
        wanted = sorted((cid for cid, roles in expected.items()
                         if role in roles and selected(cid, includes, excludes)), key=case_key)
        if cases is None:
            print("   FAIL: %s" % problem)
            failed += max(1, len(wanted))
            print("   (%d expected cases count as failed)" % len(wanted))
            role_lines.append("%s role: no report, %d failed" % (role, failed))
            total_fail += failed
            continue
        print("   %d cases; behavior: %s" % (len(cases), fmt_counts(collections.Counter(
            v.get("behavior") for v in cases.values()))))
        print("   behaviorClose: %s" % fmt_counts(collections.Counter(
            v.get("behaviorClose") for v in cases.values())))
        for case_id in sorted(cases, key=case_key):
            result = cases[case_id]
            expectation = expected.get(case_id, {}).get(role)
            ok, reason = judge(case_id, result, expectation)
            passed += ok
            failed += not ok
            verdict = "%s/%s" % (result.get("behavior"), result.get("behaviorClose"))
            table_rows.append((role, case_id, result.get("behavior"), result.get("behaviorClose"),
                               expectation or "", "pass" if ok else "FAIL",
                               str(result.get("remoteCloseCode")), str(result.get("duration"))))
            if not ok or args.all or result.get("behavior") != "OK":
                print("   %s %s: %s remoteCloseCode=%s (%s; %s)" % (
                    "pass" if ok else "FAIL", case_id, verdict, result.get("remoteCloseCode"),
                    reason, result.get("reportfile", "-")))
        missing = [cid for cid in wanted if cid not in cases]
        for cid in missing:
            print("   FAIL %s: missing from the report (expected %s)" % (cid, expected[cid][role]))
            table_rows.append((role, cid, "", "", expected[cid][role], "FAIL", "", ""))
        failed += len(missing)
        role_lines.append("%s role: %d cases as expected, %d not" % (role, passed, failed))
        total_pass += passed
        total_fail += failed

    for text in args.extra_failure:
        print("FAIL: %s" % text)
        total_fail += 1

    if args.table:
        with open(args.table, "w", encoding="utf-8") as fh:
            fh.write("role\tcase\tbehavior\tbehaviorClose\texpected\tresult\tremoteCloseCode\tduration_ms\n")
            for row in table_rows:
                fh.write("\t".join(row) + "\n")
    for line in role_lines:
        print(line)
    if total_fail:
        print("(if a verdict changed on purpose, e.g. a case now passes, refresh the baseline"
              " with scripts/autobahn.sh --update-expected)")
    print("%d passed, %d failed" % (total_pass, total_fail))
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(main())
