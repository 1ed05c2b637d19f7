#!/bin/sh
# session-start.sh: an agent's start-of-session read of the trail.
#
# Senses the namespace within a byte budget and writes what it found as a
# Markdown block that a prompt can include (ids shortened to 12 digits). The
# whole ids it read go to a state file, so that session-end.sh can link what
# the agent learns to what it read.
#
# Usage: session-start.sh [-n NS] [-b BYTES] [-l LIMIT] [-q QUERY] [-t TAG]...
#                         [-o FILE.md] [-s STATE] [-a AGENT] [-S SOCKET]
#   -n NS      namespace (colony)              default $TRAIL_NS, else "default"
#   -b BYTES   budget for the note bodies       default $TRAIL_BUDGET, else 4000
#   -l LIMIT   at most this many notes          default 32
#   -q QUERY   full-text query (else heaviest first)
#   -t TAG     only notes carrying the tag (repeatable: all of them)
#   -o FILE    the Markdown file                default $TRAIL_SESSION_MD, else .trail/session.md
#   -s STATE   the state file (ids read)        default $TRAIL_STATE, else .trail/session.ids
#   -a AGENT   agent name                       default $TRAIL_AGENT
#   -S SOCKET  traild's socket                  default: $TRAIL_SOCKET, then the usual places
#
# Needs python3 and the trail_client package (installed, or the copy in
# ../python next to this script). Exit codes: 0 ok, 1 the daemon refused,
# 2 usage, 3 traild cannot be reached.
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
py=${TRAIL_PYTHON:-python3}
if ! "$py" -c 'import trail_client' >/dev/null 2>&1; then
    PYTHONPATH="$here/../python${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONPATH
fi

ns=${TRAIL_NS:-default}
budget=${TRAIL_BUDGET:-4000}
limit=32
query=
tags=
out=${TRAIL_SESSION_MD:-.trail/session.md}
state=${TRAIL_STATE:-.trail/session.ids}
agent=${TRAIL_AGENT:-}
sock=

usage() {
    sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while getopts n:b:l:q:t:o:s:a:S:h opt; do
    case $opt in
        n) ns=$OPTARG ;;
        b) budget=$OPTARG ;;
        l) limit=$OPTARG ;;
        q) query=$OPTARG ;;
        t) tags="$tags --tag $OPTARG" ;;
        o) out=$OPTARG ;;
        s) state=$OPTARG ;;
        a) agent=$OPTARG ;;
        S) sock=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage

case $budget in ''|*[!0-9]*) echo "session-start: -b takes a number of bytes, got '$budget'" >&2; exit 2 ;; esac

mkdir -p -- "$(dirname -- "$out")" "$(dirname -- "$state")"

# Tags match [a-z0-9._:/-], so splitting $tags on spaces is safe; no globbing.
set -f
# shellcheck disable=SC2086
"$py" -m trail_client ${sock:+--socket "$sock"} --ns "$ns" ${agent:+--agent "$agent"} \
    sense ${query:+"$query"} $tags --limit "$limit" --budget "$budget" \
    --format markdown --id-width 12 --ids-out "$state" >"$out.tmp" || {
    rc=$?
    rm -f -- "$out.tmp"
    exit "$rc"
}
mv -f -- "$out.tmp" "$out"

n=$(grep -c '^[0-9a-f]' "$state" || true)
echo "session-start: $n notes from namespace $ns in $out (ids in $state)" >&2
