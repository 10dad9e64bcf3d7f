"""Plot a training run's loss curve and validation PSNR: python scripts/plot_training.py RUN_DIR OUT.png"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main(run: str, out: str) -> None:
    with open(f"{run}/metrics.csv") as f:
        rows = list(csv.DictReader(f))
    trained = [r for r in rows if r.get("loss")]  # the step-0 row holds only the starting validation
    steps = np.array([int(r["step"]) for r in trained])
    loss = np.array([float(r["loss"]) for r in trained])
    val = [(int(r["step"]), float(r["val_psnr"])) for r in rows if r.get("val_psnr")]
    inner = [(int(r["step"]), float(r["val_psnr_interior"])) for r in rows if r.get("val_psnr_interior")]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.plot(steps, loss, lw=0.5, alpha=0.4, label="loss")
    k = max(1, len(loss) // 50)
    a.plot(steps[k - 1:], np.convolve(loss, np.ones(k) / k, mode="valid"), label=f"mean of {k}")
    a.set(xlabel="step", ylabel="Charbonnier loss", yscale="log", title="training loss")
    a.legend()
    if val:
        b.plot(*zip(*val), "o-", label="all 5 frames")
    if inner:
        b.plot(*zip(*inner), "s-", label="interpolated 3")
    b.set(xlabel="step", ylabel="PSNR (dB)", title="validation PSNR (held-out clip, x4)")
    b.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
