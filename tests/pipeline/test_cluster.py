"""`upscale --ray` on a real Ray cluster on this machine: a head and a worker node, both on 127.0.0.1 (one CPU
each), started here with `ray.cluster_utils.Cluster`. Each Ray run is a separate driver process (as a user's
command is) and must write the bytes of the local run of the same job: a folder of videos with a two-scene
video split into tasks across both nodes, a worker killed mid-task (Ray retries), the driver killed
(`resume=True` finishes), and bad inputs reported in one line each."""
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from videoinr.pipeline.cluster import LOOPBACK_ONLY, task_ranges
from videoinr.pipeline.workdir import work_dir

os.environ.setdefault(LOOPBACK_ONLY, "0")  # before Ray is imported: every node and driver on 127.0.0.1
TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from av_helpers import write_with_audio  # noqa: E402

ray = pytest.importorskip("ray", reason="the ray extra (scripts/setup.sh --test installs it)")
from ray.cluster_utils import Cluster  # noqa: E402

SEG = 4  # output frames per segment: small, so a 10-frame input makes several resume units and tasks
# FFV1 (lossless) so that the bytes compare what Ray changes: libx264 on this machine does not always
# encode the same frames to the same bytes, run to run, even locally (docs/UPSCALE.md, *On a Ray cluster*)
OPTIONS = dict(scale=2, time_scale=2, segment_frames=SEG, codec="ffv1", progress=False)


def _frames(shared_data: Path, seq: str, n: int, size=(96, 54)) -> list[np.ndarray]:
    paths = sorted((shared_data / "train" / "davis480p" / seq).glob("*.jpg"))[:n]
    return [np.ascontiguousarray(cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), size,
                                            interpolation=cv2.INTER_AREA)) for p in paths]


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1",
                                                      "include_dashboard": False})
    c.add_node(num_cpus=1, node_ip_address="127.0.0.1")
    try:
        yield c.address
    finally:
        c.shutdown()


@pytest.fixture(scope="module")
def videos(shared_data, tmp_path_factory):
    """A folder of two real videos: `cuts.mkv` (two shots of DAVIS, cut at frame 5, with audio) and
    `dog.mkv` (one shot), and the local run's outputs of them."""
    from videoinr.pipeline import upscale

    root = tmp_path_factory.mktemp("ray")
    inp = root / "videos"
    inp.mkdir()
    write_with_audio(inp / "cuts.mkv", _frames(shared_data, "bmx-trees", 5) + _frames(shared_data, "breakdance", 5))
    write_with_audio(inp / "dog.mkv", _frames(shared_data, "dog", 4))
    upscale(inp, root / "local", **OPTIONS)
    return inp, root / "local"


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _driver(inp: Path, out: Path, address: str, **extra) -> subprocess.Popen:
    """A driver process running `upscale(inp, out, ray=address, ...)`, as `videoinr upscale --ray` does."""
    code = ("import sys; from videoinr.cli import run_with_errors; from videoinr.pipeline import upscale; "
            f"sys.exit(run_with_errors(lambda a: upscale({str(inp)!r}, {str(out)!r}, ray={address!r}, "
            f"**{dict(OPTIONS, progress=True, **extra)!r}) and 0, []))")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **{LOOPBACK_ONLY: "0"}))


def _wait_for_record(out: Path, name: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until a task has recorded a finished segment of `out/name` (a task's own record file exists)."""
    work = work_dir(out / name)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if work.is_dir() and any(p.stat().st_size for p in work.glob("done.jsonl.*")):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    pytest.fail("no task finished a segment in time")


def _task_pids() -> list[int]:
    """Processes of Ray workers running our task now (Ray titles them `ray::render_piece`)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "cmdline").read_bytes().startswith(b"ray::render_piece"):
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


def test_tasks_follow_scenes_and_segments(videos):
    """The two-scene input is cut at its scene change (snapped down to a segment) and every 2 segments."""
    from videoinr.pipeline import upscale_options
    from videoinr.pipeline.plan import make_plan
    from videoinr.pipeline.run import OpenOutput
    from videoinr.pipeline.scan import scan

    inp, _ = videos
    job = upscale_options(OPTIONS)
    src = scan(inp / "cuts.mkv", scene_cuts=True)
    assert src.cuts == [5]
    plan = make_plan(src, job)  # 10 frames x2 in time: 19 output frames; the second shot renders from frame 9 on
    o = OpenOutput(Path("x.mp4"), None, job, src, plan, None, None, "libx264", None, None)
    assert task_ranges(o) == [(0, 8), (8, 16), (16, 19)]  # 8: the segment holding frame 9 starts there
    o = OpenOutput(Path("x"), None, job, src, plan, None, None, None, None, None)  # PNGs: the cut itself
    assert task_ranges(o) == [(0, 9), (9, 19)]


def test_folder_on_ray_is_bit_identical_across_two_nodes(cluster, videos, tmp_path):
    inp, local = videos
    proc = _driver(inp, tmp_path / "out", cluster)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert _digests(tmp_path / "out") == _digests(local)
    assert "4 Ray tasks on 2 nodes" in err  # cuts.mkv: 3 tasks (above); dog.mkv: 7 output frames, one task
    assert not list(tmp_path.glob("out/.*"))  # no work folder left


def test_killed_worker_is_retried_and_output_identical(cluster, videos, tmp_path):
    inp, local = videos
    proc = _driver(inp, tmp_path / "out", cluster)
    _wait_for_record(tmp_path / "out", "cuts.mkv", proc)
    killed = []
    end = time.monotonic() + 30
    while not killed and time.monotonic() < end and proc.poll() is None:
        for pid in _task_pids():
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        time.sleep(0.02)
    _, err = proc.communicate(timeout=240)
    assert killed, "no task was running to kill"
    assert proc.returncode == 0, err
    assert _digests(tmp_path / "out") == _digests(local)


def test_killed_driver_then_resume(cluster, videos, tmp_path):
    inp, local = videos
    proc = _driver(inp, tmp_path / "out", cluster)
    _wait_for_record(tmp_path / "out", "cuts.mkv", proc)
    proc.kill()
    proc.communicate()
    assert work_dir(tmp_path / "out" / "cuts.mkv").is_dir()  # finished work kept beside the output
    proc = _driver(inp, tmp_path / "out", cluster, resume=True)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert _digests(tmp_path / "out") == _digests(local)


def test_bad_inputs_one_line_each_on_ray(cluster, videos, tmp_path):
    """A folder with two bad videos: both reported before any work, one line each, exit 2, nothing written."""
    inp, _ = videos
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "text.mp4").write_text("not a video\n")
    write_with_audio(bad / "one.mp4", [np.zeros((36, 64, 3), np.uint8)])  # one frame: cannot interpolate
    (bad / "good.mkv").write_bytes((inp / "dog.mkv").read_bytes())
    proc = _driver(bad, tmp_path / "out", cluster, codec=None)
    _, err = proc.communicate(timeout=120)
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 2 and len(lines) == 2, err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_unreachable_cluster_is_one_line(tmp_path, videos):
    inp, _ = videos
    proc = subprocess.run([sys.executable, "-m", "videoinr.cli", "upscale", str(inp / "dog.mkv"), "-o",
                           str(tmp_path / "o.mp4"), "--scale", "2", "--ray", "127.0.0.1:1"],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, **{LOOPBACK_ONLY: "0"}))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error: --ray 127.0.0.1:1")
    assert not (tmp_path / "o.mp4").exists()
