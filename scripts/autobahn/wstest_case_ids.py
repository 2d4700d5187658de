# Prints every case id of the installed Autobahn|Testsuite (wstest), one per
# line, in the suite's order.  Run with the wstest venv's Python 2.7:
#   VENV/bin/python scripts/autobahn/wstest_case_ids.py
# scripts/autobahn.sh compares this with scripts/autobahn/case-ids.txt (the
# committed list the verdict script resolves selections against).
from __future__ import print_function

from autobahntestsuite.case import Cases, CaseCategories, CaseSubCategories, CaseSetname, CaseBasename
from autobahntestsuite.caseset import CaseSet

cs = CaseSet(CaseSetname, CaseBasename, Cases, CaseCategories, CaseSubCategories)
for klass in Cases:
    print(cs.caseClasstoId(klass))
