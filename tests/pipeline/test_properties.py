"""Property-based checks (Hypothesis) of the option parsers, the config validator and the input scanner: any
option text, config mapping or small file gives a valid result or one one-line VideoINRError, never another
exception (a traceback through the CLI). Derandomized, so every run tries the same examples."""
import functools
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_helpers import one_error_line, run_cli
from videoinr.errors import VideoINRError

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FEW = settings(SETTINGS, max_examples=40)

# characters a user (or a paste) could put in an option: digits, signs, separators, units, fullwidth and
# Arabic-Indic digits, exponents, spaces of several kinds
ALPHABET = "0123456789-+.,:/xXeE_ \t\u00a0KMGTiBsmhdnaif\uff12\u0662\u00b2\u2212[]auto"
OPTIONS = ("scale", "size", "time_scale", "fps", "times", "region", "max_memory", "max_time", "crf", "input_fps",
           "dedup", "codec", "preset", "ray", "segment_frames", "device")
VALUES = st.one_of(
    st.text(ALPHABET, max_size=12), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.none(), st.lists(st.integers(-5, 5000), max_size=5), st.fractions(max_denominator=10**6),
)


def _one_line(e: VideoINRError) -> None:
    msg = str(e)
    assert msg.strip() and "\n" not in msg and len(msg) < 1000, msg


@SETTINGS
@given(opt=st.sampled_from(OPTIONS), value=VALUES)
def test_any_option_value_is_valid_or_one_error(opt, value):
    """One option with any value: normalised options (whose output size is computable) or one line."""
    from videoinr.pipeline.job import MAX_SIDE, output_size, upscale_options

    if opt == "device" and not isinstance(value, str):
        value = str(value)
    try:
        options = upscale_options({opt: value}, device="cpu" if opt != "device" else value)
        h, w = output_size((32, 48), options.scale, options.size)
    except VideoINRError as e:
        _one_line(e)
        return
    assert 1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE
    if isinstance(value, str) and opt not in ("codec", "preset", "device"):
        assert not any(c.isdigit() and not c.isascii() for c in value), (opt, value)  # no fullwidth digits


@SETTINGS
@given(st.dictionaries(st.sampled_from(OPTIONS[:10]), VALUES, max_size=4))
def test_option_combinations_are_valid_or_one_error(given_options):
    """Several options at once (conflicting ones included)."""
    from videoinr.pipeline.job import UpscaleOptions, upscale_options

    try:
        options = upscale_options(given_options, device="cpu")
    except VideoINRError as e:
        _one_line(e)
        return
    assert isinstance(options, UpscaleOptions)
    assert not (options.scale is not None and options.size is not None)
    assert sum(v is not None for v in (options.time_scale, options.fps, options.times)) <= 1


@SETTINGS
@given(st.text(st.characters(codec="ascii"), max_size=30) | st.from_regex(r"[a-z0-9.]{1,12}:[0-9]{1,6}", fullmatch=True))
def test_ray_address(text):
    """--ray: 'auto' or HOST:PORT with a port in 1..65535, else one line."""
    from videoinr.pipeline.job import upscale_options

    try:
        ray = upscale_options(ray=text, device="cpu").ray
    except VideoINRError as e:
        _one_line(e)
        assert "--ray" in str(e)
        return
    assert ray == "auto" or 1 <= int(ray.rpartition(":")[2]) <= 65535


MODEL_KEYS = ("name", "nf", "groups", "front_blocks", "back_blocks", "convlstm", "hr_dim", "spatial_hidden",
              "omega0", "rgb_skip", "conventions", "colour")


@SETTINGS
@given(st.dictionaries(st.sampled_from(MODEL_KEYS), VALUES | st.sampled_from(["official", "videoinr"]), max_size=5))
def test_model_config_mapping(data):
    """A model config from any mapping: a ModelConfig or one line naming the key."""
    from videoinr.models.config import ModelConfig

    try:
        cfg = ModelConfig.from_dict(data)
    except VideoINRError as e:
        _one_line(e)
        return
    assert cfg.nf % cfg.groups == 0


TRAIN_KEYS = ("lr", "batch_size", "steps", "precision", "betas", "flip", "grad_clip", "time_limit", "device",
              "val_window", "model", "model_overrides.nf", "nonsense")


@FEW
@given(st.lists(st.tuples(st.sampled_from(TRAIN_KEYS), st.text(ALPHABET + "[]{}'\"", max_size=8)), max_size=3))
def test_train_overrides(items):
    """`videoinr train` key=value overrides (YAML-parsed): a TrainConfig or one line."""
    from videoinr.train.config import load_config

    try:
        load_config(None, [f"{k}={v}" for k, v in items] + ["sources=[x]"])
    except VideoINRError as e:
        _one_line(e)


# ------------------------------------------------------------------------------------------ scanner


@functools.lru_cache(maxsize=None)
def _encoded(ext: str, kind: str, h: int, w: int) -> bytes:
    """A small image of `kind` (rgb, gray, rgba, deep: 16-bit) encoded as `ext`."""
    rng = np.random.default_rng(h * 100 + w)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    if kind == "gray":
        img = img[..., 0]
    elif kind == "rgba":
        img = np.dstack([img, img[..., :1]])
    elif kind == "deep":
        img = img.astype(np.uint16) * 257
    ok, buf = cv2.imencode(ext, img)
    if not ok:  # e.g. PPM holds no gray or alpha: PNG bytes under that extension (a wrong-extension case)
        ok, buf = cv2.imencode(".png", img)
    return buf.tobytes()


@functools.lru_cache(maxsize=None)
def _video_bytes() -> bytes:
    """A 3-frame 16x16 mp4 (with its moov atom at the end: truncating loses the index)."""
    import tempfile

    from av_helpers import write_with_audio

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "v.mp4"
        frames = [np.full((16, 16, 3), 40 * i, np.uint8) for i in range(3)]
        write_with_audio(p, frames, fps=10)
        return p.read_bytes()


IMAGE = st.builds(_encoded, st.sampled_from([".png", ".jpg", ".bmp", ".tiff", ".ppm"]),
                  st.sampled_from(["rgb", "rgb", "gray", "rgba", "deep"]), st.integers(1, 9), st.integers(1, 9))
FILE_BYTES = st.one_of(
    IMAGE,
    IMAGE.flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),  # truncated
    st.binary(max_size=64),  # junk, zero bytes
    st.just(b""),
)
NAMES = st.sampled_from(["a.png", "b.jpg", "c.bmp", "d.tif", "e.ppm", "f.webp", ".hidden.png", "Thumbs.db",
                         "notes.txt", "g.PNG"])


@SETTINGS
@given(files=st.lists(st.tuples(NAMES, FILE_BYTES), min_size=1, max_size=4, unique_by=lambda f: f[0]))
def test_frame_folder_scan(tmp_path_factory, files):
    """A folder of small files (images of any format, size and depth, truncated, junk, empty, hidden, with
    another extension): scanned or one line; never another exception."""
    from videoinr.pipeline.scan import is_frame_folder, scan

    folder = tmp_path_factory.mktemp("frames")
    for name, data in files:
        (folder / name).write_bytes(data)
    try:
        if not is_frame_folder(folder):
            return
        src = scan(folder)
    except VideoINRError as e:
        _one_line(e)
        return
    assert src.n >= 1 and src.width >= 1 and src.height >= 1


@FEW
@given(cut=st.integers(0, 100_000), flip=st.integers(0, 100_000), ext=st.sampled_from([".mp4", ".mkv", ".avi"]))
def test_damaged_video_scan(tmp_path_factory, cut, flip, ext):
    """A small video, truncated or with a damaged byte, under its own or another container's extension:
    scanned or one line."""
    from videoinr.pipeline.scan import scan

    data = bytearray(_video_bytes())
    data = data[: cut % (len(data) + 1)]
    if data and flip % 3:
        data[flip % len(data)] ^= 0xFF
    path = tmp_path_factory.mktemp("video") / f"v{ext}"
    path.write_bytes(bytes(data))
    try:
        src = scan(path)
    except VideoINRError as e:
        _one_line(e)
        return
    assert src.n >= 1


@pytest.fixture(scope="module")
def one_frame(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("one")
    cv2.imwrite(str(folder / "f0.png"), np.full((8, 8, 3), 99, np.uint8))
    return folder


@settings(SETTINGS, max_examples=8)
@given(opt=st.sampled_from(["--scale", "--size", "--region", "--max-memory", "--crf", "--max-time", "--dedup"]),
       text=st.text(ALPHABET, min_size=1, max_size=8))
def test_cli_random_option_is_one_error_line(one_frame, tmp_path_factory, capsys, opt, text):
    """Through the real CLI: a random option value on a one-frame input at --time-scale 2 (which no valid
    option can make work) ends as exit status 2 and one `error:` line, never a traceback."""
    out = tmp_path_factory.mktemp("o") / "out"
    rc, err = run_cli([one_frame, "-o", out, "--time-scale", "2", "--device", "cpu", f"{opt}={text}"], capsys)
    assert rc == 2, err
    one_error_line(err)
    assert not out.exists()
