# SPDX-License-Identifier: MIT
# Plots for docs/bench.md from viommu_bench --plot-data DIR output.
#   gnuplot -e "dir='DIR'; out='docs'" docs/bench.gp
# (scripts/bench-plots.sh runs the benchmark and this script.)
if (!exists("dir")) dir = "build/bench-plots"
if (!exists("out")) out = "docs"
set terminal pngcairo size 900,520 font "DejaVu Sans,10" noenhanced
set grid
set key top left

# Translate hit throughput against thread count (each thread on its own
# address space of one context), libviommu and the GHashTable+mutex baseline.
set output out."/bench-translate-threads.png"
set title "IOTLB-hit translate throughput (windows with all threads running)"
set xlabel "threads"
set ylabel "aggregate Mtranslations/s"
set xtics 1
set yrange [0:*]
set style data linespoints
plot dir."/translate_threads.dat" using 1:2 title "libviommu (lock-free hit)" lw 2 pt 7, \
     ""                          using 1:3 title "GHashTable + mutex (QEMU VT-d IOTLB shape)" lw 2 pt 5

# Replay of contiguously mapped 4 KiB pages: time and sink calls against size.
set output out."/bench-replay-sizes.png"
set multiplot layout 1,2 title "Replay of N contiguous 4 KiB pages to one MAP notifier"
set logscale xy
set xlabel "mapped size (bytes)"
set format x "%.0s%cB"
set xtics auto
set yrange [*:*]
set ylabel "time (ms)"
set title "replay time"
plot dir."/replay_sizes.dat" using 1:($2/1e6) title "libviommu (coalesced walk)" lw 2 pt 7, \
     ""                      using 1:($3/1e6) title "translate every page" lw 2 pt 5
set ylabel "sink calls"
set title "sink calls (VFIO ioctls)"
set yrange [0.5:*]
plot dir."/replay_sizes.dat" using 1:4 title "libviommu (coalesced)" lw 2 pt 7, \
     ""                      using 1:5 title "one per page" lw 2 pt 5
unset multiplot
