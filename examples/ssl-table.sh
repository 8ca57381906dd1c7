#!/usr/bin/env bash
# Paper 003's Table 6.1 on BUSI (benign / malignant / normal, 5-fold CV): SimCLR, MoCo v2 and
# BYOL encoders, each pretrained without its fold's test images, against random
# initialisation; read out with a linear probe on frozen embeddings (`medxfer ssl-eval`) and by
# fine-tuning everything (`medxfer train`, strategy full). Every step resumes after an
# interruption, so re-running the script continues where it stopped.
#
#   examples/ssl-table.sh                               # the paper's schedule (100 SSL epochs)
#   JOBS=2 SSL_EPOCHS=30 SSL_LR=1e-3 FT_EPOCHS=8 examples/ssl-table.sh   # a CPU budget
#   MOCO_EPOCHS=10 BYOL_EPOCHS=6 ...                    # per-method epochs (default SSL_EPOCHS)
#   SSL_VARIANT=t0.2 SSL_SET='method.temperature=0.2' ...   # extra `pretrain --set` settings
#                                    # (space-separated, no spaces inside one), named by the tag
#   CONTINUE=1 SSL_EPOCHS=60 ...     # train the finished 30-epoch encoders on to 60 epochs
#                                    # (`pretrain --continue-from`; constant schedule only)
#   EVAL_VARIANT=96px EVAL_SET='data.image_size=96' ...   # extra `--set` settings of every
#                                    # probe and fine-tuning run (random arms too), named by the tag
#
# JOBS runs that many pretraining / fine-tuning folds at once, each single-threaded
# (RAYON_NUM_THREADS=1); on a 2-core CPU, JOBS=2 finishes the table in about half the time of
# one multi-threaded process. Logs go to runs/table61/logs/.
#
# With few epochs the paper's Adam rate 0.014 learns less: on fold 0, SimCLR at 10 epochs gave a
# linear-probe balanced accuracy of 0.718 at 0.014 and 0.733 at 1e-3; 30 epochs at 1e-3, 0.778
# (random init 0.669).
#
# The linear probe's L2 strength is chosen per fold by CV on that fold's training rows
# (`ssl-eval --c auto`).
#
# Results: runs/table61/*-probe.json (per fold and mean accuracy, balanced accuracy, MCC,
# weighted F1), runs/table61/*-finetune/metrics.json (the same per fold, with CIs), and the
# table of both, mean ± sd over folds (`medxfer table`): runs/table61/table61.md and .csv.
set -euo pipefail
cd "$(dirname "$0")/.."

SSL_EPOCHS=${SSL_EPOCHS:-100}
SSL_LR=${SSL_LR:-0.014}
FT_EPOCHS=${FT_EPOCHS:-30}
METHODS=${METHODS:-"simclr moco byol"}
FOLDS=${FOLDS:-"0 1 2 3 4"}
JOBS=${JOBS:-1}
MEDXFER=${MEDXFER:-target/release/medxfer}
if [[ ! -x "$MEDXFER" ]]; then
  cargo build --release -p medxfer
fi
OUT=runs/table61
LOGS=$OUT/logs
mkdir -p "$LOGS"
EVAL=examples/ssl-busi-eval.toml
export MEDXFER OUT LOGS EVAL FT_EPOCHS SSL_LR
if (( JOBS > 1 )); then
  export RAYON_NUM_THREADS=1
fi

# "-$SSL_VARIANT" in the pretraining run names, so a variant never resumes the default's runs.
variant_tag() {
  if [[ -n ${SSL_VARIANT:-} ]]; then echo "-$SSL_VARIANT"; fi
}
if [[ -n ${SSL_SET:-} && -z ${SSL_VARIANT:-} ]]; then
  echo "SSL_SET changes pretraining: name the variant with SSL_VARIANT" >&2
  exit 2
fi
export -f variant_tag
# "-$EVAL_VARIANT" in the random arms' names (an SSL arm's names carry its SSL_VARIANT).
eval_tag() {
  if [[ -n ${EVAL_VARIANT:-} ]]; then echo "-$EVAL_VARIANT"; fi
}
if [[ -n ${EVAL_SET:-} && -z ${EVAL_VARIANT:-} ]]; then
  echo "EVAL_SET changes the evaluation: name it with EVAL_VARIANT" >&2
  exit 2
fi
export -f eval_tag
# Appends `--set SETTING` for each space-separated setting of $2 to the array named $1 (word
# splitting without globbing `[...]`).
add_set_flags() {
  local -n flags=$1
  local settings setting
  read -ra settings <<<"$2"
  for setting in "${settings[@]}"; do flags+=(--set "$setting"); done
}
export -f add_set_flags
EVAL_ARGS=()
add_set_flags EVAL_ARGS "${EVAL_SET:-}"

epochs_of() { # per-method override, e.g. MOCO_EPOCHS, else SSL_EPOCHS
  local var="${1^^}_EPOCHS"
  echo "${!var:-$SSL_EPOCHS}"
}
finetune_dir() {
  if [[ $1 == random ]]; then echo "$OUT/random$(eval_tag)-ft$FT_EPOCHS-finetune"; else
    echo "$OUT/$1-e$(epochs_of "$1")-lr$SSL_LR$(variant_tag)$(eval_tag)-ft$FT_EPOCHS-finetune"; fi
}
encoders_of() {
  echo "$OUT/ssl-$1-e$(epochs_of "$1")-lr$SSL_LR$(variant_tag)-fold{fold}/encoder.bpk"
}

# One line per job: "pretrain METHOD FOLD EPOCHS" or "finetune METHOD FOLD". Method by method,
# a fold's fine-tuning comes after the method's pretraining jobs and waits for its fold's
# encoder, so one method's whole row is done before the next method starts.
jobs_file=$(mktemp)
trap 'rm -f "$jobs_file"' EXIT
for fold in $FOLDS; do echo "finetune random $fold"; done >>"$jobs_file"
for method in $METHODS; do
  for fold in $FOLDS; do echo "pretrain $method $fold $(epochs_of "$method")"; done
  for fold in $FOLDS; do echo "finetune $method $fold"; done
done >>"$jobs_file"

run_job() {
  local kind=$1 method=$2 fold=$3 epochs=${4:-}
  local tag # what the job's result depends on
  if [[ $kind == pretrain ]]; then tag=$(variant_tag); elif [[ $method == random ]]; then
    tag=$(eval_tag); else tag=$(variant_tag)$(eval_tag); fi
  local log="$LOGS/$kind-$method$tag-fold$fold.log"
  local eval_args=()
  add_set_flags eval_args "${EVAL_SET:-}"
  echo "$(date +%T) start $kind $method fold $fold" >&2
  if [[ $kind == pretrain ]]; then
    local continue_args=() variant_args=() shorter
    add_set_flags variant_args "${SSL_SET:-}"
    if [[ ${CONTINUE:-0} == 1 ]] && shorter=$(longest_shorter_run "$method" "$fold" "$epochs"); then
      continue_args=(--continue-from "$shorter")
    fi
    "$MEDXFER" pretrain --no-progress --config "examples/ssl-$method.toml" "${continue_args[@]}" \
      "${variant_args[@]}" --set exclude.fold="$fold" --set train.epochs="$epochs" --set train.lr="$SSL_LR" \
      --set out_dir="$OUT/ssl-$method-e$epochs-lr$SSL_LR$(variant_tag)-fold$fold" \
      >"$log" 2>&1
  elif [[ $method == random ]]; then
    "$MEDXFER" train --no-progress --config "$EVAL" --fold "$fold" "${eval_args[@]}" \
      --set model.init=scratch --set 'train.strategy={kind="scratch"}' \
      --set train.epochs="$FT_EPOCHS" --set out_dir="$FINETUNE_DIR" >"$log" 2>&1
  else
    local encoder=${ENCODERS//\{fold\}/$fold} waited=0
    until [[ -f $encoder ]]; do
      (( waited++ % 20 == 0 )) && echo "$(date +%T) $method fold $fold waits for $encoder" >&2
      sleep 30
    done
    "$MEDXFER" train --no-progress --config "$EVAL" --fold "$fold" "${eval_args[@]}" \
      --set "model.init=\"ssl:$ENCODERS\"" --set 'train.strategy={kind="full"}' \
      --set train.epochs="$FT_EPOCHS" --set out_dir="$FINETUNE_DIR" >"$log" 2>&1
  fi
  local status=$?
  if (( status != 0 )); then
    echo "$(date +%T) FAILED $kind $method fold $fold (exit $status): see $log" >&2
    return "$status"
  fi
  echo "$(date +%T) done  $kind $method fold $fold" >&2
}
export -f run_job

# The finished run of this method, rate and fold with the most epochs below $3, if any.
longest_shorter_run() {
  local method=$1 fold=$2 epochs=$3 best="" best_epochs=0 dir e
  local tag
  tag=$(variant_tag)
  for dir in "$OUT"/ssl-"$method"-e*-lr"$SSL_LR$tag"-fold"$fold"; do
    [[ -f $dir/encoder.bpk ]] || continue
    e=${dir#"$OUT/ssl-$method-e"}
    e=${e%%-*}
    if (( e < epochs && e > best_epochs )); then best=$dir best_epochs=$e; fi
  done
  [[ -n $best ]] && echo "$best"
}
export -f longest_shorter_run

# Each job learns its own method's folders through ENCODERS / FINETUNE_DIR.
job_line() {
  local kind=$1 method=$2
  local enc=""
  [[ $method != random ]] && enc=$(encoders_of "$method")
  printf 'ENCODERS=%q FINETUNE_DIR=%q run_job %s\n' "$enc" "$(finetune_dir "$method")" "$*"
}
while read -r line; do job_line $line; done <"$jobs_file" |
  xargs -d '\n' -P "$JOBS" -I{} bash -c '{}'

# Per method: the linear probe on every fold's frozen encoder, and the fine-tuning run
# assembled from its folds (predictions, metrics with CIs).
unset RAYON_NUM_THREADS
for method in $METHODS; do
  "$MEDXFER" ssl-eval --encoder "$(encoders_of "$method")" --config "$EVAL" "${EVAL_ARGS[@]}" \
    --out "$OUT/$method-e$(epochs_of "$method")-lr$SSL_LR$(variant_tag)$(eval_tag)-probe.json"
  "$MEDXFER" train --no-progress --config "$EVAL" "${EVAL_ARGS[@]}" \
    --set "model.init=\"ssl:$(encoders_of "$method")\"" --set 'train.strategy={kind="full"}' \
    --set train.epochs="$FT_EPOCHS" --set out_dir="$(finetune_dir "$method")"
done
"$MEDXFER" ssl-eval --encoder random --config "$EVAL" "${EVAL_ARGS[@]}" \
  --out "$OUT/random$(eval_tag)-probe.json"
"$MEDXFER" train --no-progress --config "$EVAL" "${EVAL_ARGS[@]}" \
  --set model.init=scratch --set 'train.strategy={kind="scratch"}' \
  --set train.epochs="$FT_EPOCHS" --set out_dir="$(finetune_dir random)"

arms=("Random/probe=$OUT/random$(eval_tag)-probe.json" "Random/fine-tuned=$(finetune_dir random)")
for method in $METHODS; do
  name="$method ($(epochs_of "$method") epochs"
  [[ -n ${SSL_VARIANT:-} ]] && name+=", $SSL_VARIANT"
  name+=")"
  arms+=("$name/probe=$OUT/$method-e$(epochs_of "$method")-lr$SSL_LR$(variant_tag)$(eval_tag)-probe.json")
  arms+=("$name/fine-tuned=$(finetune_dir "$method")")
done
"$MEDXFER" table --row-heading Initialisation --per-fold \
  --out "$OUT/table61.md" --csv "$OUT/table61.csv" "${arms[@]}"
