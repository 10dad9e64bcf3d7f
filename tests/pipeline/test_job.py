"""`videoinr.pipeline.job`: the upscale option parsers, through the real command (a negative `--region`
names the real problem) and directly (random option strings give a valid job or one error, never a
traceback)."""

import pytest

from av_helpers import encode, example_frames
from cli_helpers import one_error_line, run_cli


@pytest.fixture(scope="module")
def frames():
    return example_frames(3, crop=(16, 24))


@pytest.mark.parametrize("form", [["--region", "-5,0,10,10"], ["--region=-5,0,10,10"]])
def test_negative_region_reports_the_real_problem(tmp_path, frames, weights, capsys, form):
    src = encode(tmp_path / "in.mp4", frames, faststart=True)
    out = tmp_path / "o.mp4"
    rc, err = run_cli([src, "-o", out, "--model", weights, *form], capsys)
    assert rc == 2
    line = one_error_line(err)
    assert "--region -5,0,10,10" in line and "X, Y must be >= 0" in line
    assert "expected one argument" not in err
    assert not out.exists()


# ------------------------------------------- issue 26: random option strings, never a traceback (seeded)
OPTION_ALPHABET = ["0", "1", "2", "5", "9", ".", ",", "x", "X", ":", "-", "+", "e", "E", "/", " ", "inf", "nan",
                   "\uff12", "\u0662", "1e308", "1e-308", "99999999999999999999", "K", "M", "G", "T", "iB",
                   "s", "m", "h", "d", "\u00a0", "", "_"]
OPTIONS = ["scale", "size", "time_scale", "fps", "times", "region", "max_memory", "max_time", "crf", "input_fps"]


def test_random_option_strings_give_a_job_or_one_error():
    """Every upscale option parser on 4000 random strings (digits, signs, separators, fullwidth and Arabic-
    Indic digits, inf/nan, huge exponents, units): a valid Job whose output size is computable, or a
    VideoINRError; nothing else (a ValueError, OverflowError or MemoryError would be a traceback)."""
    import random

    from videoinr.errors import VideoINRError
    from videoinr.pipeline.job import MAX_SIDE, output_size, upscale_options

    rng = random.Random(26)
    for _ in range(4000):
        opt = rng.choice(OPTIONS)
        text = "".join(rng.choice(OPTION_ALPHABET) for _ in range(rng.randint(0, 8)))
        try:
            job = upscale_options({opt: text}, device="cpu", progress=False)
            h, w = output_size((32, 48), job.scale, job.size)
        except VideoINRError as e:
            assert str(e).strip() and "\n" not in str(e), (opt, text, e)
            continue
        assert 1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE, (opt, text, h, w)
        assert text.isascii() or not any(c.isdigit() and not c.isascii() for c in text), (opt, text)
