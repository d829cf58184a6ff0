set terminal svg size 760,520 dynamic enhanced font 'sans,11'
set grid
set key outside below center horizontal maxrows 2
set logscale x 2
set xrange [0.8:20]
set xtics ('1x' 1, '2x' 2, '4x' 4, '8x' 8, '16x' 16)
set xlabel 'total cache size / RAM (-m 16): RAM + flash, or all RAM for memcached'
set ylabel 'miss ratio % (median, min-max bars)'
set yrange [0:*]
$ttltiercache << EOD
1 42.8649 42.7772 43.169
2 37.7583 37.4377 37.7776
4 36.1816 36.0177 36.2946
8 36.1532 35.8949 36.222
16 36.1722 36.1499 36.1855
EOD
$ttlmemcached << EOD
1 43.3463 43.2296 43.3543
2 40.2719 40.035 40.457
4 37.594 37.4897 37.8078
8 36.1289 35.9298 36.1912
16 36.1857 36.0876 36.2242
EOD
set output "/work/wt-aside/bench/results/2026-12-05-mrc-ttl/mrc-ttl.svg"
set title "Miss-ratio curve: synthetic trace with a TTL mix, at the recorded pace"
plot $ttltiercache using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#1b9e77' title "tiercache", $ttlmemcached using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#d95f02' title "memcached", 36.1671 with lines dt 2 lw 1.5 lc rgb '#666666' title "floor (memcached -m 2048: no eviction)"
