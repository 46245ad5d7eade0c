#!/usr/bin/env bash
# The GPU race, run from the folder tools/gpu_pack.ts builds (gpu-pack/), on a bare x86-64 Linux machine with an
# NVIDIA GPU and PyTorch, no registry and no Deno:
#
#   bash gpu-pack/run.sh LOGDIR [--rehearse]
#
# Unpacks deno, finds the Vulkan ICD, probes the adapter and prints it, then races our WebGPU engine at the paper's
# MNIST model (training at batch 100 and 1,000, generation) against the PyTorch peer (draw_torch.py bench, on CUDA
# where torch has it), alternating, each step under its own time cap so that the whole ends in about 5 minutes, and
# the tfjs graph on the same adapter once. Every log goes to LOGDIR; the table is printed at the end and written to
# LOGDIR/table.md. --rehearse: sizes a software adapter binds (batch 10 and 20, T 16), for tools/gpu_rehearse.ts.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: run.sh LOGDIR [--rehearse]}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rehearse=${2:-}
say() { echo "gpu race: $*" | tee -a "$out/race.log" >&2; }
start=$(date +%s)

# 1. deno, from deno.xz (xz where there is one, else python3's lzma)
deno="$here/bin/deno"
if [[ ! -x "$deno" ]]; then
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$here/bin/deno.xz" >"$deno.part"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      "$here/bin/deno.xz" "$deno.part"
  fi && chmod +x "$deno.part" && mv "$deno.part" "$deno" || { say "cannot unpack deno"; exit 1; }
fi
say "$("$deno" --version | head -n 1) ($(($(date +%s) - start)) s to unpack)"

# 2. the loaders (libvulkan, libEGL) carried in lib/, and the GPU's Vulkan ICD
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
icds=()
for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d; do
  for f in "$d"/*.json; do [[ -f "$f" ]] && icds+=("$f"); done
done
if [[ ${#icds[@]} -eq 0 ]]; then
  # NVIDIA's driver ships its Vulkan ICD inside libGLX_nvidia; containers often leave out the JSON that names it
  nv=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia.so.0/ {print $NF; exit}')
  for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [[ -z "$nv" && -f "$d/libGLX_nvidia.so.0" ]] && nv="$d/libGLX_nvidia.so.0"
  done
  if [[ -n "$nv" ]]; then
    mkdir -p "$here/icd"
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$nv" \
      >"$here/icd/nvidia_icd.json"
    icds+=("$here/icd/nvidia_icd.json")
  fi
fi
if [[ ${#icds[@]} -gt 0 ]]; then
  export VK_ICD_FILENAMES=$(IFS=:; echo "${icds[*]}")
  say "Vulkan ICDs: $VK_ICD_FILENAMES"
else
  say "no Vulkan ICD found (looked in the usual icd.d folders and for libGLX_nvidia.so.0)"
fi
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
  2>&1 | sed 's/^/gpu race: nvidia-smi: /' | tee -a "$out/race.log" >&2

# 3. deno with nothing from the network: an empty DENO_DIR, the bundles alone
export DENO_DIR="$here/.deno-dir" DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
mkdir -p "$DENO_DIR"
race() { "$deno" run -A --no-config --no-lock "$here/bin/race.js" "$@"; }
if race --probe >"$out/probe.json" 2>"$out/probe.log"; then
  say "adapter: $(cat "$out/probe.json")"
  gpu=1
else
  say "no WebGPU adapter: $(tail -n 5 "$out/probe.log" | tr '\n' ' ') (Vulkan loader: $(ldconfig -p 2>/dev/null |
    grep -c libvulkan) system copies, $(ls "$here/lib" 2>/dev/null | grep -c libvulkan) carried)"
  gpu=0
fi

# 4. the race, alternating; each run capped
if [[ "$rehearse" == "--rehearse" ]]; then sizes="10 20"; T=16; steps=3; cap=60; else sizes="100 1000"; T=64; steps=20; cap=40; fi
device=cpu
python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null && device=cuda
peer() {
  local b=$1
  if ! python3 -c 'import torch' 2>/dev/null; then
    echo "{\"who\":\"PyTorch peer\",\"device\":\"-\",\"batch\":$b,\"T\":$T,\"note\":\"torch not installed\"}"
    return
  fi
  OPENBLAS_NUM_THREADS=$(nproc) timeout $((cap + 60)) python3 -W ignore "$here/peer/draw_torch.py" bench \
    --device "$device" --batch "$b" --T "$T" --steps "$steps" 2>>"$out/peer.log" | tail -n 1 ||
    echo "{\"who\":\"PyTorch peer\",\"device\":\"$device\",\"batch\":$b,\"T\":$T,\"note\":\"failed or timed out\"}"
}
ours() {
  local b=$1 engine=$2
  timeout $((cap + 60)) "$deno" run -A --no-config --no-lock "$here/bin/race.js" --engine "$engine" --batch "$b" \
    --T "$T" --steps "$steps" --seconds "$cap" --generate "$b" 2>>"$out/ours.log" | tail -n 1 |
    grep . || echo "{\"who\":\"draw.ts $engine\",\"device\":\"-\",\"batch\":$b,\"T\":$T,\"note\":\"failed or timed out\"}"
}
for b in $sizes; do
  if [[ $gpu == 1 ]]; then
    say "draw.ts WebGPU engine, batch $b"
    ours "$b" webgpu >"$out/ours-webgpu-$b.json"
  fi
  say "PyTorch peer ($device), batch $b"
  peer "$b" >"$out/peer-$device-$b.json"
done
first=${sizes%% *}
if [[ $gpu == 1 ]]; then
  say "tfjs graph on the same adapter, batch $first"
  ours "$first" tfjs >"$out/ours-tfjs-$first.json"
fi

# 5. the table
race --table "$out" | tee "$out/table.md"
say "done in $(($(date +%s) - start)) s"
