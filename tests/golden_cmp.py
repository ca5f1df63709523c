#!/usr/bin/env python3
"""golden_cmp.py GOLDEN OUT - compare a command's output with its golden file.

The words must match exactly, except numbers, which match within a relative
tolerance (default 1e-2, or --rtol): bootstrap bands and least-squares fits
come out a little differently with another BLAS kernel (AVX2 against
AVX-512), and a golden must hold on every machine CI may run on.  Prints
the first difference and exits 1 when the outputs differ.
"""
import math
import re
import sys

NUM = re.compile(r'[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?')


def split(text):
    """Alternate words and numbers: the pieces between numbers, and the numbers."""
    parts, nums, last = [], [], 0
    for m in NUM.finditer(text):
        parts.append(text[last:m.start()])
        nums.append(m.group())
        last = m.end()
    parts.append(text[last:])
    return parts, nums


def close(a, b, rtol):
    x, y = float(a), float(b)
    if x == y:
        return True
    return abs(x - y) <= rtol * max(abs(x), abs(y))


def main():
    args = sys.argv[1:]
    rtol = 1e-2
    if len(args) == 4 and args[0] == '--rtol':
        rtol = float(args[1])
        args = args[2:]
    if len(args) != 2:
        sys.exit('usage: golden_cmp.py [--rtol R] GOLDEN OUT')
    gold = open(args[0]).read().splitlines()
    out = open(args[1]).read().splitlines()
    if len(gold) != len(out):
        print(f'{len(out)} lines, the golden has {len(gold)}')
        sys.exit(1)
    for i, (g, o) in enumerate(zip(gold, out), 1):
        gp, gn = split(g)
        op, on = split(o)
        # the words between the numbers, less alignment padding
        if [p.strip() for p in gp] != [p.strip() for p in op] or len(gn) != len(on):
            print(f'line {i}: text differs\n< {g}\n> {o}')
            sys.exit(1)
        for a, b in zip(gn, on):
            if not close(a, b, rtol):
                print(f'line {i}: {b} is not within {rtol:g} of {a}\n< {g}\n> {o}')
                sys.exit(1)
    return 0


if __name__ == '__main__':
    main()
