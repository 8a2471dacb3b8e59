#!/usr/bin/python3
"""Regenerate internal/cli/root/testdata/script/monitor.txtar's data files (the script part above the
first '-- ' line is kept). Deterministic: random.Random(7).

    /usr/bin/python3 internal/cli/monitor/testdata/gen_script.py
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
TXTAR = os.path.join(HERE, "..", "..", "root", "testdata", "script", "monitor.txtar")

rng = random.Random(7)


def row(shift):
    return [round(rng.gauss(shift, 1), 4), round(rng.gauss(0, 1), 4)]


def logits(x):
    return [round(x[0] - x[1], 4), round(x[1] - x[0], 4)]


def rec(i, x, hour, rid):
    return json.dumps({"ts": "2026-11-28T%02d:%02d:00Z" % (hour, i % 60), "request_id": rid, "model": "tab",
                       "version": "1", "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": x}],
                       "outputs": [{"name": "logits", "datatype": "FP32", "shape": [1, 2], "data": logits(x)}],
                       "status": 200, "duration_ms": 0.5}, separators=(",", ":"))


def main():
    script = open(TXTAR).read().split("\n-- ", 1)[0].rstrip("\n") + "\n"
    files = []
    ref_rows = [row(0) for _ in range(150)]
    ref = ["a,b"] + ["%s,%s" % tuple(x) for x in ref_rows]
    files.append(("ref.csv", "\n".join(ref)))
    files.append(("wide.csv", "a,b,c\n1,2,3\n4,5,6"))
    ok_rows = [row(0) for _ in range(60)]
    sh_rows = [row(1.5) for _ in range(60)]
    for name, rows in (("ok", ok_rows), ("shifted", sh_rows)):
        for h in (10, 11):
            chunk = rows[(h - 10) * 30:(h - 9) * 30]
            lines = [rec(i, x, h, "r%d" % ((h - 10) * 30 + i)) for i, x in enumerate(chunk)]
            files.append(("%s/tab/2026/11/28/%d/1764324000000000000-a.jsonl" % (name, h), "\n".join(lines)))
    # Labels are the argmax, flipped for the second hour.
    lab = ["request_id,label"]
    for i, x in enumerate(ok_rows):
        y = 0 if x[0] - x[1] >= x[1] - x[0] else 1
        if i >= 30:
            y = 1 - y
        lab.append("r%d,%d" % (i, y))
    files.append(("labels.csv", "\n".join(lab)))
    # The reference's true classes: the argmax, as for the logged predictions.
    ylab = ["y"] + [str(0 if x[0] >= x[1] else 1) for x in ref_rows]
    files.append(("ref_labels.csv", "\n".join(ylab)))
    bad = [rec(i, x, 10, "b%d" % i) for i, x in enumerate(ok_rows[:10])]
    bad.insert(2, "{this is not json")
    bad.insert(5, '{"request_id":"z","model":"tab","inputs":[{"name":"x","datatype":"FP32","shape":[1,2],"data":[1]}]}')
    files.append(("bad.jsonl", "\n".join(bad)))
    files.append(("empty/a.jsonl", "{oops"))
    files.append(("dup.jsonl", '{"request_id":"r1","label":1}\n{"request_id":"r1","label":0}'))
    with open(TXTAR, "w") as f:
        f.write(script)
        for name, body in files:
            f.write("-- %s --\n%s\n" % (name, body))


main()
