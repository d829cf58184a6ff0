set terminal svg size 760,520 dynamic enhanced font 'sans,11'
set grid
set key outside below center horizontal maxrows 2
$tiercacheget_s << EOD
4 32489.5 29888.5 32629.5
8 25014 22558 27682.5
16 24574.5 20314 25432
EOD
$memcachedget_s << EOD
4 121939 119661 122542
8 124948 111068 127944
16 135354 96844.5 138450
EOD
$memcached_extget_s << EOD
4 95693.5 94874.5 97601
8 107732 102373 109164
16 118892 57277.5 125566
EOD
$tiercachehits_s << EOD
4 32489.5 29888.5 32629.5
8 25012.5 22556.5 27681
16 24572.5 20313 25430
EOD
$memcachedhits_s << EOD
4 34883 34237.5 35111.4
8 19021.5 16929 19475
16 11307 8071.5 11554.4
EOD
$memcached_exthits_s << EOD
4 27502 27414.5 28212
8 16507 15628.5 16686.5
16 10030.4 4807.99 10561.4
EOD
set output "/work/main/bench/results/throughput.svg"
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
8 99.994 99.9934 99.9946
16 99.9921 99.9919 99.9951
EOD
$memcachedhit << EOD
4 28.6121 28.6069 28.6527
8 15.2235 15.2216 15.2421
16 8.3456 8.3345 8.3536
EOD
$memcached_exthit << EOD
4 28.8955 28.7397 28.9054
8 15.2858 15.2662 15.3223
16 8.4111 8.3942 8.4366
EOD
set output "/work/main/bench/results/hitratio.svg"
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
ram100 67.583 115.711 120.831 1392.64 1572.86 1712.13 4325.38 4456.45 2801.66
ram1k 73.215 119.295 120.319 1302.53 1630.21 1720.32 4292.61 4554.75 3063.81
json4x 573.439 121.855 286.719 5406.72 1507.33 1146.88 11403.3 4685.82 1597.44
json8x 716.799 112.127 225.279 9437.18 1859.58 1318.91 15269.9 4816.9 2129.92
json16x 638.975 100.863 127.487 9895.93 2007.04 1368.06 13893.6 4489.22 2490.37
small8x 860.159 113.151 113.151 15401 4161.53 3063.81 20578.3 5439.49 4063.23
flashlat 798.719 106.495 123.391 9633.79 1884.16 1368.06 13959.2 4194.3 2064.38
hot-RAM 561.151 417.791 790.527 9895.93 3489.79 4849.66 13500.4 5013.5 8650.75
EOD
set terminal svg size 1000,900 dynamic enhanced font 'sans,11'
set output "/work/main/bench/results/latency.svg"
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
