#!/bin/sh
# session-end.sh: deposit what the agent learned, as many small notes.
#
# Each argument is one note; with no arguments, each non-blank line of stdin
# is one note. Every note is deposited with `after` set to the notes read by
# session-start.sh (its state file), so the trail records "an agent went from
# what it read to what it learned". Prints the new ids, one per line.
#
# Usage: session-end.sh [-n NS] [-t TAG]... [-s STATE] [-a AGENT] [-S SOCKET] [NOTE...]
#   -n NS      namespace (colony)              default $TRAIL_NS, else "default"
#   -t TAG     tag every note with TAG (repeatable)
#   -s STATE   state file from session-start   default $TRAIL_STATE, else .trail/session.ids
#   -a AGENT   agent name                       default $TRAIL_AGENT
#   -S SOCKET  traild's socket                  default: $TRAIL_SOCKET, then the usual places
#
# Ids in the state file that the daemon no longer knows are dropped with a
# warning; at most 32 (the heaviest first) are used. A missing state file
# means no links. Exit codes: 0 ok, 1 the daemon refused, 2 usage, 3 traild
# cannot be reached.
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
py=${TRAIL_PYTHON:-python3}
if ! "$py" -c 'import trail_client' >/dev/null 2>&1; then
    PYTHONPATH="$here/../python${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONPATH
fi

ns=${TRAIL_NS:-default}
tags=
state=${TRAIL_STATE:-.trail/session.ids}
agent=${TRAIL_AGENT:-}
sock=

usage() {
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while getopts n:t:s:a:S:h opt; do
    case $opt in
        n) ns=$OPTARG ;;
        t) tags="$tags --tag $OPTARG" ;;
        s) state=$OPTARG ;;
        a) agent=$OPTARG ;;
        S) sock=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))

[ -f "$state" ] || echo "session-end: no state file $state; the notes will not be linked (run session-start.sh first)" >&2

set -f
if [ $# -gt 0 ]; then
    # shellcheck disable=SC2086
    exec "$py" -m trail_client ${sock:+--socket "$sock"} --ns "$ns" ${agent:+--agent "$agent"} \
        deposit $tags --after-file "$state" --lenient-after --id-only -- "$@"
else
    # shellcheck disable=SC2086
    exec "$py" -m trail_client ${sock:+--socket "$sock"} --ns "$ns" ${agent:+--agent "$agent"} \
        deposit $tags --after-file "$state" --lenient-after --id-only --each-line
fi
