"""The torch.compile path of large renders, and its fallback to eager.

Per point the renderer's work is small GEMMs plus elementwise sin/add/gathers, which eager PyTorch runs one
op at a time through memory (speed: benchmarks/RESULTS.md). Large inference renders on CPU therefore go
through a `torch.compile`d copy of the per-chunk functions of `State` (inductor fuses the sin/bias/gather/blend
ops into a few vectorised loops; grid_sample is written as explicit gathers there so it fuses too, see
`models/sampling.py`) when the model's `compile_render` switch is on. The commands decide that switch once
per job (`videoinr.runtime.inference_policy`). Compiled and eager outputs agree to float rounding (~1e-6).
Any compile failure (e.g. no C++ compiler) warns once and falls back to eager for the rest of the process.
"""
from __future__ import annotations

import functools
import warnings
from contextlib import nullcontext
import torch
from torch import Tensor

_COMPILED: dict = {"fns": {}, "broken": False}


@functools.lru_cache(maxsize=None)
def _compiled(fn):
    """`fn` (a renderer function of a State and tensors) through torch.compile (inductor; dynamic shapes: one graph for
    any chunk size, number of times and frame size); falls back to eager for good after any failure to
    compile or run."""
    def run(state, *args: Tensor):
        if _COMPILED["broken"]:
            return fn(state, *args)
        import torch._dynamo  # here, not at import: it costs ~2 s of startup to every command

        if fn not in _COMPILED["fns"]:
            _COMPILED["fns"][fn] = torch.compile(fn, dynamic=True)
        for a in args:
            if a.dim():
                torch._dynamo.maybe_mark_dynamic(a, 0)
        try:
            with _size_oblivious():
                return _COMPILED["fns"][fn](state, *args)
        except Exception as e:  # noqa: BLE001 - e.g. no C++ compiler: eager gives the same result
            _COMPILED["broken"] = True
            warnings.warn(f"compiled rendering failed ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
                          "rendering eagerly", RuntimeWarning, stacklevel=2)
            return fn(state, *args)
    return run


def compiled_in_process() -> bool:
    """Whether this process has compiled a renderer function already (a later compile is then only of new
    functions: not a measure of a fresh process's compile cost)."""
    return bool(_COMPILED["fns"])


def _size_oblivious():
    """Compile without specialising sizes of 1 (a render with one time or one pixel), where supported."""
    try:  # private module: torch has no public switch for backed_size_oblivious (checked on torch 2.13)
        from torch.fx.experimental import _config
    except ImportError:
        return nullcontext()
    if not hasattr(_config, "backed_size_oblivious"):
        return nullcontext()
    return _config.patch(backed_size_oblivious=True)
