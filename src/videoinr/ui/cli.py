"""`videoinr ui` command: options, Gradio's environment (offline, files in the app's folder), serving until
Ctrl-C or SIGTERM, and cleaning up."""
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from videoinr.errors import ArgumentParser, Stopped, VideoINRError
from videoinr.fileio import parse_bytes
from videoinr.pipeline import EXAMPLE_VIDEO, upscale_options
from videoinr.ui.app import App
from videoinr.ui.page import CSS, build_page

__all__ = ["main", "build_parser", "INSTALL_HINT"]

INSTALL_HINT = "the web page needs Gradio, which is not installed: pip install 'videoinr[ui]'"


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


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]



def _on_sigterm(signum, frame):
    raise Stopped("terminated")  # like Ctrl-C: jobs cancelled, temp folders removed


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
    max_upload = parse_bytes(args.max_upload, "--max-upload")
    from videoinr.runtime import pick_device
    upscale_options(max_memory=args.max_memory)
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

