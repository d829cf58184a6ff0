set terminal svg size 760,520 dynamic enhanced font 'sans,11'
set grid
set key outside below center horizontal maxrows 2
$tiercacheget_s << EOD
4 31028.5 28666.5 36969.5
8 30215 29782 36083.5
16 31222.5 27560 36086.5
EOD
$memcachedget_s << EOD
4 103964 84988.5 104966
8 112818 109851 124858
16 106083 100672 132588
EOD
$memcached_extget_s << EOD
4 87297.5 81542.5 92556
8 74221 67215 100916
16 112978 111066 118798
EOD
$tiercachehits_s << EOD
4 31028.5 28666.5 36969.5
8 30213.5 29781 36082.5
16 31221 27558 36084.5
EOD
$memcachedhits_s << EOD
4 29818 24350 30133
8 17205.5 16733.1 19009
16 8837.03 8316.45 11124.5
EOD
$memcached_exthits_s << EOD
4 25146.5 23480.5 26769.5
8 11357.5 10309.5 15490
16 9468.46 9328.99 9980.06
EOD
set output "/tmp/s3/cmp/throughput.svg"
set title "Throughput vs dataset / RAM (JSON 200 B-4 KiB, uniform gets)"
set xlabel 'dataset size / RAM size (-m)'
set ylabel "gets/s (solid), hits/s (dashed); median, min-max bars"
set logscale x 2
set xrange [3:20]
set xtics (4, 8, 16)
set yrange [0:*]
plot $tiercacheget_s using 1:2:3:4 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#1b9e77' title "tiercache", $memcachedget_s using 1:2:3:4 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#d95f02' title "memcached", $memcached_extget_s using 1:2:3:4 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#7570b3' title "memcached-ext", $tiercachehits_s using 1:2:3:4 with yerrorlines lw 2 pt 7 dt 2 lc rgb '#1b9e77' title "tiercache hits/s", $memcachedhits_s using 1:2:3:4 with yerrorlines lw 2 pt 7 dt 2 lc rgb '#d95f02' title "memcached hits/s", $memcached_exthits_s using 1:2:3:4 with yerrorlines lw 2 pt 7 dt 2 lc rgb '#7570b3' title "memcached-ext hits/s"
unset logscale x
unset xtics
set xtics
set xrange [*:*]
set yrange [*:*]
$tiercachehit << EOD
4 100 100 100
8 99.9966 99.995 99.9972
16 99.9945 99.9927 99.9952
EOD
$memcachedhit << EOD
4 28.6812 28.6509 28.7074
8 15.2325 15.2245 15.2507
16 8.3303 8.2609 8.3903
EOD
$memcached_exthit << EOD
4 28.8055 28.7954 28.9225
8 15.3381 15.3023 15.3494
16 8.3995 8.3808 8.4009
EOD
set output "/tmp/s3/cmp/hitratio.svg"
set title "Hit ratio vs dataset / RAM (JSON 200 B-4 KiB, uniform gets)"
set xlabel 'dataset size / RAM size (-m)'
set ylabel "get hit ratio % (median, min-max bars)"
set logscale x 2
set xrange [3:20]
set xtics (4, 8, 16)
set yrange [0:105]
plot $tiercachehit using 1:2:3:4 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#1b9e77' title "tiercache", $memcachedhit using 1:2:3:4 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#d95f02' title "memcached", $memcached_exthit using 1:2:3:4 with yerrorlines lw 2 pt 7 dt 1 lc rgb '#7570b3' title "memcached-ext"
unset logscale x
unset xtics
set xtics
set xrange [*:*]
set yrange [*:*]
$lat << EOD
ram100 92.671 120.831 123.391 2310.14 2326.53 2146.3 4915.2 4456.45 3473.41
ram1k 74.751 139.263 128.511 1368.06 2244.61 2015.23 4390.91 4718.59 3522.56
json4x 477.183 157.695 311.295 8650.75 2457.6 1302.53 19005.4 4882.43 2031.62
json8x 477.183 121.855 294.911 8781.82 1622.02 2015.23 19005.4 4390.91 4325.38
json16x 499.711 129.535 131.071 11403.3 4227.07 1310.72 19660.8 5537.79 2375.68
small8x 518.143 111.615 127.487 13369.3 4194.3 3325.95 19660.8 5210.11 4292.61
flashlat 544.767 116.735 220.159 12779.5 1810.43 1564.67 16384 4145.15 2490.37
hot-RAM 518.143 423.935 1024 13566 3162.11 4980.73 16449.5 4947.97 8224.77
EOD
set terminal svg size 1000,900 dynamic enhanced font 'sans,11'
set output "/tmp/s3/cmp/latency.svg"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set logscale y 10
set ylabel 'µs (median over runs)'
set xtics norotate
set key outside right top
set grid ytics
unset xlabel
set yrange [10:*]
set multiplot layout 3,1 title 'get latency percentiles (closed loop; flashlat: cold = flash hits, hot = RAM hits under load)'
set title "get p50"
plot $lat using 2:xtic(1) lc rgb '#1b9e77' title "tiercache", $lat using 3:xtic(1) lc rgb '#d95f02' title "memcached", $lat using 4:xtic(1) lc rgb '#7570b3' title "memcached-ext"
set title "get p99"
plot $lat using 5:xtic(1) lc rgb '#1b9e77' title "tiercache", $lat using 6:xtic(1) lc rgb '#d95f02' title "memcached", $lat using 7:xtic(1) lc rgb '#7570b3' title "memcached-ext"
set title "get p99.9"
plot $lat using 8:xtic(1) lc rgb '#1b9e77' title "tiercache", $lat using 9:xtic(1) lc rgb '#d95f02' title "memcached", $lat using 10:xtic(1) lc rgb '#7570b3' title "memcached-ext"
unset multiplot
