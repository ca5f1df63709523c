#!/bin/sh
# quality.sh - print the optimizer quality figures of docs/performance.md:
# CARBS against uniform random search at equal total cost on two
# cost-aware problems, over several seeds.  Usage: quality.sh [builddir]
set -eu
build=${1:-build}
"$build/bench/quality" 5 40
"$build/bench/quality" 5 100
