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
1 30.027 29.953 30.131
2 22.269 22.188 22.419
4 14.93 14.921 15.063
8 14.93 14.919 15.062
16 14.929 14.919 15.06
EOD
$asidememcached << EOD
1 30.555 30.334 30.603
2 26.13 26.108 26.268
4 20.848 20.833 21.039
8 14.963 14.953 15.083
16 14.93 14.919 15.061
EOD
$asidememcached_ext_tuned << EOD
1 30.448 30.436 30.682
2 39.914 39.69 40.033
4 29.139 28.985 29.259
8 22.743 22.717 22.909
16 22.734 22.727 22.922
EOD
set output "/tmp/mrc3/mrc-aside.svg"
set title "Miss-ratio curve: cache-aside, Zipf 0.99, JSON 200 B - 4 KiB"
plot $asidetiercache using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#1b9e77' title "tiercache", $asidememcached using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#d95f02' title "memcached", $asidememcached_ext_tuned using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '#e7298a' title "memcached-ext-tuned", 14.93 with lines dt 2 lw 1.5 lc rgb '#666666' title "floor (memcached -m 2048: no eviction)"
