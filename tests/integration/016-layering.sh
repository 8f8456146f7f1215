#!/bin/sh
# The house's rules, checked on the build itself:
#  - no call cycle between the files of a module (nor through several of
#    them): read from the objects' symbols, so a call hidden behind a macro
#    counts too, and a call through a function pointer (a hook, a command
#    table) does not;
#  - includes follow the module graph: tools -> supervisor -> {wal, shm,
#    worker}, worker -> shm, worker -> wal for the read-only lookup only,
#    common below all and including none of them.
. "$top_srcdir/tests/integration/lib.sh"

"$PYTHON" - "$top_builddir" "$top_srcdir" <<'PY'
import glob, os, re, subprocess, sys

build, src = sys.argv[1], sys.argv[2]
problems = []

def symbols(paths):
    """{object: (defined, undefined)} of the objects (or archive members)."""
    out = subprocess.run(["nm", "-A", *paths], capture_output=True,
                         text=True, check=True).stdout
    objs = {}
    for line in out.splitlines():
        m = re.match(r"^(.*?\.o):\s*[0-9a-fA-F]*\s+([A-Za-z])\s+(\S+)$", line)
        if not m:
            continue
        obj, kind, name = m.groups()
        obj = os.path.basename(obj.split(":")[-1])
        d, u = objs.setdefault(obj, (set(), set()))
        if kind == "U":
            u.add(name)
        elif kind in "TW":
            d.add(name)  # functions: a table of them (data) is no call
    return objs

def cycles(group, objs):
    calls = {a: {b for b in objs if b != a and objs[a][1] & objs[b][0]}
             for a in objs}
    # Tarjan's strongly connected components, iteratively simple: for each
    # pair reachable both ways, report once.
    reach = {}
    for a in objs:
        seen, todo = set(), [a]
        while todo:
            for b in calls[todo.pop()]:
                if b not in seen:
                    seen.add(b)
                    todo.append(b)
        reach[a] = seen
    done = set()
    for a in sorted(objs):
        if a in done or a not in reach[a]:
            continue
        scc = sorted(b for b in objs if b in reach[a] and a in reach[b])
        done.update(scc)
        why = []
        for x in scc:
            for y in sorted(calls[x] & set(scc)):
                why.append("%s -> %s (%s)" % (x, y, ", ".join(
                    sorted(objs[x][1] & objs[y][0])[:3])))
        problems.append("%s: call cycle among %s: %s" % (
            group, " ".join(scc), "; ".join(why)))

groups = {
    "wal": [build + "/wal/.libs/libwal.a"],
    "shm": [build + "/shm/.libs/libshm.a"],
    "worker": [build + "/worker/.libs/libworker.a"],
    "adapter": [build + "/worker/.libs/libadapter.a"],
    "supervisor": [build + "/supervisor/.libs/libsup.a"],
    "smithers": sorted(glob.glob(build + "/tools/smithers-*.o")),
    "smithers-top": sorted(glob.glob(build + "/tools/smithers_top-*.o")),
}
common = build + "/common/.libs/libcommon.a"
if os.path.exists(common):
    groups["common"] = [common]
for group, paths in groups.items():
    paths = [p for p in paths if os.path.exists(p)]
    if not paths:
        problems.append("%s: no objects found" % group)
        continue
    cycles(group, symbols(paths))

# Which modules' headers each module may include.
allowed = {
    "common": set(),
    "shm": {"common"},
    "wal": {"common"},
    "worker": {"common", "shm", "wal/lookup.h"},
    "supervisor": {"common", "shm", "wal", "worker"},
    "tools": {"common", "shm", "wal", "worker", "supervisor"},
}
for module, ok in allowed.items():
    for path in sorted(glob.glob("%s/%s/*.[ch]" % (src, module))):
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            m = re.match(r'\s*#\s*include\s+"([^/"]+)/([^"]+)"', line)
            if not m or m.group(1) == module:
                continue
            dep, header = m.groups()
            if dep not in allowed or (dep not in ok and
                                      "%s/%s" % (dep, header) not in ok):
                problems.append("%s/%s:%d includes %s/%s" % (
                    module, os.path.basename(path), n, dep, header))

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY
