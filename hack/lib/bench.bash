# Shared set-up of the benchmark parts in hack/bench.d/ (sourced after `cd` to the
# repository root): where the build and the bench driver are, and the run counts.
# shellcheck shell=bash disable=SC2034 # the variables are for the sourcing part
ROOT=$PWD
BUILDDIR=${BUILDDIR:-build}
RUNS=${BENCH_RUNS:-200}
WARMUP=${BENCH_WARMUP:-20}
case $BUILDDIR in /*) BUILD=$BUILDDIR ;; *) BUILD=$ROOT/$BUILDDIR ;; esac
BENCHEXEC="$BUILD/test/tools/benchexec"
OURS="$BUILD/bin/docker-credential-dockhand"
