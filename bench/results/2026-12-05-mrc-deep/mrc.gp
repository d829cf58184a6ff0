set terminal svg size 760,520 dynamic enhanced font 'sans,11'
set grid
set key outside below center horizontal maxrows 2
set logscale x 2
set xrange [0.8:20]
set xtics ('1x' 1, '2x' 2, '4x' 4, '8x' 8, '16x' 16)
set xlabel 'total cache size / RAM (-m 16): RAM + flash, or all RAM for memcached'
set ylabel 'miss ratio % (median, min-max bars)'
set yrange [0:*]
$asidetiercache << EOD
1 36.2645 36.2645 36.2645
2 31.0735 31.0735 31.0735
4 27.5995 27.5995 27.5995
8 17.609 17.609 17.609
16 16.2 16.2 16.2
EOD
$asidememcached << EOD
1 38.546 38.546 38.546
2 33.36 33.36 33.36
4 28.5695 28.5695 28.5695
8 23.339 23.339 23.339
16 18.2815 18.2815 18.2815
EOD
$asidememcached_ext_tuned << EOD
1 38.4175 38.4175 38.4175
2 46.5435 46.5435 46.5435
4 37.2555 37.2555 37.2555
8 30.3075 30.3075 30.3075
16 30.3415 30.3415 30.3415
EOD
set output "/work/wt-bench/bench/results/2026-12-05-mrc-deep/mrc-aside.svg"
set title "Miss-ratio curve: cache-aside, Zipf 0.99, JSON 200 B - 4 KiB"
plot $asidetiercache using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#1b9e77' title "tiercache", $asidememcached using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#d95f02' title "memcached", $asidememcached_ext_tuned using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#e7298a' title "memcached-ext-tuned", 16.1995 with lines dt 2 lw 1.5 lc rgb '#666666' title "floor (memcached -m 2048: no eviction)"
$tracetiercache << EOD
1 42.9454 42.9454 42.9454
2 36.6396 36.6396 36.6396
4 32.6095 32.6095 32.6095
8 25.1931 25.1931 25.1931
16 24.429 24.429 24.429
EOD
$tracememcached << EOD
1 43.2501 43.2501 43.2501
2 39.3932 39.3932 39.3932
4 34.9568 34.9568 34.9568
8 29.7259 29.7259 29.7259
16 25.2758 25.2758 25.2758
EOD
$tracememcached_ext_tuned << EOD
1 43.2673 43.2673 43.2673
2 49.7354 49.7354 49.7354
4 40.5981 40.5981 40.5981
8 36.089 36.089 36.089
16 36.0268 36.0268 36.0268
EOD
set output "/work/wt-bench/bench/results/2026-12-05-mrc-deep/mrc-trace.svg"
set title "Miss-ratio curve: synthetic trace (one-hit wonders, a scan), whole replay"
plot $tracetiercache using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#1b9e77' title "tiercache", $tracememcached using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#d95f02' title "memcached", $tracememcached_ext_tuned using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#e7298a' title "memcached-ext-tuned", 24.4274 with lines dt 2 lw 1.5 lc rgb '#666666' title "floor (memcached -m 2048: no eviction)"
