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
    steps = np.array([int(r["step"]) for r in rows])
    loss = np.array([float(r["loss"]) for r in rows])
    val = [(int(r["step"]), float(r["val_psnr"])) for r in rows if r.get("val_psnr")]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.plot(steps, loss, lw=0.5, alpha=0.4, label="loss")
    k = max(1, len(loss) // 50)
    a.plot(steps[k - 1:], np.convolve(loss, np.ones(k) / k, mode="valid"), label=f"mean of {k}")
    a.set(xlabel="step", ylabel="Charbonnier loss", yscale="log", title="training loss")
    a.legend()
    if val:
        b.plot(*zip(*val), "o-")
    b.set(xlabel="step", ylabel="PSNR (dB)", title="validation PSNR (held-out clip, x4, all t)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
