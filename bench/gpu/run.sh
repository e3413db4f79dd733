#!/usr/bin/env bash
# The CUDA path's first run, in one command on a GPU machine with no Node and no network (see bench/README.md):
#   bash bench/gpu/run.sh [--kit .carry/kit.tar.xz] [--out DIR] [--cpu] [--ops PATTERN] [--budget SECONDS]
# Unpacks the kit (npm run gpu:kit), builds the addon cleanly for the GPU it finds, then runs each step under
# its own time limit with its own log in the output folder ($OUT, else ./gpu-run-out), going on past a failure:
#   1 op suite   2 engine parity CPU vs CUDA (f32 head dim 64 within 1e-4; bf16 within 2e-2)
#   3 parity against Hugging Face Transformers   4 throughput, Sluice vs HF generate()
# and prints one summary table. --cpu: CPU backend, tiny shapes, no HF step (what CI runs). --ops: only the op
# suite's test files matching PATTERN (a jest path pattern). --budget: the whole run ends within SECONDS (each step's
# limit shrinks to what is left, a step with under 20 s left is skipped), so a device call's own limit never cuts
# the summary off.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
kit="$here/../../.carry/kit.tar.xz"
out="${OUT:-$PWD/gpu-run-out}"
cpu=0
ops=""
budget=0
while [ $# -gt 0 ]; do
  case "$1" in
    --kit) kit="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --cpu) cpu=1; shift ;;
    --ops) ops="$2"; shift 2 ;;
    --budget) budget="$2"; shift 2 ;;
    *) echo "run.sh: unknown argument '$1' (--kit FILE, --out DIR, --cpu, --ops PATTERN, --budget SECONDS)" >&2; exit 2 ;;
  esac
done
[[ "$budget" =~ ^[0-9]+$ ]] || { echo "run.sh: --budget takes whole seconds, not '$budget'" >&2; exit 2; }
[ -f "$kit" ] || { echo "run.sh: no kit at $kit; build it with 'npm run gpu:kit'" >&2; exit 2; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-gpu-run.XXXXXX")"
trap 'rm -rf "$work"' EXIT
summary="$out/summary.tsv"
: >"$summary"
started=$(date +%s)
deadline=$(( budget > 0 ? started + budget : 0 ))

# step NAME LIMIT_S CMD...: runs CMD with its output in $out/NAME.log; records status, seconds and the log's last line.
step() {
  local name="$1" limit="$2"; shift 2
  local t0=$(date +%s) rc
  if [ "$deadline" -gt 0 ]; then
    local left=$(( deadline - t0 - 5 ))
    if [ "$left" -lt 20 ]; then printf '%s\tBUDGET\t-\tnot run: out of --budget (%s s)\n' "$name" "$budget" | tee -a "$summary"; return 125; fi
    [ "$left" -lt "$limit" ] && limit=$left
  fi
  echo "== $name (limit ${limit}s)"
  # bash -c so that a step may be one of this script's (exported) functions.
  timeout --kill-after=10 "$limit" bash -c '"$@"' step "$@" >"$out/$name.log" 2>&1
  rc=$?
  local status=ok
  [ $rc -eq 124 ] && status="TIMEOUT" || { [ $rc -ne 0 ] && status="FAIL($rc)"; }
  local last
  last="$(grep -v '^\s*$' "$out/$name.log" | tail -n 1 | cut -c1-600)"
  printf '%s\t%s\t%ss\t%s\n' "$name" "$status" "$(( $(date +%s) - t0 ))" "$last" | tee -a "$summary"
  return $rc
}
skip() { printf '%s\tskipped\t-\t%s\n' "$1" "$2" | tee -a "$summary"; }

echo "== unpacking $kit"
tar -xJf "$kit" -C "$work" || { echo "run.sh: cannot unpack $kit" >&2; exit 1; }
repo="$work/kit/repo"
export PATH="$work/kit/node/bin:$PATH"
export SLUICE_MODELS_DIR="$work/models"
node --version >"$out/node.txt" 2>&1 || { echo "run.sh: the kit's node does not run here" >&2; exit 1; }

# cuBLAS may sit outside the toolkit (PyTorch's nvidia wheels): find a folder with lib*/libcublas.so* and include/.
find_cublas() {
  local lib
  for lib in $( (ls /usr/local/cuda*/lib64/libcublas.so* /usr/local/cuda*/targets/*/lib/libcublas.so* 2>/dev/null; \
      python3 -c 'import nvidia, os; [print(os.path.join(p, r, f)) for p in nvidia.__path__ for r, _, fs in os.walk(p) for f in fs if f.startswith("libcublas.so")]' 2>/dev/null) | head -n 5); do
    local root; root="$(dirname "$(dirname "$lib")")"
    if [ -f "$root/include/cublas_v2.h" ]; then echo "$root"; return 0; fi
  done
  return 1
}

build() {
  cd "$repo/libs/cuda-kernels" || return 1
  rm -rf build
  if [ "$cpu" = 1 ]; then
    SLUICE_CPU_ONLY=1 node scripts/build-native.mjs
  else
    local arch root
    arch="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d '.')"
    echo "GPU: $(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1), sm_$arch"
    if [ ! -f /usr/local/cuda/include/cublas_v2.h ] && root="$(find_cublas)"; then
      echo "cuBLAS found outside the toolkit: $root"
      export SLUICE_CUBLAS_ROOT="$root" LD_LIBRARY_PATH="$root/lib:$root/lib64:${LD_LIBRARY_PATH:-}"
    fi
    SLUICE_CUDA=1 SLUICE_CUDA_ARCHS="$arch" node scripts/build-native.mjs
  fi
}

models() {
  local tok="$repo/.cache/models/tiny-llama" shapes="parity parity-bf16 llama-1b"
  [ "$cpu" = 1 ] && shapes="tiny"
  for s in $shapes; do node "$repo/bench/gpu/write-model.mjs" "$SLUICE_MODELS_DIR/$s" --shape "$s" --tokenizer-from "$tok" || return 1; done
}

parity() { # parity NAME MODEL TOL: Sluice on the CPU against Sluice on the device (or the CPU itself with --cpu)
  local dev=cuda; [ "$cpu" = 1 ] && dev=cpu
  node "$repo/bench/gpu/parity.mjs" run --model "$2" --device cpu --out "$out/$1-cpu.json" \
    && node "$repo/bench/gpu/parity.mjs" run --model "$2" --device "$dev" --out "$out/$1-device.json" \
    && node "$repo/bench/gpu/parity.mjs" compare "$out/$1-cpu.json" "$out/$1-device.json" --tol "$3"
}
export repo cpu out deadline budget summary
export -f find_cublas build models parity step skip
step build 300 build
built=$?
# The build's environment (SLUICE_CUBLAS_ROOT) was set in a subshell: find it again for the steps' library path.
if [ "$cpu" = 0 ] && [ ! -f /usr/local/cuda/include/cublas_v2.h ] && root="$(find_cublas)"; then
  export LD_LIBRARY_PATH="$root/lib:$root/lib64:${LD_LIBRARY_PATH:-}"
fi
step models 120 models
if [ $built -ne 0 ]; then
  skip ops "the addon did not build (build.log)"
else
  devices=cpu,cuda; [ "$cpu" = 1 ] && devices=cpu
  (cd "$repo/libs/cuda-kernels" && FORCE_COLOR=0 SLUICE_KERNEL_DEVICES=$devices step ops 180 node "$repo/node_modules/jest/bin/jest.js" --ci ${ops:+--testPathPatterns "$ops"})
  if [ "$cpu" = 1 ]; then
    step parity-f32 120 parity parity-f32 "$SLUICE_MODELS_DIR/tiny" 1e-4
    skip parity-bf16 "--cpu: the CPU backend widens bf16 to f32"
    skip parity-hf "--cpu: no Transformers step"
    step throughput-sluice 120 node "$repo/bench/gpu/throughput.mjs" --model "$SLUICE_MODELS_DIR/tiny" --device cpu --requests 16 --prompt 32 --output 16
    step latency-sluice 60 node "$repo/bench/gpu/throughput.mjs" --model "$SLUICE_MODELS_DIR/tiny" --device cpu --requests 1 --prompt 16 --output 16
    skip throughput-hf "--cpu: no Transformers step"
  else
    step parity-f32 120 parity parity-f32 "$SLUICE_MODELS_DIR/parity" 1e-4
    step parity-bf16 120 parity parity-bf16 "$SLUICE_MODELS_DIR/parity-bf16" 2e-2
    step parity-hf 120 bash -c "python3 '$repo/bench/gpu/hf.py' logits --model '$SLUICE_MODELS_DIR/parity' --prompts-from '$out/parity-f32-device.json' --out '$out/parity-hf.json' && node '$repo/bench/gpu/parity.mjs' compare '$out/parity-hf.json' '$out/parity-f32-device.json' --tol 1e-4"
    step throughput-sluice 150 node "$repo/bench/gpu/throughput.mjs" --model "$SLUICE_MODELS_DIR/llama-1b" --device cuda --requests 512 --prompt 512 --output 256
    step latency-sluice 60 node "$repo/bench/gpu/throughput.mjs" --model "$SLUICE_MODELS_DIR/llama-1b" --device cuda --requests 1 --prompt 128 --output 256
    step throughput-hf 150 python3 "$repo/bench/gpu/hf.py" generate --model "$SLUICE_MODELS_DIR/llama-1b" --requests 512 --prompt 512 --output 256 --batch 128
  fi
fi

echo
echo "== summary ($(( $(date +%s) - started ))s in all; logs in $out)"
column -t -s $'\t' "$summary" 2>/dev/null || cat "$summary"
! cut -f2 "$summary" | grep -qE '^(FAIL|TIMEOUT|BUDGET)'
