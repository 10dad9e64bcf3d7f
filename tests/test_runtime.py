"""videoinr.runtime: device choice and the per-job numeric policy, decided once from explicit settings,
the environment and the hardware; the model itself reads no environment, files or clocks."""
import ast
from pathlib import Path

import pytest
import torch

import videoinr.runtime as rt
from videoinr.errors import VideoINRError

CPU = torch.device("cpu")
MODELS = Path(rt.__file__).parent / "models"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("VIDEOINR_COMPILE", "VIDEOINR_ENCODE_BF16", "VIDEOINR_RENDER_BF16", "TORCHINDUCTOR_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no compile recorded: a cold compile
    return monkeypatch


@pytest.mark.parametrize("native", [False, True])
def test_default_policy_follows_job_size_and_hardware(clean_env, native):
    clean_env.setattr(rt, "_cpu_has_native_bf16", lambda: native)
    small = rt.inference_policy(CPU, rt.COMPILE_MIN_PIXELS - 1)
    large = rt.inference_policy(CPU, rt.COMPILE_MIN_PIXELS)
    assert small == rt.Policy(compile_render=False, encode_bf16=native, render_bf16=False)
    assert large == rt.Policy(compile_render=True, encode_bf16=native, render_bf16=native)


def test_explicit_settings_win_over_environment_over_default(clean_env):
    clean_env.setattr(rt, "_cpu_has_native_bf16", lambda: True)
    clean_env.setenv("VIDEOINR_COMPILE", "1")
    clean_env.setenv("VIDEOINR_ENCODE_BF16", "0")
    p = rt.inference_policy(CPU, 1)
    assert p == rt.Policy(compile_render=True, encode_bf16=False, render_bf16=True)
    assert rt.inference_policy(CPU, 1, compile=False, encode_bf16=True) == rt.Policy(False, True, False)
    clean_env.setenv("VIDEOINR_RENDER_BF16", "yes")
    with pytest.raises(VideoINRError, match="VIDEOINR_RENDER_BF16='yes': expected 0 or 1"):
        rt.inference_policy(CPU, 1)


def test_policy_apply_sets_the_model_switches():
    from videoinr.models import CONFIGS, VideoINR

    model = VideoINR(CONFIGS["lite"])
    assert rt.Policy(True, True, False).apply(model) is model
    assert (model.compile_render, model.encode_bf16, model.render_bf16) == (True, True, False)


def test_pick_device():
    assert rt.pick_device("auto").type in ("cpu", "cuda", "mps")
    assert rt.pick_device("CPU") == CPU
    for bad, msg in [("tpu", "expected auto, cpu"), ("nonsense", "expected auto, cpu")]:
        with pytest.raises(VideoINRError, match=msg):
            rt.pick_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(VideoINRError, match="CUDA is not available"):
            rt.pick_device("cuda:0")
    # training's rule is the same function without MPS (DDP has no MPS backend), naming its config key
    with pytest.raises(VideoINRError, match="config key 'device': 'mps': expected auto, cpu, cuda or cuda:N"):
        rt.pick_device("mps", allow_mps=False, what="config key 'device':")
    if not (torch.cuda.is_available() or torch.backends.mps.is_available()):
        assert rt.pick_device("auto", allow_mps=False) == CPU


def test_training_takes_its_device_from_pick_device(monkeypatch, tmp_path):
    """`train` asks runtime.pick_device (no MPS) for its device, then joins the process group of that kind."""
    import videoinr.train.loop as loop
    from videoinr.train import TrainConfig

    seen = []

    def fake_pick(name, **kw):
        seen.append((name, kw.get("allow_mps")))
        raise VideoINRError("stop here")

    monkeypatch.setattr(loop, "pick_device", fake_pick)
    with pytest.raises(VideoINRError, match="stop here"):
        loop.train(TrainConfig(sources=[{"path": str(tmp_path)}], device="cpu"), tmp_path / "run", progress=False)
    assert seen == [("cpu", False)]


def test_models_read_no_environment_files_or_clocks():
    """Runtime policy lives in videoinr.runtime: nothing under models/ may read os.environ, /proc, or a
    clock, so a model's output depends on its inputs and switches only."""
    banned_modules = {"time", "datetime"}
    for path in sorted(MODELS.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {(node.module or "").split(".")[0]}
            else:
                names = set()
            assert not names & banned_modules, f"{path.name}:{node.lineno} imports {names & banned_modules}"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
                assert node.attr not in ("environ", "getenv"), f"{path.name}:{node.lineno} reads os.{node.attr}"
        assert "/proc/" not in path.read_text(), path.name


def test_compile_decision_is_a_cost_model_of_the_job_size(clean_env):
    """Compile exactly when the job's saving (eager - compiled per output pixel) pays back a cold compile;
    the same size always decides the same (no clock)."""
    saving = rt.EAGER_S_PER_PX - rt.COMPILED_S_PER_PX
    pays = rt.COMPILE_COLD_S / saving
    assert abs(rt.COMPILE_MIN_PIXELS - pays) < 1
    assert not rt.compile_pays_back(pays * 0.99) and rt.compile_pays_back(pays * 1.01)
    frames_1080p = rt.COMPILE_MIN_PIXELS / (1920 * 1080)
    assert 10 < frames_1080p < 40  # a 25-frame 1080p job (issue 25) sits near break-even
    assert [rt.inference_policy(CPU, pays * 1.01).compile_render for _ in range(3)] == [True] * 3
    assert not rt.inference_policy(torch.device("meta"), 1e12).compile_render  # never off the CPU


def test_compile_decision_uses_the_fastest_compile_measured_here(clean_env):
    """A recorded compile time (this torch, Python, CPU) replaces the cold one in the decision; the fastest
    is kept; a record of another machine, a damaged file or a nonsense value fall back to a cold compile."""
    import json
    import os

    saving = rt.EAGER_S_PER_PX - rt.COMPILED_S_PER_PX
    job = 12.0 / saving  # pays back a 12 s compile, not a cold one
    assert rt.compile_seconds() == rt.COMPILE_COLD_S and not rt.compile_pays_back(job)
    rt.record_compile_seconds(25.0)
    rt.record_compile_seconds(9.5)
    rt.record_compile_seconds(30.0)  # slower than recorded: kept at 9.5
    assert rt.compile_seconds() == 9.5
    assert rt.compile_pays_back(job) and rt.inference_policy(CPU, job).compile_render
    assert not rt.compile_pays_back(job, compile_s=rt.COMPILE_COLD_S)
    path = os.path.join(rt.compile_cache_dir(), rt.COMPILE_RECORD)
    with open(path) as f:
        assert json.load(f) == {rt._compile_key(): 9.5}
    for text in ("{not json", json.dumps({"torch 0.0, python 2.7, another CPU": 1.0}),
                 json.dumps({rt._compile_key(): -3}), json.dumps([1, 2])):
        with open(path, "w") as f:
            f.write(text)
        assert rt.compile_seconds() == rt.COMPILE_COLD_S
    rt.record_compile_seconds(float("nan"))  # not a measurement: nothing recorded
    assert rt.compile_seconds() == rt.COMPILE_COLD_S


def test_compile_cache_dir_under_the_users_cache_folder(clean_env, tmp_path):
    from videoinr.models import CONFIGS, VideoINR

    clean_env.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    clean_env.delenv("TORCHINDUCTOR_FX_GRAPH_CACHE", raising=False)
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert rt.compile_cache_dir() == str(tmp_path / "videoinr" / "inductor")
    rt.Policy(compile_render=False).apply(VideoINR(CONFIGS["lite"]))
    assert "TORCHINDUCTOR_CACHE_DIR" not in __import__("os").environ  # eager jobs touch nothing
    rt.Policy(compile_render=True).apply(VideoINR(CONFIGS["lite"]))
    assert (tmp_path / "videoinr" / "inductor").is_dir()
    assert __import__("os").environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "videoinr" / "inductor")
    clean_env.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))  # an explicit folder wins
    assert rt.compile_cache_dir() == str(tmp_path / "mine")
