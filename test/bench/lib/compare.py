#!/usr/bin/env python3
"""Do two storm-matrix runs give the same qualitative result?

usage: compare.py --out FILE RUN_A[,RUN_A2...] RUN_B[,RUN_B2...]

Each RUN is one or more result directories of test/bench/storm.sh (their
matrix.csv), comma-separated: a later directory's cells replace an earlier
one's, so a run may be assembled from rounds on one commit. For every
scenario and configuration measured in both, the cheap-query storm p99
ratio is put in a class:

    spiral   >= 10x baseline (the matrix's bar for stock)
    held     <= 3x (the bar the issues set for iosat)
    between  anything else

and the winners of a scenario are the configurations in its best class
(held, else between, else spiral; a tie is a tie). The result is the same
when every configuration's class is the same in both runs; the winners are
then the same too. Prints a markdown table and writes it to --out.
"""
import argparse
import csv
import os


def load(spec):
    cells = {}
    for d in spec.split(","):
        with open(os.path.join(d, "matrix.csv"), newline="") as f:
            for r in csv.DictReader(f):
                try:
                    ratio = float(r.get("ratio") or "")
                except ValueError:
                    continue
                cells[(r["scenario"], r["config"])] = (ratio, d)
    return cells


def klass(ratio):
    if ratio >= 10:
        return "spiral"
    if ratio <= 3:
        return "held"
    return "between"


RANK = {"held": 0, "between": 1, "spiral": 2}


def winners(cells, scn, cfgs):
    best = min(RANK[klass(cells[(scn, c)][0])] for c in cfgs)
    return sorted(c for c in cfgs if RANK[klass(cells[(scn, c)][0])] == best)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("a")
    ap.add_argument("b")
    a = ap.parse_args()
    A, B = load(a.a), load(a.b)
    scenarios = []
    for (scn, _c) in list(A) + list(B):
        if scn not in scenarios:
            scenarios.append(scn)
    L = ["| scenario | config | run A | run B | same class |", "|---|---|---|---|---|"]
    W = ["| scenario | winners, run A | winners, run B | same |", "|---|---|---|---|"]
    same_all = True
    for scn in scenarios:
        cfgs = [c for (s, c) in A if s == scn and (s, c) in B]
        if not cfgs:
            continue
        for c in cfgs:
            ra, rb = A[(scn, c)][0], B[(scn, c)][0]
            same = klass(ra) == klass(rb)
            same_all &= same
            L.append(f"| {scn} | {c} | {ra:.0f}× ({klass(ra)}) | {rb:.0f}× ({klass(rb)}) | "
                     f"{'yes' if same else '**no**'} |")
        wa, wb = winners(A, scn, cfgs), winners(B, scn, cfgs)
        W.append(f"| {scn} | {', '.join(wa)} | {', '.join(wb)} | {'yes' if wa == wb else '**no**'} |")
    text = ("Run A: " + a.a + "\n\nRun B: " + a.b + "\n\n" + "\n".join(L) + "\n\n" + "\n".join(W) +
            "\n\n" + ("Every configuration in the same class in both runs."
                      if same_all else "Some configuration changed class (marked **no**).") + "\n")
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
