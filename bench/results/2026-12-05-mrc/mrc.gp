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
1 30.026 29.999 30.151
2 23.623 23.571 23.721
4 18.898 18.862 18.959
8 14.933 14.919 15.062
16 14.931 14.919 15.06
EOD
$asidememcached << EOD
1 31.181 31.11 31.338
2 26.128 26.105 26.282
4 20.819 20.815 21.355
8 14.962 14.954 15.079
16 14.93 14.919 15.06
EOD
$asidememcached_ext_tuned << EOD
1 31.12 30.352 31.509
2 40.039 39.649 40.102
4 29.109 28.991 29.189
8 22.733 22.716 22.91
16 22.741 22.741 22.906
EOD
set output "/work/wt-bench/bench/results/2026-12-05-mrc/mrc-aside.svg"
set title "Miss-ratio curve: cache-aside, Zipf 0.99, JSON 200 B - 4 KiB"
plot $asidetiercache using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#1b9e77' title "tiercache", $asidememcached using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#d95f02' title "memcached", $asidememcached_ext_tuned using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#e7298a' title "memcached-ext-tuned", 14.929 with lines dt 2 lw 1.5 lc rgb '#666666' title "floor (memcached -m 2048: no eviction)"
$tracetiercache << EOD
1 40.4672 40.3709 40.5351
2 33.6109 33.4689 33.7695
4 30.5878 30.5219 30.7757
8 29.1174 29.1133 29.2476
16 29.1171 29.1133 29.2476
EOD
$tracememcached << EOD
1 40.6649 40.5871 40.9179
2 36.6705 36.4865 36.6741
4 32.0241 31.8123 32.1874
8 29.1211 29.118 29.2509
16 29.1204 29.1166 29.2483
EOD
$tracememcached_ext_tuned << EOD
1 40.6815 40.6594 40.9019
2 46.634 46.502 46.934
4 37.4686 37.0793 37.6391
8 33.1408 32.879 33.3523
16 33.1022 32.7967 33.3085
EOD
set output "/work/wt-bench/bench/results/2026-12-05-mrc/mrc-trace.svg"
set title "Miss-ratio curve: synthetic trace (one-hit wonders, a scan), whole replay"
plot $tracetiercache using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#1b9e77' title "tiercache", $tracememcached using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#d95f02' title "memcached", $tracememcached_ext_tuned using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#e7298a' title "memcached-ext-tuned", 29.1185 with lines dt 2 lw 1.5 lc rgb '#666666' title "floor (memcached -m 2048: no eviction)"
