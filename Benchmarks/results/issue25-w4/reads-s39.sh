#!/bin/bash
# W4 at 1M: after (branch 10a26db rebased on main) then before (7c1380d), one after the other on a quiet machine.
for v in after3 before; do
  rm -rf /work/w4/wr-s39-$v
  /work/w4/trail-bench-before --full --only reads --sizes 1000000 --traild /work/w4/traild-$v --out /work/w4/reads-s39-$v --work-dir /work/w4/wr-s39-$v > /work/w4/reads-s39-$v.log 2>&1
  rm -rf /work/w4/wr-s39-$v
done
