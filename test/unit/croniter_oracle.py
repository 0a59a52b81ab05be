#!/usr/bin/env python3
"""Oracle for test/unit/cron_croniter_test.cpp: next fire times from croniter.

Usage: croniter_oracle.py INFILE OUTFILE

Each input line is  EXPR <TAB> ZONE <TAB> START <TAB> COUNT  with START in epoch
seconds. Each output line holds the COUNT successive fire times after START as
epoch seconds separated by spaces, "none" in place of a time croniter cannot find
(it then stops), or "error <message>" when croniter rejects the expression.

Our 6-field form puts the seconds field FIRST; croniter puts it LAST, so the
first field is moved to the end before croniter sees the expression.

Exit codes: 0 done, 2 usage, 3 croniter (or a time zone module) is missing.
"""

import os
import sys

# Debian's python3-croniter lives in /usr/lib/python3/dist-packages; a python3
# first on PATH (pyenv, a venv) may not see it, so retry with the system one.
SYSTEM_PYTHON = "/usr/bin/python3"


def _missing(what, exc):
    if (os.environ.get("ORCH_ORACLE_REEXEC") != "1" and os.path.exists(SYSTEM_PYTHON)
            and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)):
        os.environ["ORCH_ORACLE_REEXEC"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    sys.stderr.write("croniter_oracle: cannot import %s (%s); install it with "
                     "'apt-get install python3-croniter'\n" % (what, exc))
    sys.exit(3)


try:
    from croniter import croniter, CroniterBadDateError
except ImportError as exc:
    _missing("croniter", exc)

from datetime import datetime

try:
    from zoneinfo import ZoneInfo as _zone
except ImportError:
    try:
        from dateutil.tz import gettz as _zone
    except ImportError as exc:
        _missing("zoneinfo or dateutil", exc)


def to_croniter(expr):
    fields = expr.split()
    if len(fields) == 6:
        fields = fields[1:] + fields[:1]
    return " ".join(fields)


def fires(expr, zone, start, count):
    tz = _zone(zone)
    it = croniter(to_croniter(expr), datetime.fromtimestamp(start, tz))
    out = []
    for _ in range(count):
        try:
            out.append(str(int(round(it.get_next(float)))))
        except CroniterBadDateError:
            out.append("none")
            break
    return " ".join(out)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: croniter_oracle.py INFILE OUTFILE\n")
        return 2
    with open(argv[1], encoding="utf-8") as src, open(argv[2], "w", encoding="utf-8") as dst:
        for line in src:
            line = line.rstrip("\n")
            if not line:
                continue
            expr, zone, start, count = line.split("\t")
            try:
                dst.write(fires(expr, zone, int(start), int(count)) + "\n")
            except Exception as exc:  # pylint: disable=broad-except
                message = " ".join(str(exc).split()) or type(exc).__name__
                dst.write("error %s\n" % message)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
