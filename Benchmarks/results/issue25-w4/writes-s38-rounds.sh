#!/bin/bash
# W1/W2 quick writes, alternating before / after2 / noepoch, three rounds, on a quiet machine.
cd /work/main
for r in 1 2 3; do
  for v in before after2 noepoch; do
    rm -rf /work/w4/wr-$v-$r
    /work/w4/trail-bench-before --quick --only writes --traild /work/w4/traild-$v --out /work/w4/wq-$v-$r --work-dir /work/w4/wr-$v-$r > /work/w4/wq-$v-$r.log 2>&1
    rm -rf /work/w4/wr-$v-$r
  done
done
