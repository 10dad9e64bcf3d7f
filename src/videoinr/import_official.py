"""`videoinr import-official CKPT.pth -o OUT.safetensors`: a checkpoint of the released VideoINR code as our
weights file (`conventions: official`), loadable by `create_model(OUT)`, `--model OUT` and `--methods OUT`.

The checkpoint is read with `torch.load(weights_only=True)` only (nothing in it is executed); keys and first-
layer columns are mapped by `videoinr.models.official`, the unused upsampler is dropped, every shape is
checked, and the file is written atomically with its config and the source's name and sha256 in the metadata.
Any problem: one `error:` line, exit status 2, no output file.
"""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from videoinr.errors import VideoINRError


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def import_official(ckpt: str | Path, out: str | Path, force: bool = False) -> dict:
    """Convert `ckpt` (an official `.pth`) into the weights file `out`; returns the summary written."""
    from videoinr.models import VideoINR, save_weights
    from videoinr.models.official import UNUSED_PREFIXES, from_official, read_official

    ckpt, out = Path(ckpt), Path(out)
    if out.suffix != ".safetensors":
        raise VideoINRError(f"output {out} must end in .safetensors")
    if out.exists() or out.is_symlink():
        if not force:
            raise VideoINRError(f"output {out} exists (pass --force to replace it)")
        if not out.is_file():
            raise VideoINRError(f"output {out} exists and is not a regular file")
    if not out.parent.is_dir():
        raise VideoINRError(f"output folder {out.parent} does not exist")
    sd = read_official(ckpt)
    try:
        cfg, state = from_official(sd)
    except VideoINRError as e:
        raise VideoINRError(f"{ckpt}: {e}") from None
    model = VideoINR(cfg)
    model.load_state_dict(state, strict=True)
    summary = {
        "source": "checkpoint of the official VideoINR code (Picsart-AI-Research), imported by videoinr import-official",
        "source_file": ckpt.name, "source_sha256": _sha256(ckpt),
        "source_dtypes": sorted({str(v.dtype).removeprefix("torch.") for v in sd.values()}),
        "dropped_unused": sorted(k for k in sd if k.startswith(UNUSED_PREFIXES)),
        "parameters": sum(v.numel() for v in state.values()),
    }
    save_weights(model, out, summary)
    return summary


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="videoinr import-official", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="the official .pth (e.g. the official README's download)")
    parser.add_argument("-o", "--out", required=True, help="the weights file to write (.safetensors)")
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    args = parser.parse_args(argv)
    summary = import_official(args.checkpoint, args.out, args.force)
    print(f"wrote {args.out}: {summary['parameters']:,} parameters (conventions: official; dropped "
          f"{len(summary['dropped_unused'])} unused upsampler tensors); source sha256 {summary['source_sha256'][:16]}...")
    return 0
