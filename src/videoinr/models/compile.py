"""The compiled path of large renders: precompiled renderer functions, kept across processes, and the fallback
to eager.

Per point the renderer's work is small GEMMs plus elementwise sin/add/gathers, which eager PyTorch runs one
op at a time through memory (speed: benchmarks/RESULTS.md). Large inference renders on CPU therefore go
through compiled copies of the per-chunk functions of `State` (inductor fuses the sin/bias/gather/blend ops into
a few vectorised loops; grid_sample is written as explicit gathers there so it fuses too, see
`models/sampling.py`) when the model's `compile_render` switch is on. Compiled and eager outputs agree to
float rounding (~1e-6).

Each function is compiled ahead of the call (`torch.compile(...).aot_compile`: one full graph, dynamic
shapes, so one compile serves any chunk size, number of times and frame size) into a *variant*: the compiled
code plus the guards saying which inputs it serves (dtypes, the config's widths and switches, layouts). A call
runs the first variant whose guards pass, else compiles a new one. Where the commands set an artefact folder
(`set_artefact_folder`, beside inductor's own cache in `runtime.compile_cache_dir()`), variants are saved
there and a later process loads them (~0.3 s each, ~1.5 s with inductor's imports) instead of tracing the
functions again (~5 s warm, ~20-40 s cold); the folder's name holds everything a variant depends on beyond its
guards (torch, Python, the CPU, the source of `videoinr.models`). Any failure to compile or run (e.g. no C++
compiler) warns once and falls back to eager for the rest of the process.
"""
from __future__ import annotations

import functools
import hashlib
import os
import platform
import threading
import uuid
import warnings
from contextlib import nullcontext
from pathlib import Path

import torch
from torch import Tensor

# fns: {function: [variants]} compiled or loaded in this process; broken: a compile or run failed (eager)
_COMPILED: dict = {"fns": {}, "broken": False}
_STORE: dict = {"root": None, "loaded": set()}  # root: the artefact folder (None: in memory only)
_LOCK = threading.Lock()
MAX_VARIANTS = 8  # per function: more means the guards keep failing (a bug): eager then


def set_artefact_folder(root: str | os.PathLike | None) -> None:
    """Keep compiled renderer functions in `root` (a subfolder per `source_key()`), or in memory only (None)."""
    _STORE["root"] = None if root is None else Path(root)


@functools.lru_cache(maxsize=None)
def source_key() -> str:
    """What a compiled renderer depends on beyond its guards: torch, Python, this CPU (model and flags) and
    the source of `videoinr.models` (the renderer's functions and every one they call); a short hash."""
    from videoinr.runtime import cpu_info

    h = hashlib.sha256()
    info = cpu_info()
    flags = " ".join(sorted(info["flags"]))
    for part in (torch.__version__, platform.python_version(), str(info["model_name"]), flags):
        h.update(part.encode() + b"\0")
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _folder() -> Path | None:
    root = _STORE["root"]
    return None if root is None else root / source_key()


def _name(fn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


@functools.lru_cache(maxsize=None)
def _compiled(fn):
    """`fn` (a renderer function of a State and tensors) compiled: the variant whose guards pass these
    arguments (loaded or compiled on first need); eager for good after any failure to compile or run."""
    def run(state, *args: Tensor):
        if _COMPILED["broken"]:
            return fn(state, *args)
        try:
            return _variant(fn, state, args)(state, *args)
        except Exception as e:  # noqa: BLE001 - e.g. no C++ compiler: eager gives the same result
            _COMPILED["broken"] = True
            warnings.warn(f"compiled rendering failed ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
                          "rendering eagerly", RuntimeWarning, stacklevel=2)
            return fn(state, *args)
    return run


def compiled_in_process() -> bool:
    """Whether this process has compiled or loaded a renderer function already (a later compile is then only
    of new variants: not a measure of a fresh process's compile cost)."""
    return any(_COMPILED["fns"].values())


def _variant(fn, state, args: tuple[Tensor, ...]):
    """The variant of `fn` serving (state, *args): one of this process's, else one saved in the artefact
    folder, else a new one (saved there)."""
    with _LOCK:
        variants = _COMPILED["fns"].setdefault(fn, [])
        for v in variants:
            if v.guard_check(state, *args):
                return v
        for v in _load_saved(fn):
            variants.append(v)
            if v.guard_check(state, *args):
                return v
        if len(variants) >= MAX_VARIANTS:
            raise RuntimeError(f"{_name(fn)}: {len(variants)} compiled variants and none fits these inputs")
        v = _compile_variant(fn, state, args)
        v.disable_guard_check()  # checked here, before the call
        variants.append(v)
        _save(fn, v)
        return v


def _compile_variant(fn, state, args: tuple[Tensor, ...]):
    """A new compiled variant of `fn` for these arguments (inductor; one full graph, dynamic shapes)."""
    import torch._dynamo  # here, not at import: it costs ~1 s of startup to every command

    marked = [a for a in args if a.dim()]
    for a in marked:  # the chunk's length, the number of times, the box: dynamic from the first compile
        torch._dynamo.maybe_mark_dynamic(a, 0)
    try:
        with _size_oblivious():
            return torch.compile(fn, fullgraph=True, dynamic=True).aot_compile(((state, *args), {}))
    finally:  # unmarked again: calls pass unmarked tensors, as a saved variant's guards expect
        for a in marked:
            for attr in ("_dynamo_weak_dynamic_indices", "_has_dynamo_dim_marking"):
                if hasattr(a, attr):
                    delattr(a, attr)


def _save(fn, variant) -> None:
    """Write a new variant into the artefact folder (best effort: an unwritable folder keeps it in memory)."""
    folder = _folder()
    if folder is None:
        return
    path = folder / f"{_name(fn)}.{uuid.uuid4().hex[:12]}.bin"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        variant.save_compiled_function(str(path))  # written whole, then renamed (torch's atomic write)
        isa = folder / "isa.txt"
        if not isa.exists():
            from torch._inductor.cpu_vec_isa import pick_vec_isa

            from videoinr.fileio import atomic_write_bytes

            atomic_write_bytes(str(isa), str(pick_vec_isa()).encode())
    except Exception:  # noqa: BLE001 - e.g. read-only cache, a closure that does not pickle: memory only
        return
    _STORE["loaded"].add(path)


def _load_saved(fn):
    """The saved variants of `fn` not loaded yet in this process, loaded one by one (unreadable ones are
    skipped: a new variant is compiled instead)."""
    folder = _folder()
    if folder is None or not folder.is_dir():
        return
    for path in sorted(folder.glob(f"{_name(fn)}.*.bin")):
        if path in _STORE["loaded"]:
            continue
        _STORE["loaded"].add(path)
        try:
            with _trusted_isa(folder), open(path, "rb") as f:
                v = torch.compiler.load_compiled_function(f, f_globals=fn.__globals__)
        except Exception:  # noqa: BLE001 - a partial, stale or foreign file
            continue
        v.disable_guard_check()
        yield v


def _trusted_isa(folder: Path):
    """Skip inductor's per-process probe of the CPU's vector ISA (~1 s: it builds and loads a test library
    per ISA in child processes) when the ISA its flags name first is the one a probe picked when the
    variants in `folder` were compiled (`isa.txt`; the folder is of this CPU's model and flags)."""
    from torch._inductor import config
    from torch._inductor import cpu_vec_isa as vec

    try:
        recorded = (folder / "isa.txt").read_text().strip()
    except OSError:
        return nullcontext()
    if vec.valid_vec_isa_list.cache_info().currsize:  # probed already in this process
        return nullcontext()
    trusted = config.patch({"cpp.vec_isa_ok": True})
    with trusted:
        if str(vec.pick_vec_isa()) == recorded:
            return trusted  # the same patch again around the load
    vec.valid_vec_isa_list.cache_clear()  # not the same: probe as usual
    return nullcontext()


def _size_oblivious():
    """Compile without specialising sizes of 1 (a render with one time or one pixel), where supported."""
    try:  # private module: torch has no public switch for backed_size_oblivious (checked on torch 2.13)
        from torch.fx.experimental import _config
    except ImportError:
        return nullcontext()
    if not hasattr(_config, "backed_size_oblivious"):
        return nullcontext()
    return _config.patch(backed_size_oblivious=True)
