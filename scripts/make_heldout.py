"""Frame folders of the held-out training-source clips for evaluation: python scripts/make_heldout.py OUT

OUT/dog: DAVIS-2016 `dog` (854x480 JPEGs, copied); OUT/coffee: the first 45 frames of sam2 `04_coffee.mp4`
downscaled x2 with the project's MATLAB-style bicubic (as training loads the 720p clips).
"""
import itertools
import shutil
import sys
from pathlib import Path

import cv2
import torch

from videoinr.data.imresize import degrade
from videoinr.data.video import iter_video

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "train"


def main(out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(DATA / "davis480p" / "dog", out / "dog")
    (out / "coffee").mkdir(parents=True)
    for i, frame in enumerate(itertools.islice(iter_video(DATA / "sam2_clips" / "04_coffee.mp4"), 45)):
        x = torch.from_numpy(frame.image).permute(2, 0, 1).float() / 255
        y = (degrade(x, 2.0).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
        cv2.imwrite(str(out / "coffee" / f"{i:03d}.png"), cv2.cvtColor(y, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
