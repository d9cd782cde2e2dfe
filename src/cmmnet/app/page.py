"""The page: a photo (upload, drop, or the bundled example) and the controls in; the K + 1 videos side by side, the
contact sheet and one zip of everything out. A problem with the photo shows the command line's one-line message.

Gradio is imported only here, after :func:`offline_environment` has turned off its analytics, update check and
telemetry; its default theme's fonts are served by the app itself, so the page fetches nothing from outside."""

from __future__ import annotations

import os
from pathlib import Path
from typing import get_args

from ..errors import CmmnetError
from ..generate.config import Renderer
from ..generate.timing import MAX_INTENSITY, TimingConfig, frames_for_onset
from .session import Session

OFFLINE_ENV = {  # Gradio's analytics and version check, the Hugging Face hub's telemetry and downloads
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}
MAX_UPLOAD = "50mb"  # a larger upload is refused by the page itself; the library refuses over 400 Mpx


def offline_environment() -> None:
    os.environ.update(OFFLINE_ENV)
    no_proxy = [h for h in os.environ.get("NO_PROXY", "").split(",") if h]
    os.environ["NO_PROXY"] = ",".join(dict.fromkeys([*no_proxy, "localhost", "127.0.0.1"]))  # the app's self-check


def import_gradio():
    offline_environment()
    try:
        import gradio
    except ImportError as e:
        raise CmmnetError("the web page needs Gradio: pip install 'cmmnet[app]'") from e
    return gradio


def build_page(net, example: Path, session: Session | None = None):
    """The Gradio Blocks of the page for ``net`` (a :class:`cmmnet.generate.CMMNet`)."""
    gr = import_gradio()
    session = session or Session(net)
    n_videos = net.trained_modes + 1

    real_onset = (net.T - 1) / net.fps  # seconds: the onset at the training data's speed
    default = TimingConfig()

    def generate(photo, label, modes, seed, intensity, onset, back, renderer):
        try:
            timing = TimingConfig(intensity=float(intensity), frames=frames_for_onset(float(onset), default.fps),
                                  ending="return" if back else "apex")
            res = session.run(photo, label, int(modes), int(seed), timing, renderer)
        except CmmnetError as e:
            hidden = [gr.update(value=None, visible=i == 0) for i in range(n_videos)]
            return [f"**error:** {e}", *hidden, None, None]
        shown = [gr.update(value=str(res.videos[i]) if i < len(res.videos) else None, visible=i < len(res.videos),
                           label=res.videos[i].stem.replace("_", " ") if i < len(res.videos) else None)
                 for i in range(n_videos)]
        inputs = res.meta["inputs"]
        video = res.meta["video"]
        status = (f"{inputs['label']} smile, seed {inputs['seed']}: the conditional sequence and {inputs['modes']} "
                  f"mode(s), {len(res.videos)} videos of {video['seconds']:g} s ({video['frames']} frames at "
                  f"{video['fps']} fps), {renderer} renderer")
        return [status, *shown, str(res.sheet), str(res.archive)]

    with gr.Blocks(title="cmmnet: smile videos from one photo", analytics_enabled=False,
                   delete_cache=(3600, 3600)) as page:  # Gradio's copies of the files: removed after an hour
        gr.Markdown("## cmmnet: diverse smile videos from one neutral photo\n"
                    "Upload or drop a photo of a face (neutral, roughly frontal), or pick the example; choose the "
                    "smile and press *Generate*. Row 0 is the conditional sequence, the others the K modes (CMM-Net, "
                    "CVPR 2018).")
        with gr.Row():
            with gr.Column(scale=1):
                photo = gr.File(label="photo (JPEG, PNG, WebP, BMP)", file_types=["image"], elem_id="photo")
                gr.Examples([[str(example)]], inputs=[photo], label="example")
            with gr.Column(scale=1):
                label = gr.Radio(list(net.label_names), value=net.label_names[0], label="smile", elem_id="label")
                modes = gr.Slider(1, net.trained_modes, value=net.trained_modes, step=1, label="K modes",
                                  elem_id="modes")
                seed = gr.Number(0, precision=0, minimum=0, label="seed (same seed = same videos)", elem_id="seed")
                intensity = gr.Slider(0, MAX_INTENSITY, value=default.intensity, step=0.1, elem_id="intensity",
                                      label="intensity (0 = neutral face, 1 = as generated, 2 = twice the motion)")
                onset = gr.Slider(0.2, 4.0, value=round(real_onset, 2), step=0.02, elem_id="onset",
                                  label=f"duration of the smile's onset, s ({real_onset:.2f} = real speed)")
                back = gr.Checkbox(default.ending == "return", elem_id="return",
                                   label="return to neutral (neutral -> smile -> hold -> neutral; off: ends at apex)")
                renderer = gr.Radio(list(get_args(Renderer)), value=net.config.renderer, elem_id="renderer",
                                    label="renderer (warp: the photo's own pixels moved; paper: the 64 px U-Net)")
                button = gr.Button("Generate", variant="primary", elem_id="generate")
        status = gr.Markdown("", elem_id="status")
        with gr.Row(elem_id="videos"):
            videos = [gr.Video(label=f"video {i}", visible=False, autoplay=True, loop=True, height=256,
                               interactive=False, elem_classes=["smile-video"]) for i in range(n_videos)]
        sheet = gr.Image(label="contact sheet: landmark images, then faces", type="filepath", interactive=False,
                         elem_id="sheet")
        archive = gr.File(label="everything as one zip", interactive=False, elem_id="archive")
        button.click(generate, [photo, label, modes, seed, intensity, onset, back, renderer],
                     [status, *videos, sheet, archive], concurrency_limit=1, show_progress_on=videos)
    return page


def serve(net, example: Path, host: str = "127.0.0.1", port: int = 7860, block: bool = True):
    """Start the page on ``host:port``; returns the Gradio app when ``block`` is False (tests)."""
    page = build_page(net, example)
    page.launch(server_name=host, server_port=port, share=False, ssr_mode=False, mcp_server=False,
                max_file_size=MAX_UPLOAD, prevent_thread_lock=not block, quiet=not block, footer_links=[])
    return page
