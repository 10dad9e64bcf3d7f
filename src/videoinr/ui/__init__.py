"""`videoinr ui`: a local web page for upscaling (Gradio, an optional extra: `pip install 'videoinr[ui]'`).

The page runs the same code path as `videoinr upscale` (the public `videoinr.upscale()`, with its
`on_progress` callback for the progress bar and for cancelling), one job at a time (a Gradio queue plus a
lock, so a cancelled job that is still stopping never overlaps the next one). Each job works in its own
temporary folder under the app's folder (`videoinr-ui-*` in the system temp dir), removed when the job ends;
Gradio's own upload/cache folder is inside the app's folder too, and the whole folder is removed when the app
stops. The browser can read only Gradio's cache (uploads and results) and the bundled example clip.

Gradio is imported inside `main` only, so `import videoinr` never needs it.

Layout: `app.py` (the logic: jobs, estimates, comparison; no Gradio), `page.py` (the Gradio page: layout and
wiring), `cli.py` (the command).
"""
from videoinr.ui.cli import build_parser, main

__all__ = ["main", "build_parser"]
