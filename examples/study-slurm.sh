#!/usr/bin/env bash
# A medxfer study as a Slurm job array: each array task runs one shard of the grid (every
# n-th cell), reading its index from SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) and the
# shard count from SLURM_ARRAY_TASK_COUNT, which Slurm sets. All tasks write their cells under
# the study's out_dir on a shared file system; re-submitting skips finished cells and resumes
# unfinished ones. Each task also writes its cells into STUDY_DIR/study.sqlite as they finish;
# SQLite's WAL mode does not work across machines on a network file system (NFS, Lustre), so
# there set MEDXFER_STUDY_FLAGS=--no-store and build the store once at the end. Afterwards:
#   medxfer study merge runs/study-busi-strategies
#   medxfer study report runs/study-busi-strategies --out report.html
#
#   sbatch examples/study-slurm.sh [STUDY.toml]      # from the repository's root
#
#SBATCH --job-name=medxfer-study
#SBATCH --array=0-1
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --output=medxfer-study-%A_%a.log
set -euo pipefail
STUDY=${1:-examples/study-busi-strategies.toml}
MEDXFER=${MEDXFER:-medxfer}
if [[ -n ${SLURM_CPUS_PER_TASK:-} ]]; then
  export RAYON_NUM_THREADS=$SLURM_CPUS_PER_TASK
fi
# shellcheck disable=SC2086 # MEDXFER_STUDY_FLAGS holds flags, split on purpose
exec "$MEDXFER" study run "$STUDY" --no-progress ${MEDXFER_STUDY_FLAGS:-}
