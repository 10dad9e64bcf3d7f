"""Prepare a training config for a machine without PyAV (the lent GPU machine): decode its video sources.

The GPU machine has OpenCV (whose FFmpeg decodes our H.264 clips to the same pixels as PyAV: measured
identical on sam2_clips/01_dog.mp4) but no PyAV. This decodes every `kind: video` source of a config with
OpenCV, applies the source's `downscale` with the loader's own MATLAB-bicubic `_shrink`, writes PNG frame
folders, and writes a config whose sources are those folders (downscale 1). Folder sources keep their
scene-cut detection, so windows still never cross a cut. Data paths under `--from` are remapped to `--to`.

    python scripts/device/prep_data.py configs/paper.yaml /tmp/paper_gpu.yaml --frames /tmp/frames \
        --from ../shared/data/train --to .device/data [key=value ...]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
from pathlib import Path

import cv2
import yaml


def _decode(job: tuple[str, str, float]) -> tuple[str, int]:
    import torch

    torch.set_num_threads(1)
    from videoinr.data.windows import _shrink

    src, dst, factor = job
    out = Path(dst)
    out.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(src, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise SystemExit(f"{src}: OpenCV cannot open it")
    n = 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = _shrink(bgr[:, :, ::-1], factor)
        cv2.imwrite(str(out / f"{n:05d}.png"), rgb[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1])
        n += 1
    if n == 0:
        raise SystemExit(f"{src}: no frames decoded")
    return src, n


def _value(text: str):
    return yaml.safe_load(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config")
    p.add_argument("out")
    p.add_argument("--frames", required=True)
    p.add_argument("--from", dest="src_root", required=True)
    p.add_argument("--to", dest="dst_root", required=True)
    p.add_argument("overrides", nargs="*")
    a = p.parse_intermixed_args()
    cfg = yaml.safe_load(Path(a.config).read_text())

    def remap(path: str) -> str:
        return path.replace(a.src_root, a.dst_root, 1) if path.startswith(a.src_root) else path

    jobs, sources = [], []
    for s in cfg["sources"]:
        s = dict(s, path=remap(s["path"]))
        if s.get("kind") == "video":
            dst = str(Path(a.frames) / Path(s["path"]).stem)
            jobs.append((s["path"], dst, float(s.get("downscale", 1.0))))
            s = {k: v for k, v in s.items() if k != "downscale"}
            s.update(path=dst, kind="folder")
        sources.append(s)
    cfg["sources"] = sources
    if cfg.get("val_source"):
        cfg["val_source"] = remap(cfg["val_source"])
    for kv in a.overrides:
        k, v = kv.split("=", 1)
        cfg[k] = _value(v)
    with mp.get_context("spawn").Pool(max(1, min(len(jobs), mp.cpu_count()))) as pool:
        for src, n in pool.imap_unordered(_decode, jobs):
            print(f"decoded {src}: {n} frames")
    tmp = Path(a.out + ".tmp")  # atomic: the probe waits for this file
    tmp.write_text(yaml.safe_dump(cfg, sort_keys=False))
    os.replace(tmp, a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
