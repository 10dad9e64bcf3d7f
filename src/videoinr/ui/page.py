"""The web page's layout and wiring (Gradio Blocks): the widgets, then three behaviours: the estimate, the
job (run, progress, cancel), the before/after comparison. The logic behind them is `videoinr.ui.app.App`."""
from dataclasses import dataclass
from typing import Any

from videoinr.errors import VideoINRError
from videoinr.pipeline import EXAMPLE_VIDEO
from videoinr.ui.app import SPACE_MODES, TIME_MODES, App, error_line, message_html

__all__ = ["CSS", "build_page"]

CSS = """
.vi-msg { margin: 0.2em 0; font-size: 1.05em; }
.vi-error { color: #b91c1c; font-weight: 600; }
.vi-done { color: #15803d; font-weight: 600; }
.vi-note { color: #6b7280; }
.vi-estimate { color: #1e3a8a; }
"""


@dataclass
class _Page:
    """The page's widgets: the job settings, the controls, and the result side."""

    video: Any
    example_btn: Any
    space_mode: Any
    scale: Any
    size: Any
    time_mode: Any
    time_scale: Any
    fps: Any
    model: Any
    estimate: Any
    run_btn: Any
    cancel_btn: Any
    status: Any
    output: Any
    frame: Any
    compare: Any
    compare_info: Any
    job_state: Any

    @property
    def settings(self) -> list:
        """The inputs of `App.estimate` and `App.run`, in their order."""
        return [self.video, self.space_mode, self.scale, self.size, self.time_mode, self.time_scale, self.fps,
                self.model]


def build_page(gr, app: App):
    """The Gradio Blocks page: the layout, then the three behaviours (estimate, job, comparison)."""
    with gr.Blocks(title="videoinr: upscale a video", analytics_enabled=False) as demo:
        gr.Markdown("## videoinr: upscale a video in space and time\n"
                    "VideoINR renders any size and any frame rate; same engine as `videoinr upscale`.")
        page = _layout(gr, app)
        _wire_estimate(gr, app, page)
        _wire_job(gr, app, page)
        _wire_compare(gr, app, page)
        from videoinr.ui.check_tab import add_check  # "check on my video first" (videoinr check)

        add_check(gr, app, page)

        def on_unload(request: gr.Request):  # tab closed or connection lost: its job must not run on
            app.end_session(request.session_hash)

        demo.unload(on_unload)
    return demo


def _layout(gr, app: App) -> _Page:
    """Two columns: the input and settings on the left, the result and the before/after slider on the right."""
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
            estimate = gr.HTML(message_html("note", "Upload a video or use the example to see the estimate."),
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
    return _Page(video=video, example_btn=example_btn, space_mode=space_mode, scale=scale, size=size,
                 time_mode=time_mode, time_scale=time_scale, fps=fps, model=model, estimate=estimate,
                 run_btn=run_btn, cancel_btn=cancel_btn, status=status, output=output, frame=frame,
                 compare=compare, compare_info=compare_info, job_state=job_state)


def _wire_estimate(gr, app: App, page: _Page) -> None:
    """Any change of the input or a setting re-estimates the job; the example button loads the bundled clip."""
    def do_estimate(video, space_mode, scale, size, time_mode, time_scale, fps, model):
        return app.estimate(video, space_mode, scale, size, time_mode, time_scale, fps, model)

    gr.on([page.video.change, page.space_mode.change, page.scale.change, page.size.submit, page.size.blur,
           page.time_mode.change, page.time_scale.change, page.fps.submit, page.fps.blur, page.model.change],
          do_estimate, inputs=page.settings, outputs=page.estimate, trigger_mode="always_last",
          show_progress="minimal")
    page.example_btn.click(lambda: str(EXAMPLE_VIDEO), outputs=page.video, concurrency_limit=None)


def _wire_job(gr, app: App, page: _Page) -> None:
    """Upscale: clear the result, run the job (one at a time, with progress), then open the comparison on its
    middle frame; Cancel stops this session's job."""
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
            return gr.Slider(0, n - 1, value=i, step=1), None, message_html("error", error_line(err, {}))
        return gr.Slider(0, n - 1, value=i, step=1), (before, after), message_html("note", text)

    def do_cancel(request: gr.Request):
        running = app.cancel(request.session_hash)
        return message_html("note", "cancelled" if running else "nothing to cancel")

    started = page.run_btn.click(lambda: (None, message_html("note", "queued"), None, ""),
                                 outputs=[page.output, page.status, page.compare, page.compare_info],
                                 concurrency_limit=None, show_progress="hidden")
    job = started.then(do_run, inputs=page.settings, outputs=[page.output, page.status, page.job_state],
                       concurrency_limit=1, concurrency_id="job")
    job.then(do_finish, inputs=[page.job_state, page.video, page.output],
             outputs=[page.frame, page.compare, page.compare_info], concurrency_limit=None)
    page.cancel_btn.click(do_cancel, outputs=page.status, cancels=[job], concurrency_limit=None,
                          show_progress="hidden")


def _wire_compare(gr, app: App, page: _Page) -> None:
    """Moving the frame picker shows that output frame against the nearest input frame, bicubic-resized."""
    def do_compare(video_path, output_path, i):
        if not (video_path and output_path):
            return None, ""
        try:
            before, after, text = app.compare(video_path, output_path, int(i))
        except VideoINRError as err:
            return None, message_html("error", error_line(err, {}))
        return (before, after), message_html("note", text)

    gr.on([page.frame.release, page.frame.input], do_compare, inputs=[page.video, page.output, page.frame],
          outputs=[page.compare, page.compare_info], trigger_mode="always_last", show_progress="minimal")


