#!/usr/bin/env python3
"""Judge Autobahn|Testsuite reports (wstest or kosoku) against the committed
expectations in scripts/autobahn-expected.json.  Fails closed.

    autobahn_verdicts.py [options] ROLE=REPORT ...
    autobahn_verdicts.py --check-selection [options]

ROLE is `server` (our echo_server, driven by the fuzzingclient) or `client`
(our autobahn_client, driven by the fuzzingserver); REPORT is a report
directory holding index.json, or the index.json itself.

Configuration errors (exit status 2, nothing is judged):
  * the expectation file is missing, empty, not JSON, or has no cases;
  * the expectation file holds a verdict that does not pass (FAILED,
    NON-STRICT, WRONG CODE, ...): it may only hold OK, INFORMATIONAL or
    UNIMPLEMENTED (a case explicitly allowed to be unimplemented for now);
  * it names a case id the suite does not have (see --case-ids);
  * --cases/--exclude select zero cases, or name a case id that does not exist;
  * --expect-count N is given and the selection is not exactly N cases;
  * --require-listed is given and a selected case has no expectation for a
    judged role.
A case passes when behavior is OK or INFORMATIONAL and behaviorClose is OK or
INFORMATIONAL (NON-STRICT is a failure: the target is all OK).  UNIMPLEMENTED
passes only when the expectation file lists that case as UNIMPLEMENTED for
that role; a case listed UNIMPLEMENTED that now passes fails too, so that the
allowance is dropped.  Every selected case must be in each role's report
(fewer cases run than selected fails), and a report must hold no other cases.
Prints, per role, `server: N OK, N INFORMATIONAL, N NON-STRICT, N FAILED,
N UNIMPLEMENTED`, every case that is not plain OK, and a closing
`N passed, N failed` line (one count per case and role); exit status 1 when
anything failed.  --table writes every case's verdicts to a TSV file.
--update-expected writes the reports' verdicts into the expected file instead
of judging them; it refuses when any case does not pass or is missing.
"""
import argparse
import json
import os
import re
import sys

GOOD = ("OK", "INFORMATIONAL")
ALLOWED_EXPECTATIONS = ("OK", "INFORMATIONAL", "UNIMPLEMENTED")
CATEGORIES = ("OK", "INFORMATIONAL", "NON-STRICT", "FAILED", "UNIMPLEMENTED")
ROLES = ("server", "client")
USAGE_ERROR = 2


class ConfigError(Exception):
    pass


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


def resolve_selection(case_ids, includes, excludes):
    """The case ids the runner will run for these patterns, in suite order."""
    if not includes:
        raise ConfigError("no case pattern given (--cases is empty): zero cases selected")
    known = set(case_ids)
    unknown = [p for p in includes + excludes if "*" not in p and p not in known]
    if unknown:
        raise ConfigError("case id(s) %s do not exist in the suite (%d cases)"
                          % (", ".join(unknown), len(case_ids)))
    chosen = [c for c in case_ids
              if any(pattern_matches(p, c) for p in includes)
              and not any(pattern_matches(p, c) for p in excludes)]
    if not chosen:
        raise ConfigError("cases %r minus exclusions %r select zero cases"
                          % (" ".join(includes), " ".join(excludes)))
    return chosen


def load_case_ids(path):
    try:
        with open(path, encoding="utf-8") as fh:
            ids = [line.strip() for line in fh if line.strip() and not line.startswith("#")]
    except OSError as exc:
        raise ConfigError("case list %s unreadable: %s" % (path, exc))
    if not ids:
        raise ConfigError("case list %s is empty" % path)
    if len(set(ids)) != len(ids):
        raise ConfigError("case list %s has duplicate ids" % path)
    return sorted(ids, key=case_key)


def parse_expectation(value):
    behavior, _, close = str(value).partition("/")
    return behavior, (close or None)


def load_expected(path, case_ids):
    """The expectation file, validated; raises ConfigError."""
    restore = ("restore it (git checkout -- %s) or write a baseline with "
               "scripts/autobahn.sh --update-expected" % os.path.relpath(path))
    if not os.path.exists(path):
        raise ConfigError("expectation file %s is missing: nothing to judge against; %s" % (path, restore))
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError("expectation file %s unreadable: %s" % (path, exc))
    if not text.strip():
        raise ConfigError("expectation file %s is empty; %s" % (path, restore))
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigError("expectation file %s is not valid JSON: %s" % (path, exc))
    cases = doc.get("cases") if isinstance(doc, dict) else None
    if not isinstance(cases, dict) or not cases:
        raise ConfigError("expectation file %s has no \"cases\"; %s" % (path, restore))
    known = set(case_ids) if case_ids else None
    problems = []
    for case_id, roles in cases.items():
        if known is not None and case_id not in known:
            problems.append("%s: no such case in the suite" % case_id)
            continue
        if not isinstance(roles, dict) or not roles:
            problems.append("%s: expected an object like {\"client\": \"OK\", \"server\": \"OK\"}" % case_id)
            continue
        for role, value in roles.items():
            if role not in ROLES:
                problems.append("%s: unknown role %r (server, client)" % (case_id, role))
                continue
            b, c = parse_expectation(value)
            if b not in ALLOWED_EXPECTATIONS or (c is not None and (b == "UNIMPLEMENTED" or c not in GOOD)):
                problems.append("%s %s: %r is not a passing verdict (allowed: OK, INFORMATIONAL, "
                                "UNIMPLEMENTED)" % (case_id, role, value))
    if problems:
        for p in problems[:40]:
            print("error: %s: %s" % (os.path.basename(path), p))
        if len(problems) > 40:
            print("error: ... and %d more" % (len(problems) - 40))
        raise ConfigError("expectation file %s has %d invalid entr%s (above); a failing verdict is "
                          "never an expectation: fix the code, not the baseline"
                          % (path, len(problems), "y" if len(problems) == 1 else "ies"))
    return doc


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
    if not isinstance(index, dict):
        return None, "report %s is not a JSON object" % path
    if agent is not None:
        if agent not in index:
            return None, "agent %r not in %s (agents: %s)" % (agent, path, ", ".join(sorted(index)) or "none")
        return index[agent], None
    if len(index) != 1:
        return None, "%s holds %d agents (%s); pass --agent" % (path, len(index), ", ".join(sorted(index)))
    return next(iter(index.values())), None


def category(result):
    behavior = result.get("behavior")
    close = result.get("behaviorClose")
    if behavior == "UNIMPLEMENTED":
        return "UNIMPLEMENTED"
    if close not in GOOD:
        return "FAILED"
    if behavior in ("OK", "INFORMATIONAL", "NON-STRICT"):
        return behavior
    return "FAILED"


def judge(result, expectation):
    """Return (passed, reason)."""
    cat = category(result)
    want = parse_expectation(expectation)[0] if expectation is not None else None
    if cat == "UNIMPLEMENTED":
        if want == "UNIMPLEMENTED":
            return True, "listed as UNIMPLEMENTED for now"
        return False, "UNIMPLEMENTED and not listed as UNIMPLEMENTED"
    if cat in GOOD:
        if want == "UNIMPLEMENTED":
            return False, ("listed as UNIMPLEMENTED but now %s: change the expectation to %s"
                           % (cat, cat))
        return True, "passes" if expectation is not None else "passes (not in the expectation file)"
    if cat == "NON-STRICT":
        return False, "NON-STRICT (the target is OK)"
    return False, "behavior %s, behaviorClose %s" % (result.get("behavior"), result.get("behaviorClose"))


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


def count_line(role, counter, ran, selected_count):
    parts = ["%d %s" % (counter.get(k, 0), k) for k in CATEGORIES]
    return "%s: %s (%d of %d selected cases ran)" % (role, ", ".join(parts), ran, selected_count)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="*", metavar="ROLE=REPORT")
    ap.add_argument("--expected", required=True, help="expected-verdicts JSON file")
    ap.add_argument("--case-ids", required=True,
                    help="file with every case id of the suite, one per line (the runner's list)")
    ap.add_argument("--cases", default="*", help="case patterns that were run (comma/space separated)")
    ap.add_argument("--exclude", default="", help="case patterns that were excluded")
    ap.add_argument("--expect-count", type=int, default=None,
                    help="the selection must be exactly this many cases (the suite's size)")
    ap.add_argument("--require-listed", default="", metavar="ROLES",
                    help="comma-separated roles for which every selected case must be in the expected file")
    ap.add_argument("--check-selection", action="store_true",
                    help="only validate the expected file and the selection, print the count")
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
        case_ids = load_case_ids(args.case_ids)
        selection = resolve_selection(case_ids, includes, excludes)
        if args.expect_count is not None and len(selection) != args.expect_count:
            raise ConfigError("the selection is %d cases, the suite should have %d: the runner's case "
                              "list or the suite's patterns changed" % (len(selection), args.expect_count))
        if args.update_expected and not os.path.exists(args.expected):
            expected_doc = {"cases": {}}
        else:
            expected_doc = load_expected(args.expected, case_ids)
        expected = expected_doc["cases"]
        for role in split_patterns(args.require_listed):
            unlisted = [c for c in selection if role not in expected.get(c, {})]
            if unlisted and not args.update_expected:
                raise ConfigError("%d selected case(s) have no %s expectation in %s (first: %s); add them "
                                  "(scripts/autobahn.sh --update-expected) before running this selection"
                                  % (len(unlisted), role, args.expected, ", ".join(unlisted[:5])))
    except ConfigError as exc:
        print("error: %s" % exc)
        return USAGE_ERROR
    if args.check_selection:
        print("selection: %d of %d cases (%s)" % (len(selection), len(case_ids),
                                                   "%s .. %s" % (selection[0], selection[-1])))
        return 0
    if not args.reports:
        print("error: no ROLE=REPORT given")
        return USAGE_ERROR
    selected_set = set(selection)

    runs = []
    for item in args.reports:
        role, sep, path = item.partition("=")
        if not sep or role not in ROLES:
            print("error: report argument %r is not ROLE=PATH with ROLE in %s" % (item, ROLES))
            return USAGE_ERROR
        cases, problem = load_index(path, args.agent)
        runs.append((role, path, cases, problem))

    if args.update_expected:
        refuse = []
        for role, path, cases, problem in runs:
            if cases is None:
                refuse.append("%s: %s" % (role, problem))
                continue
            refuse += ["%s %s: missing from the report" % (role, c) for c in selection if c not in cases]
            refuse += ["%s %s: not selected but in the report" % (role, c) for c in cases
                       if c not in selected_set]
            for case_id in selection:
                if case_id not in cases:
                    continue
                cat = category(cases[case_id])
                if cat in ALLOWED_EXPECTATIONS:
                    expected.setdefault(case_id, {})[role] = cat
                else:
                    refuse.append("%s %s: %s/%s is not a passing verdict" % (
                        role, case_id, cases[case_id].get("behavior"), cases[case_id].get("behaviorClose")))
        if refuse:
            for r in refuse:
                print("FAIL %s" % r)
            print("error: not updating %s: %d case(s) fail or are missing (fix the code, not the baseline)"
                  % (args.expected, len(refuse)))
            return 1
        expected_doc["cases"] = {k: expected[k] for k in sorted(expected, key=case_key)}
        write_expected(args.expected, expected_doc)
        print("updated %s for %d cases from %s" % (args.expected, len(selection),
                                                  ", ".join(r[0] for r in runs)))
        return 0

    total_pass = total_fail = 0
    table_rows = []
    role_lines = []
    for role, path, cases, problem in runs:
        passed = failed = 0
        counter = {}
        print("== %s role: %s" % (role, path))
        if cases is None:
            print("   FAIL: %s" % problem)
            print("   (all %d selected cases count as failed)" % len(selection))
            role_lines.append(count_line(role, counter, 0, len(selection))
                              + " -- NO REPORT, %d failed" % len(selection))
            total_fail += len(selection)
            continue
        for case_id in selection:
            expectation = expected.get(case_id, {}).get(role)
            if case_id not in cases:
                print("   FAIL %s: missing from the report (the run died or skipped it)" % case_id)
                table_rows.append((role, case_id, "", "", expectation or "", "FAIL", "", ""))
                failed += 1
                continue
            result = cases[case_id]
            counter[category(result)] = counter.get(category(result), 0) + 1
            ok, reason = judge(result, expectation)
            passed += ok
            failed += not ok
            verdict = "%s/%s" % (result.get("behavior"), result.get("behaviorClose"))
            table_rows.append((role, case_id, str(result.get("behavior")), str(result.get("behaviorClose")),
                               expectation or "", "pass" if ok else "FAIL",
                               str(result.get("remoteCloseCode")), str(result.get("duration"))))
            if not ok or args.all or result.get("behavior") != "OK":
                print("   %s %s: %s remoteCloseCode=%s (%s; %s)" % (
                    "pass" if ok else "FAIL", case_id, verdict, result.get("remoteCloseCode"),
                    reason, result.get("reportfile", "-")))
        extra = sorted((c for c in cases if c not in selected_set), key=case_key)
        for case_id in extra:
            print("   FAIL %s: in the report but not selected (stale report or a selection mismatch)" % case_id)
            failed += 1
        ran = sum(1 for c in selection if c in cases)
        line = count_line(role, counter, ran, len(selection))
        if ran < len(selection):
            line += " -- %d NOT RUN" % (len(selection) - ran)
        if extra:
            line += " -- %d UNSELECTED IN REPORT" % len(extra)
        role_lines.append(line)
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
    print("%d passed, %d failed" % (total_pass, total_fail))
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(main())
