"""`videoinr eval`'s psnr_vs_t.png carries the temporal metrics (tOF, warping error per t) below PSNR (#24)."""
import cv2

from videoinr.evaluate.report import _by_t, _plot_psnr_vs_t


def _results(temporal: bool) -> dict:
    rows = []
    for f, t in enumerate([0.0, 0.5, 1.0, 0.5]):
        r = {"sequence": "a", "frame": f, "t": t, "k": 0, "psnr": 30.0 + f, "ssim": 0.9}
        if temporal and f:
            r.update(tof=0.1 * f, warp=float("nan") if f == 3 else 0.2)
        rows.append(r)
    return {"data": "/x/vid4", "channel": "y", "space_scale": 4, "time_scale": 2, "space_only": False,
            "protocol": "vid4", "methods": {"m": {"per_frame": rows}}}


def test_temporal_panels(tmp_path):
    assert _by_t(_results(True)["methods"]["m"]["per_frame"], "tof") == ([0.5, 1.0], [0.2, 0.2])
    assert _by_t(_results(True)["methods"]["m"]["per_frame"], "warp") == ([0.5, 1.0], [0.2, 0.2])  # NaN skipped
    _plot_psnr_vs_t(_results(True), tmp_path / "with.png")
    _plot_psnr_vs_t(_results(False), tmp_path / "without.png")
    with_t, without = cv2.imread(str(tmp_path / "with.png")), cv2.imread(str(tmp_path / "without.png"))
    assert with_t.shape[0] > 1.4 * without.shape[0]  # the tOF / warp row below the PSNR plot
