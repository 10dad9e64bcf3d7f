"""`videoinr ui`: a local web page for upscaling (Gradio, an optional extra: `pip install 'videoinr[ui]'`).

The page runs the same code path as `videoinr upscale` (the public `videoinr.upscale()`, with its
`on_progress` callback for the progress bar and for cancelling), one job at a time (a Gradio queue plus a
lock, so a cancelled job that is still stopping never overlaps the next one). Each job works in its own
temporary folder under the app's folder (`videoinr-ui-*` in the system temp dir), removed when the job ends;
Gradio's own upload/cache folder is inside the app's folder too, and the whole folder is removed when the app
stops. The browser can read only Gradio's cache (uploads and results) and the bundled example clip.

Gradio is imported inside `main` only, so `import videoinr` never needs it.
"""
import html
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path

from videoinr.errors import ArgumentParser, VideoINRError
from videoinr.pipeline import EXAMPLE_VIDEO, VIDEO_EXTENSIONS, estimate, parse_memory, upscale
from videoinr.pipeline.budget import fmt_bytes, fmt_secs

__all__ = ["main", "build_parser"]

INSTALL_HINT = "the web page needs Gradio, which is not installed: pip install 'videoinr[ui]'"
SPACE_MODES = ("scale", "size")
TIME_MODES = ("time scale", "fps")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="videoinr ui",
        description="Start a local web page for upscaling videos (needs: pip install 'videoinr[ui]').",
        epilog="Example: videoinr ui --port 7860   (then open the printed address in a browser)",
    )
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: the network)")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one, printed)")
    p.add_argument("--share", action="store_true",
                   help="also open a public *.gradio.live link through Gradio's share servers (off by default)")
    p.add_argument("--max-upload", default="500M", help="largest accepted upload, e.g. 500M or 2G (default 500M)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--max-memory", default="auto", help="peak memory bound of a job, e.g. 4G (default auto)")
    return p


def _parse_bytes(text: str) -> int:
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([kmgt]?)(i?b)?\s*", str(text).lower())
    if not m or float(m.group(1)) <= 0:
        raise VideoINRError(f"--max-upload {text!r}: expected a size such as 500M or 2G")
    return int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2) or " "))


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _safe_stem(name: str) -> str:
    """A file-name stem made only of ASCII letters, digits, '-' and '_' (never a path)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(str(name)).stem).strip("_")
    return stem[:60] or "video"


def _display_name(path: str) -> str:
    """The uploaded file's base name, for messages only (control characters dropped)."""
    return "".join(ch for ch in Path(str(path)).name if ch.isprintable())[:120] or "video"


def _one_line(e: BaseException, replace: dict[str, str]) -> str:
    """The CLI's `error: ...` line for a VideoINRError, server paths replaced by what the user knows."""
    msg = " ".join(str(e).split()) or type(e).__name__
    for old, new in sorted(replace.items(), key=lambda kv: -len(kv[0])):
        msg = msg.replace(old, new)
    return f"error: {msg}"


def _msg(kind: str, text: str) -> str:
    return f'<p class="vi-msg vi-{kind}">{html.escape(text)}</p>'


class _Cancelled(Exception):
    """Raised from the progress callback when the user pressed Cancel: aborts the run like an error."""


class _Stop(KeyboardInterrupt):
    """SIGTERM: stop the app like Ctrl-C (jobs cancelled, temp folders removed)."""


def _on_sigterm(signum, frame):
    raise _Stop()


# ----------------------------------------------------------------------------------------------------
# the app: jobs, estimates, comparison (Gradio-free, so the logic stays readable)
# ----------------------------------------------------------------------------------------------------
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

    # ------------------------------------------------------------------ settings -> upscale() keywords
    def _options(self, space_mode, scale, size, time_mode, time_scale, fps, model) -> dict:
        if model not in self.models:
            raise VideoINRError(f"unknown model {model!r}: choose one of {', '.join(self.models)}")
        kw: dict = {"model": model, "device": self.device, "max_memory": self.max_memory}
        if space_mode == "size":
            if not str(size or "").strip():
                raise VideoINRError("--size: give an output size such as 1920x1080 or 1280x-1")
            kw["size"] = str(size).strip()
        else:
            if scale is None:
                raise VideoINRError("--scale: give a scale factor such as 2 or 2.7")
            kw["scale"] = float(scale)
        if time_mode == "fps":
            if not str(fps or "").strip():
                raise VideoINRError("--fps: give a frame rate such as 60")
            kw["fps"] = str(fps).strip()
        else:
            if time_scale is None:
                raise VideoINRError("--time-scale: give a whole number >= 1 (1: same frame rate)")
            kw["time_scale"] = int(time_scale) if float(time_scale).is_integer() else float(time_scale)
        return kw

    # ------------------------------------------------------------------ estimate
    def estimate(self, video, space_mode, scale, size, time_mode, time_scale, fps, model) -> str:
        if not video:
            return _msg("note", "Upload a video or use the example to see the estimate.")
        names = {str(video): _display_name(video)}
        try:
            kw = self._options(space_mode, scale, size, time_mode, time_scale, fps, model)
            e = estimate(video, **kw)
        except VideoINRError as err:
            return _msg("error", _one_line(err, names))
        except Exception as err:  # noqa: BLE001 - the page must keep serving; details go to the console
            traceback.print_exc()
            return _msg("error", f"error: unexpected {type(err).__name__}: {err}")
        fps_text = f"{float(e.fps):.3f}".rstrip("0").rstrip(".")
        odd = " (odd size: stored as yuv444p, which most browsers do not play; download it)" if (
            e.width % 2 or e.height % 2) else ""
        return _msg("estimate", (
            f"Estimate: {e.frames_in} -> {e.frames_out} frames of {e.width}x{e.height} at {fps_text} fps"
            f"{', with audio' if e.audio else ''}; about {fmt_secs(e.seconds)}, "
            f"peak memory about {fmt_bytes(e.peak_bytes)}{odd}"))

    # ------------------------------------------------------------------ a job
    def run(self, video, space_mode, scale, size, time_mode, time_scale, fps, model, session: str,
            progress=None) -> tuple[str | None, str, str | None]:
        """Upscale `video` with these settings: (output path or None, status HTML, job folder or None)."""
        if not video:
            return None, _msg("error", "error: no video: upload one or use the example"), None
        flag = threading.Event()
        with self.flags_lock:
            self.cancel_flags[session] = flag
        job = self.jobs_root / uuid.uuid4().hex
        names = {str(video): _display_name(video)}
        report = progress if progress is not None else (lambda *a, **k: None)
        ok = False
        try:
            kw = self._options(space_mode, scale, size, time_mode, time_scale, fps, model)
            if not self.job_lock.acquire(blocking=False):
                report(0, desc="waiting for the previous job to stop")
                while not self.job_lock.acquire(timeout=0.5):
                    if flag.is_set():
                        raise _Cancelled()
            try:
                job.mkdir()
                ext = Path(str(video)).suffix.lower()
                inp = job / ("input" + (ext if ext in VIDEO_EXTENSIONS else ".bin"))
                try:
                    os.link(video, inp)  # same file system (both in the app folder); a copy otherwise
                except OSError:
                    shutil.copyfile(video, inp)
                out = job / f"{_safe_stem(names[str(video)])}_videoinr.mp4"
                names.update({str(inp): names[str(video)], str(out): out.name, str(job) + os.sep: ""})
                t_start = [0.0]

                def on_progress(done: int, total: int) -> None:
                    if flag.is_set():
                        raise _Cancelled()
                    now = time.monotonic()
                    if done == 0 or not t_start[0]:
                        t_start[0] = now
                    el = now - t_start[0]
                    eta = f"ETA {fmt_secs(el / done * (total - done))}" if done else "ETA ..."
                    report((done, total), desc=f"rendering: {el:.0f} s elapsed, {eta}", unit="frames")

                report(0, desc="reading the input (every frame is checked)")
                t0 = time.monotonic()
                upscale(inp, out, progress=False, on_progress=on_progress, **kw)
                took = time.monotonic() - t0
                if flag.is_set():
                    raise _Cancelled()
            finally:
                self.job_lock.release()
            from videoinr.data.video import probe

            info = probe(out)
            ok = True
            return str(out), _msg("done", (
                f"done in {fmt_secs(took)}: {info.frames} frames of {info.width}x{info.height}, "
                f"{info.duration:.2f} s{', with audio' if info.has_audio else ''} ({out.name})")), str(job)
        except _Cancelled:
            return None, _msg("note", "cancelled"), None
        except VideoINRError as err:
            return None, _msg("error", _one_line(err, names)), None
        except Exception as err:  # noqa: BLE001 - the page must keep serving; details go to the console
            traceback.print_exc()
            return None, _msg("error", f"error: unexpected {type(err).__name__}: {err}"), None
        finally:
            with self.flags_lock:
                if self.cancel_flags.get(session) is flag:
                    del self.cancel_flags[session]
            if not ok:
                shutil.rmtree(job, ignore_errors=True)

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


# ----------------------------------------------------------------------------------------------------
# the page
# ----------------------------------------------------------------------------------------------------
CSS = """
.vi-msg { margin: 0.2em 0; font-size: 1.05em; }
.vi-error { color: #b91c1c; font-weight: 600; }
.vi-done { color: #15803d; font-weight: 600; }
.vi-note { color: #6b7280; }
.vi-estimate { color: #1e3a8a; }
"""


def build_page(gr, app: App):
    with gr.Blocks(title="videoinr: upscale a video", analytics_enabled=False) as demo:
        gr.Markdown("## videoinr: upscale a video in space and time\n"
                    "VideoINR renders any size and any frame rate; same engine as `videoinr upscale`.")
        job_state = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1):
                video = gr.Video(label="Input video", sources=["upload"], elem_id="input_video", height=260)
                example_btn = gr.Button("Use the bundled example (192x108, 2 s, with sound)",
                                        elem_id="example_btn", size="sm")
                with gr.Row():
                    space_mode = gr.Radio(list(SPACE_MODES), value="scale", label="Space", elem_id="space_mode")
                    scale = gr.Number(value=2, label="Scale factor", elem_id="scale")
                    size = gr.Textbox(label="Exact size WxH (-1 keeps the aspect)", placeholder="1920x-1",
                                      elem_id="size")
                with gr.Row():
                    time_mode = gr.Radio(list(TIME_MODES), value="time scale", label="Time", elem_id="time_mode")
                    time_scale = gr.Number(value=2, precision=0, label="Frames per input interval",
                                           elem_id="time_scale")
                    fps = gr.Textbox(label="Target fps", placeholder="60", elem_id="fps")
                model = gr.Dropdown(app.models, value="lite", label="Model", elem_id="model")
                estimate = gr.HTML(_msg("note", "Upload a video or use the example to see the estimate."),
                                   elem_id="estimate")
                with gr.Row():
                    run_btn = gr.Button("Upscale", variant="primary", elem_id="run_btn")
                    cancel_btn = gr.Button("Cancel", variant="stop", elem_id="cancel_btn")
                status = gr.HTML("", elem_id="status")
            with gr.Column(scale=1):
                output = gr.Video(label="Result", interactive=False, elem_id="output_video", height=300,
                                  buttons=["download"])
                frame = gr.Slider(0, 1, value=0, step=1, label="Frame to compare", elem_id="frame_picker",
                                  interactive=True)
                compare = gr.ImageSlider(label="Before (bicubic) / after (VideoINR)", elem_id="compare",
                                         format="png", interactive=False, max_height=400)
                compare_info = gr.HTML("", elem_id="compare_info")

        settings = [video, space_mode, scale, size, time_mode, time_scale, fps, model]

        def do_estimate(video, space_mode, scale, size, time_mode, time_scale, fps, model):
            return app.estimate(video, space_mode, scale, size, time_mode, time_scale, fps, model)

        gr.on([video.change, space_mode.change, scale.change, size.submit, size.blur, time_mode.change,
               time_scale.change, fps.submit, fps.blur, model.change], do_estimate, inputs=settings,
              outputs=estimate, trigger_mode="always_last", show_progress="minimal")
        example_btn.click(lambda: str(EXAMPLE_VIDEO), outputs=video, concurrency_limit=None)

        def do_run(video, space_mode, scale, size, time_mode, time_scale, fps, model, request: gr.Request,
                   progress=gr.Progress()):
            return app.run(video, space_mode, scale, size, time_mode, time_scale, fps, model,
                           session=request.session_hash, progress=progress)

        def do_finish(job, video_path, output_path):
            app.finish(job)
            n = app.output_frames(output_path) if output_path else 0
            if not n:
                return gr.Slider(0, 1, value=0), None, ""
            i = n // 2
            try:
                before, after, text = app.compare(video_path, output_path, i)
            except VideoINRError as err:
                return gr.Slider(0, n - 1, value=i, step=1), None, _msg("error", _one_line(err, {}))
            return gr.Slider(0, n - 1, value=i, step=1), (before, after), _msg("note", text)

        def do_compare(video_path, output_path, i):
            if not (video_path and output_path):
                return None, ""
            try:
                before, after, text = app.compare(video_path, output_path, int(i))
            except VideoINRError as err:
                return None, _msg("error", _one_line(err, {}))
            return (before, after), _msg("note", text)

        def do_cancel(request: gr.Request):
            running = app.cancel(request.session_hash)
            return _msg("note", "cancelled" if running else "nothing to cancel")

        started = run_btn.click(lambda: (None, _msg("note", "queued"), None, ""),
                                outputs=[output, status, compare, compare_info], concurrency_limit=None,
                                show_progress="hidden")
        job = started.then(do_run, inputs=settings, outputs=[output, status, job_state], concurrency_limit=1,
                           concurrency_id="job")
        job.then(do_finish, inputs=[job_state, video, output], outputs=[frame, compare, compare_info],
                 concurrency_limit=None)
        cancel_btn.click(do_cancel, outputs=status, cancels=[job], concurrency_limit=None, show_progress="hidden")
        gr.on([frame.release, frame.input], do_compare, inputs=[video, output, frame],
              outputs=[compare, compare_info], trigger_mode="always_last", show_progress="minimal")
    return demo


# ----------------------------------------------------------------------------------------------------
# command
# ----------------------------------------------------------------------------------------------------
def _quiet_gradio_env(root: Path) -> None:
    """No telemetry, no version check, no Hugging Face calls; Gradio's files inside the app's folder."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")
    os.environ["GRADIO_EXAMPLES_CACHE"] = str(root / "examples")
    os.environ.setdefault("GRADIO_SSR_MODE", "False")
    os.environ.pop("GRADIO_SHARE", None)


def main(argv: list[str] | None = None) -> int:
    """`videoinr ui ...`: serve the page until Ctrl-C or SIGTERM; returns the exit status."""
    args = build_parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        raise VideoINRError(f"--port {args.port}: must be in 0..65535")
    max_upload = _parse_bytes(args.max_upload)
    from videoinr.runtime import pick_device
    parse_memory(args.max_memory)
    pick_device(args.device)

    root = Path(tempfile.mkdtemp(prefix="videoinr-ui-"))
    demo = None
    app = None
    old_handler = None
    try:
        _quiet_gradio_env(root)
        try:
            import gradio as gr
        except ImportError:
            raise VideoINRError(INSTALL_HINT) from None
        port = args.port or _free_port(args.host)
        app = App(root, device=args.device, max_memory=args.max_memory)
        demo = build_page(gr, app)
        demo.queue(default_concurrency_limit=1)
        try:
            demo.launch(
                server_name=args.host, server_port=port, share=bool(args.share), prevent_thread_lock=True,
                quiet=True, inbrowser=False, show_error=False, ssr_mode=False, mcp_server=False, pwa=False,
                enable_monitoring=False, max_file_size=max_upload, allowed_paths=[str(EXAMPLE_VIDEO)],
                blocked_paths=[], footer_links=["gradio"], css=CSS,
                theme=gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"]),
            )
        except OSError:
            demo = None  # never launched
            raise VideoINRError(f"--port {port}: cannot listen on {args.host}:{port} (in use, or not an address "
                                "of this machine?)") from None
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"videoinr ui: http://{host}:{port}/  (work files in {root}; Ctrl-C to stop)", flush=True)
        if demo.share_url:
            print(f"videoinr ui: public link {demo.share_url}", flush=True)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"note: listening on {args.host}: anyone who can reach this machine can use the page",
                  file=sys.stderr, flush=True)
        if threading.current_thread() is threading.main_thread():
            old_handler = signal.signal(signal.SIGTERM, _on_sigterm)
        try:
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        if app is not None:
            app.cancel_all()
            app.job_lock.acquire(timeout=30)  # let a running job stop (it removes its own folder)
        if demo is not None:
            try:
                demo.close(verbose=False)
            except Exception:  # noqa: BLE001 - stopping anyway
                pass
        shutil.rmtree(root, ignore_errors=True)
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
        if demo is not None:
            print("videoinr ui: stopped", file=sys.stderr, flush=True)


if __name__ == "__main__":
    from videoinr.cli import run_with_errors

    sys.exit(run_with_errors(main, sys.argv[1:]))
