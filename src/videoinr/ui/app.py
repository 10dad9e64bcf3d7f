"""The web page's logic, Gradio-free: settings -> `videoinr.upscale()` keywords, the estimate, one job at a time
with progress and cancel, and the before/after comparison frames."""
import html
import os
import re
import shutil
import threading
import time
import traceback
import uuid
from pathlib import Path

from videoinr.errors import Stopped, VideoINRError
from videoinr.fileio import write_via_temp
from videoinr.pipeline import VIDEO_EXTENSIONS, UpscaleOptions, estimate, upscale, upscale_options
from videoinr.pipeline.budget import fmt_bytes, fmt_secs

__all__ = ["App", "SPACE_MODES", "TIME_MODES", "error_line", "message_html"]

SPACE_MODES = ("scale", "size")
TIME_MODES = ("time scale", "fps")


def _safe_stem(name: str) -> str:
    """A file-name stem made only of ASCII letters, digits, '-' and '_' (never a path)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(str(name)).stem).strip("_")
    return stem[:60] or "video"


def _display_name(path: str) -> str:
    """The uploaded file's base name, for messages only (control characters dropped)."""
    return "".join(ch for ch in Path(str(path)).name if ch.isprintable())[:120] or "video"


def error_line(e: BaseException, replace: dict[str, str]) -> str:
    """The CLI's `error: ...` line for a VideoINRError, server paths replaced by what the user knows."""
    msg = " ".join(str(e).split()) or type(e).__name__
    for old, new in sorted(replace.items(), key=lambda kv: -len(kv[0])):
        msg = msg.replace(old, new)
    return f"error: {msg}"


def message_html(kind: str, text: str) -> str:
    return f'<p class="vi-msg vi-{kind}">{html.escape(text)}</p>'



class App:
    def __init__(self, root: Path, device: str = "auto", max_memory: str | None = "auto") -> None:
        from videoinr.models.registry import PRETRAINED

        self.root = root
        self.jobs_root = root / "jobs"
        self.jobs_root.mkdir(parents=True, exist_ok=True)
        self.device = device
        self.max_memory = max_memory
        self.models = ["lite"] + [n for n in PRETRAINED if n != "lite" and PRETRAINED[n].is_file()]
        self.job_lock = threading.Lock()  # one job at a time, even while a cancelled one is stopping
        self.cancel_flags: dict[str, threading.Event] = {}
        self.flags_lock = threading.Lock()

    # ------------------------------------------------------------------ settings -> UpscaleOptions
    def _options(self, space_mode, scale, size, time_mode, time_scale, fps, model) -> UpscaleOptions:
        """The page's settings as `UpscaleOptions` (checked there; here only which mode's box is empty)."""
        if model not in self.models:
            raise VideoINRError(f"unknown model {model!r}: choose one of {', '.join(self.models)}")
        given: dict = {"device": self.device, "max_memory": self.max_memory}
        if space_mode == "size":
            if not str(size or "").strip():
                raise VideoINRError("--size: give an output size such as 1920x1080 or 1280x-1")
            given["size"] = size
        else:
            if scale is None:
                raise VideoINRError("--scale: give a scale factor such as 2 or 2.7")
            given["scale"] = scale
        if time_mode == "fps":
            if not str(fps or "").strip():
                raise VideoINRError("--fps: give a frame rate such as 60")
            given["fps"] = fps
        else:
            if time_scale is None:
                raise VideoINRError("--time-scale: give a whole number >= 1 (1: same frame rate)")
            given["time_scale"] = time_scale
        return upscale_options(given)

    # ------------------------------------------------------------------ estimate
    def estimate(self, video, space_mode, scale, size, time_mode, time_scale, fps, model) -> str:
        if not video:
            return message_html("note", "Upload a video or use the example to see the estimate.")
        names = {str(video): _display_name(video)}
        try:
            options = self._options(space_mode, scale, size, time_mode, time_scale, fps, model)
            e = estimate(video, options, model=model)
        except VideoINRError as err:
            return message_html("error", error_line(err, names))
        except Exception as err:  # noqa: BLE001 - the page must keep serving; details go to the console
            traceback.print_exc()
            return message_html("error", f"error: unexpected {type(err).__name__}: {err}")
        fps_text = f"{float(e.fps):.3f}".rstrip("0").rstrip(".")
        odd = " (odd size: stored as yuv444p, which most browsers do not play; download it)" if (
            e.width % 2 or e.height % 2) else ""
        return message_html("estimate", (
            f"Estimate: {e.frames_in} -> {e.frames_out} frames of {e.width}x{e.height} at {fps_text} fps"
            f"{', with audio' if e.audio else ''}; about {fmt_secs(e.seconds)}, "
            f"peak memory about {fmt_bytes(e.peak_bytes)}{odd}"))

    # ------------------------------------------------------------------ a job
    def run(self, video, space_mode, scale, size, time_mode, time_scale, fps, model, session: str,
            progress=None) -> tuple[str | None, str, str | None]:
        """Upscale `video` with these settings: (output path or None, status HTML, job folder or None)."""
        if not video:
            return None, message_html("error", "error: no video: upload one or use the example"), None
        flag = threading.Event()
        with self.flags_lock:
            self.cancel_flags[session] = flag
        job = self.jobs_root / uuid.uuid4().hex
        names = {str(video): _display_name(video)}
        report = progress if progress is not None else (lambda *a, **k: None)
        ok = False
        try:
            options = self._options(space_mode, scale, size, time_mode, time_scale, fps, model)
            if not self.job_lock.acquire(blocking=False):
                report(0, desc="waiting for the previous job to stop")
                while not self.job_lock.acquire(timeout=0.5):
                    if flag.is_set():
                        raise Stopped("cancelled")
            try:
                self._sweep()  # one job at a time: every earlier job folder is done with (its result served)
                job.mkdir()
                ext = Path(str(video)).suffix.lower()
                inp = job / ("input" + (ext if ext in VIDEO_EXTENSIONS else ".bin"))
                try:
                    os.link(video, inp)  # same file system (both in the app folder); a copy otherwise
                except OSError:
                    write_via_temp(inp, lambda t: shutil.copyfile(video, t))
                out = job / f"{_safe_stem(names[str(video)])}_videoinr.mp4"
                names.update({str(inp): names[str(video)], str(out): out.name, str(job) + os.sep: ""})
                t_start = [0.0]

                def on_progress(done: int, total: int) -> None:
                    if flag.is_set():
                        raise Stopped("cancelled")
                    now = time.monotonic()
                    if done == 0 or not t_start[0]:
                        t_start[0] = now
                    el = now - t_start[0]
                    eta = f"ETA {fmt_secs(el / done * (total - done))}" if done else "ETA ..."
                    report((done, total), desc=f"rendering: {el:.0f} s elapsed, {eta}", unit="frames")

                report(0, desc="reading the input (every frame is checked)")
                t0 = time.monotonic()
                upscale(inp, out, options, model=model, progress=False, on_progress=on_progress)
                took = time.monotonic() - t0
                if flag.is_set():
                    raise Stopped("cancelled")
            finally:
                self.job_lock.release()
            from videoinr.data.video import probe

            info = probe(out)
            ok = True
            return str(out), message_html("done", (
                f"done in {fmt_secs(took)}: {info.frames} frames of {info.width}x{info.height}, "
                f"{info.duration:.2f} s{', with audio' if info.has_audio else ''} ({out.name})")), str(job)
        except Stopped:
            return None, message_html("note", "cancelled"), None
        except VideoINRError as err:
            return None, message_html("error", error_line(err, names)), None
        except Exception as err:  # noqa: BLE001 - the page must keep serving; details go to the console
            traceback.print_exc()
            return None, message_html("error", f"error: unexpected {type(err).__name__}: {err}"), None
        finally:
            with self.flags_lock:
                if self.cancel_flags.get(session) is flag:
                    del self.cancel_flags[session]
            if not ok:
                shutil.rmtree(job, ignore_errors=True)

    def _sweep(self) -> None:
        """Remove every job folder (call holding `job_lock`): finished jobs whose page never asked for the
        comparison (a closed tab) and anything a cancelled or killed job left must not pile up on disk."""
        for p in self.jobs_root.iterdir():
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)

    def end_session(self, session: str) -> None:
        """The browser tab closed or lost its connection: stop that session's job (its folder is removed as
        for a cancel)."""
        self.cancel(session)

    def cancel(self, session: str) -> bool:
        with self.flags_lock:
            flag = self.cancel_flags.get(session)
        if flag is not None:
            flag.set()
        return flag is not None

    def cancel_all(self) -> None:
        with self.flags_lock:
            for flag in self.cancel_flags.values():
                flag.set()

    def finish(self, job: str | None) -> None:
        """Remove a finished job's folder (its result has been copied to Gradio's cache by now)."""
        if job and Path(job).parent == self.jobs_root:
            shutil.rmtree(job, ignore_errors=True)

    # ------------------------------------------------------------------ comparison
    @staticmethod
    def output_frames(path: str | None) -> int:
        from videoinr.data.video import probe

        return probe(path).frames if path else 0

    @staticmethod
    def compare(video: str, output: str, index: int):
        """(input frame nearest in time, resized with bicubic to the output size; output frame `index`; text)."""
        import cv2

        from videoinr.data.video import iter_video

        out_t0 = None
        target = None
        for f in iter_video(output):
            out_t0 = f.time if out_t0 is None else out_t0
            if f.index == index:
                target = f
                break
        if target is None:
            raise VideoINRError(f"the output has no frame {index}")
        t = target.time - out_t0
        best, in_t0 = None, None
        for f in iter_video(video):
            in_t0 = f.time if in_t0 is None else in_t0
            dt = abs((f.time - in_t0) - t)
            if best is None or dt < best[0] - 1e-6:
                best = (dt, f)
            if f.time - in_t0 > t:
                break
        dt, src = best
        h, w = target.image.shape[:2]
        before = cv2.resize(src.image, (w, h), interpolation=cv2.INTER_CUBIC)
        kind = "an input frame" if dt < 1e-3 else "interpolated"
        text = (f"Output frame {index} at {t:.3f} s ({kind}) vs input frame {src.index} at {src.time - in_t0:.3f} s "
                f"resized with bicubic. Drag the handle: left bicubic, right VideoINR.")
        return before, target.image, text


