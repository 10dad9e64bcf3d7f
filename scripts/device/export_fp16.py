"""Weights of a training run as fp16 safetensors (final.safetensors, else the model of checkpoint.pt), split
into parts of at most 15 MiB for the device tool's file limit. Join them with `cat PREFIX* > file`.

    python scripts/device/export_fp16.py RUN_DIR OUT_PREFIX
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from videoinr.models import VideoINR, load_weights, read_metadata, save_weights
from videoinr.train import load_config

PART = 15 * 2**20


def main() -> None:
    run, prefix = Path(sys.argv[1]), sys.argv[2]
    summary = {}
    if (run / "final.safetensors").is_file():
        model = load_weights(run / "final.safetensors")
        summary = read_metadata(run / "final.safetensors").get("summary", {})
    else:
        ck = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)
        cfg = load_config(run / "config.yaml")
        model = VideoINR(cfg.model_config())
        model.load_state_dict(ck["model"])
        summary = {"steps": int(ck["step"]), "wall_time_s": float(ck["elapsed"]), "from": "checkpoint.pt",
                   "last_val": ck.get("last_val", {})}
    tmp = run / "fp16.safetensors"
    save_weights(model, tmp, summary=summary, dtype=torch.float16)
    data = tmp.read_bytes()
    for i in range(0, len(data), PART):
        Path(f"{prefix}{i // PART:02d}").write_bytes(data[i : i + PART])
    print(f"{tmp}: {len(data) / 2**20:.1f} MiB in {(len(data) + PART - 1) // PART} parts; summary {summary}")


if __name__ == "__main__":
    main()
