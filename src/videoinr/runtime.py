"""Runtime policy: which device, and how a job's numerics run (compiled renderer, bf16), decided once.

The model (`videoinr.models`) only obeys explicit switches (`compile_render`, `encode_bf16`, `render_bf16`,
all False by default: plain float32, eager). The commands decide them here, once per job, from explicit
settings, the environment and the hardware, before the first frame, never from elapsed time, so the same
input, model and settings give the same output bits, interrupted and resumed or not.

Environment overrides (read here only): VIDEOINR_COMPILE, VIDEOINR_ENCODE_BF16, VIDEOINR_RENDER_BF16 = 0/1.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass

import torch

from videoinr.errors import VideoINRError

__all__ = ["cpu_info", "Policy", "inference_policy", "native_bf16", "pick_device", "compile_pays_back",
           "compile_cache_dir", "compile_seconds", "record_compile_seconds", "COMPILE_MIN_PIXELS"]

# The compile decision's cost model (lite, 2-core CPU, quiet; docs/MEASUREMENTS.md): the renderer costs
# EAGER_S_PER_PX eagerly and COMPILED_S_PER_PX compiled per output pixel, and compiling it costs
# `compile_seconds()`: the fastest compile measured on this machine with this torch and renderer source
# (recorded beside the compiled renderer functions in compile_cache_dir(), which later processes load
# instead of compiling: ~1.5 s instead of ~30-40 s; models/compile.py), else COMPILE_COLD_S. A job
# compiles when its saving over its pixels pays that back. The decision is made once per job, before the
# first frame (never from elapsed time inside the job), and a resumed job keeps it (the work folder's
# settings hold the policy).
EAGER_S_PER_PX = 1.06e-6
COMPILED_S_PER_PX = 0.22e-6
COMPILE_COLD_S = 40.0
# the threshold in output pixels (summed over frames) for a cold compile: ~48 M, about 23 frames of 1080p
COMPILE_MIN_PIXELS = COMPILE_COLD_S / (EAGER_S_PER_PX - COMPILED_S_PER_PX)
COMPILE_RECORD = "videoinr-compile-seconds.json"  # in compile_cache_dir(): {machine key: seconds}


def _compile_key() -> str:
    """What a recorded compile time is valid for: this torch, Python and CPU and the renderer's source, as the
    compiled renderers saved beside it (`models.compile.source_key`)."""
    import platform

    from videoinr.models.compile import source_key

    return f"torch {torch.__version__}, python {platform.python_version()}, {cpu_info()['model_name']}, {source_key()}"


def compile_seconds() -> float:
    """The seconds a job expects compiling the renderer to cost here: the fastest compile recorded in
    compile_cache_dir() for this torch, Python and CPU (`record_compile_seconds`), else COMPILE_COLD_S.
    Clearing the cache folder clears the record with the artefacts it describes."""
    import json

    try:
        with open(os.path.join(compile_cache_dir(), COMPILE_RECORD)) as f:
            value = float(json.load(f)[_compile_key()])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return COMPILE_COLD_S
    return value if 0 < value <= COMPILE_COLD_S else COMPILE_COLD_S


def record_compile_seconds(seconds: float) -> None:
    """Note the measured cost of a compile (first compiled render of a process minus its render time) in
    compile_cache_dir(), keeping the fastest; best effort (an unwritable cache folder records nothing)."""
    import json

    from videoinr.fileio import atomic_write_bytes

    if not 0 < seconds < float("inf"):
        return
    path = os.path.join(compile_cache_dir(), COMPILE_RECORD)
    try:
        with open(path) as f:
            record = json.load(f)
        if not isinstance(record, dict):
            record = {}
    except (OSError, ValueError):
        record = {}
    key = _compile_key()
    old = record.get(key)
    if isinstance(old, (int, float)) and 0 < old <= seconds:
        return
    record[key] = round(float(seconds), 2)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write_bytes(path, json.dumps(record, indent=1, sort_keys=True).encode())
    except OSError:
        pass


def compile_pays_back(output_pixels: float, compile_s: float | None = None) -> bool:
    """Whether compiling the renderer for a job of `output_pixels` pays back its compile (`compile_s`,
    default `compile_seconds()`) within the job."""
    if compile_s is None:
        compile_s = compile_seconds()
    return output_pixels * (EAGER_S_PER_PX - COMPILED_S_PER_PX) >= compile_s


def _torch_default_cache_dir() -> str:
    """The folder inductor falls back to (and writes into $TORCHINDUCTOR_CACHE_DIR once torch._dynamo is
    imported): TMPDIR/torchinductor_USER, by inductor's own rule (not imported from it: importing
    torch._inductor creates that folder)."""
    import getpass
    import re
    import tempfile

    try:
        user = getpass.getuser()
    except (KeyError, ModuleNotFoundError, OSError):
        user = f"uid_{os.getuid()}" if hasattr(os, "getuid") else "unknown_user"
    return os.path.abspath(os.path.join(tempfile.gettempdir(), "torchinductor_" + re.sub(r'[\\/:*?"<>|]', "_", user)))


def compile_cache_dir() -> str:
    """Where compiled renderers are cached across runs: $TORCHINDUCTOR_CACHE_DIR if the user set it, else
    $XDG_CACHE_HOME/videoinr/inductor (default ~/.cache/videoinr/inductor). Inductor's own temporary default,
    which importing torch._dynamo writes into that variable, does not count as set."""
    chosen = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if chosen and os.path.abspath(chosen) != _torch_default_cache_dir():
        return chosen
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "videoinr", "inductor")


def use_compile_cache() -> str:
    """Point torch inductor's on-disk caches (FX graph cache, compiled kernels) and the renderer's compiled
    functions (`models.compile.set_artefact_folder`: loaded by later processes instead of compiled again) at
    compile_cache_dir(), before the first compile; returns the folder."""
    from videoinr.models.compile import set_artefact_folder

    path = compile_cache_dir()
    os.makedirs(path, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = path
    os.environ.setdefault("TORCHINDUCTOR_FX_GRAPH_CACHE", "1")
    set_artefact_folder(os.path.join(path, "renderer"))
    return path


@functools.lru_cache(maxsize=None)
def _read_cpuinfo() -> tuple[str | None, frozenset[str]]:
    """(model name, flags) of the first CPU listed in /proc/cpuinfo; (None, no flags) where unreadable."""
    name, flags = None, None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if name is None and line.startswith("model name"):
                    name = line.partition(":")[2].strip()
                elif flags is None and line.startswith("flags"):
                    flags = frozenset(line.partition(":")[2].split())
                if name is not None and flags is not None:
                    break
    except OSError:
        pass
    return name, flags or frozenset()


def cpu_info() -> dict:
    """This machine's CPU from /proc/cpuinfo (read once): {"model_name": str or None, "flags": frozenset of
    the first CPU's feature flags (empty where /proc/cpuinfo cannot be read)}. The one reader of that file."""
    name, flags = _read_cpuinfo()
    return {"model_name": name, "flags": flags}


def _cpu_has_native_bf16() -> bool:
    flags = cpu_info()["flags"]
    return "avx512_bf16" in flags or "amx_bf16" in flags


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 convolutions run natively (faster than float32) on `device`: a CUDA GPU with bf16, or
    a CPU with AVX512-BF16 / AMX (read from /proc/cpuinfo; False where it cannot be read)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and _cpu_has_native_bf16()


def _env_switch(name: str) -> bool | None:
    text = os.environ.get(name, "").strip()
    if text in ("", "auto"):
        return None
    if text not in ("0", "1"):
        raise VideoINRError(f"environment variable {name}={text!r}: expected 0 or 1")
    return text == "1"


def pick_device(name: str | torch.device = "auto", *, allow_mps: bool = True, what: str = "--device") -> torch.device:
    """'auto' (CUDA, else Apple MPS, else CPU), 'cpu', 'cuda', 'cuda:N' or 'mps'; one-line error (naming the
    setting `what`) if absent. Under torchrun, 'auto' and 'cuda' take the GPU of the process's LOCAL_RANK.
    allow_mps=False (training: DDP has no MPS backend) makes 'auto' skip MPS and refuses 'mps'."""
    name = str(name).lower()
    choices = "auto, cpu, cuda, cuda:N or mps" if allow_mps else "auto, cpu, cuda or cuda:N"
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        else:
            mps = getattr(torch.backends, "mps", None)
            return torch.device("mps" if allow_mps and mps is not None and mps.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise VideoINRError(f"{what} {name!r}: expected {choices}") from None
    if dev.type not in ("cpu", "cuda", "mps") or (dev.type == "mps" and not allow_mps):
        raise VideoINRError(f"{what} {name!r}: expected {choices}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VideoINRError(f"{what} {name}: CUDA is not available on this machine")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise VideoINRError(f"{what} {name}: MPS is not available on this machine")
    if dev.type == "cuda" and dev.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
    return dev


@dataclass(frozen=True)
class Policy:
    """A job's numerics. compile_render: render through torch.compile (CPU inference). encode_bf16: the
    encoder under bf16 autocast. render_bf16: the renderer's per-point GEMMs in bf16."""

    compile_render: bool = False
    encode_bf16: bool = False
    render_bf16: bool = False

    def apply(self, model: torch.nn.Module) -> torch.nn.Module:
        """Set the model's switches to this policy (a compiling one also points inductor's cache at
        `compile_cache_dir()`, kept across runs); returns the model."""
        for key, value in dataclasses.asdict(self).items():
            setattr(model, key, value)
        if self.compile_render:
            try:
                use_compile_cache()
            except OSError:  # an unwritable cache folder: inductor's default (a temporary folder)
                pass
        return model


def inference_policy(device: torch.device, output_pixels: float, *, compile: bool | None = None,
                     encode_bf16: bool | None = None, render_bf16: bool | None = None) -> Policy:
    """The policy of an inference job rendering `output_pixels` pixels in all (frames x height x width).

    Each switch: the explicit argument, else its environment variable, else the default: compile on a CPU
    for jobs whose size pays back the compile (`compile_pays_back`: the measured cost on this machine, else a cold one); encoder in bf16 where bf16 is native (same PSNR, faster); GEMMs
    in bf16 only in the compiled CPU renderer on native-bf16 CPUs. Why: docs/MEASUREMENTS.md."""
    if compile is None:
        compile = _env_switch("VIDEOINR_COMPILE")
    if compile is None:
        compile = device.type == "cpu" and compile_pays_back(output_pixels)
    if encode_bf16 is None:
        encode_bf16 = _env_switch("VIDEOINR_ENCODE_BF16")
    if encode_bf16 is None:
        encode_bf16 = native_bf16(device)
    if render_bf16 is None:
        render_bf16 = _env_switch("VIDEOINR_RENDER_BF16")
    if render_bf16 is None:
        render_bf16 = compile and device.type == "cpu" and native_bf16(device)
    return Policy(bool(compile), bool(encode_bf16), bool(render_bf16))
