"""fleet-compare.py - does the fleet view hold exactly a machine's rows?

    fleet-compare.py [--columns] DB MACHINE...   (DB and MACHINE in pairs)

For each pair, compares every table smithers ships between the SQLite
store DB and MACHINE's rows in the PostgreSQL fleet view (psql from
$PG_BIN, connected with $PG_CONNINFO): the same ids, and in each row the
same value in every column (JSON columns compared as JSON). Prints, per
machine and table, the row count and a SHA-256 of the rows (the same on
both sides when they match), and each difference found. --columns also
checks that each PostgreSQL table has exactly the local table's columns,
in order, after machine, version and sunk_at.

Exit status: 0 all equal, 1 a difference, 2 a usage or connection error.
"""

import hashlib
import json
import os
import sqlite3
import subprocess
import sys

TABLES = ["executions", "phases", "agents", "tool_calls", "transitions",
          "memories", "artifacts"]
FLEET_COLS = ["machine", "version", "sunk_at"]


def psql(sql):
    cmd = [os.path.join(os.environ["PG_BIN"], "psql"), "-X", "-A", "-t",
           "-q", "-v", "ON_ERROR_STOP=1", "-d", os.environ["PG_CONNINFO"],
           "-c", sql]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write("fleet-compare: psql: %s\n" % r.stderr.strip())
        sys.exit(2)
    return r.stdout


def local_rows(db, table):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    cols = con.execute("SELECT name, type FROM pragma_table_info(?)",
                       (table,)).fetchall()
    rows = {}
    for r in con.execute("SELECT * FROM %s" % table):
        row = {}
        for (name, typ), v in zip(cols, r):
            if typ.upper().startswith("JSON") and v is not None:
                v = json.loads(v)
            row[name] = v
        rows[row["id"]] = row
    con.close()
    return [c[0] for c in cols], rows


def fleet_rows(table, machine):
    out = psql("SELECT coalesce(json_agg(to_jsonb(t) - 'machine' - "
               "'version' - 'sunk_at'), '[]') FROM smithers.%s t WHERE "
               "machine = '%s'" % (table, machine.replace("'", "''")))
    rows = {}
    for row in json.loads(out):
        if row["id"] in rows:
            print("%s %s: id %d twice" % (machine, table, row["id"]))
        rows[row["id"]] = row
    return rows


def fleet_columns(table):
    out = psql("SELECT string_agg(column_name, ',' ORDER BY "
               "ordinal_position) FROM information_schema.columns WHERE "
               "table_schema = 'smithers' AND table_name = '%s'" % table)
    return out.strip().split(",")


def canonical(v):
    """V with every whole float as an int: 1.0 here is 1 there."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, dict):
        return {k: canonical(x) for k, x in v.items()}
    if isinstance(v, list):
        return [canonical(x) for x in v]
    return v


def digest(rows):
    h = hashlib.sha256()
    for k in sorted(rows):
        h.update(json.dumps(canonical(rows[k]), sort_keys=True).encode())
    return h.hexdigest()[:16]


def main(argv):
    columns = False
    if argv and argv[0] == "--columns":
        columns = True
        argv = argv[1:]
    if not argv or len(argv) % 2:
        sys.stderr.write(__doc__)
        return 2
    bad = 0
    for i in range(0, len(argv), 2):
        db, machine = argv[i], argv[i + 1]
        for t in TABLES:
            names, want = local_rows(db, t)
            if columns:
                have_cols = fleet_columns(t)
                if have_cols != FLEET_COLS + names:
                    print("%s: columns differ: local %s, fleet view %s" %
                          (t, names, have_cols[len(FLEET_COLS):]))
                    bad = 1
            got = fleet_rows(t, machine)
            dw, dg = digest(want), digest(got)
            print("%s %s: %d rows here, %d there, checksums %s %s" %
                  (machine, t, len(want), len(got), dw, dg))
            if dw != dg:
                bad = 1
            shown = 0
            for k in sorted(set(want) | set(got)):
                if canonical(want.get(k)) == canonical(got.get(k)):
                    continue
                bad = 1
                if shown < 5:
                    print("  id %s: here %s\n         there %s" %
                          (k, json.dumps(want.get(k), sort_keys=True)[:400],
                           json.dumps(got.get(k), sort_keys=True)[:400]))
                shown += 1
            if shown:
                print("  %d rows differ" % shown)
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
