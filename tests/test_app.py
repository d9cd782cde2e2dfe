"""The web page (`cmmnet app`) in a real browser (Debian's chromium through Playwright): upload the example photo,
generate, every <video> loads with the duration of its file; a photo without a face shows the command line's
one-line message; the page fetches nothing from outside. Shipped weights (the videos are the real ones).

``CMMNET_APP_SCREENSHOT=docs/app.png`` also saves a screenshot of the page with its results there."""

from __future__ import annotations

import os
import shutil
import socket
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from cmmnet.commands.demo_cmd import example_image

CHROMIUM = "/usr/bin/chromium"
LOCAL = ("http://127.0.0.1", "data:", "blob:")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("gradio", reason="the web page needs Gradio: pip install 'cmmnet[app]'")
    from cmmnet.app.page import serve
    from cmmnet.generate import CMMNet, GenerateConfig

    net = CMMNet.from_pretrained(None, GenerateConfig(device="cpu", precision="fp32"))
    port = _free_port()
    page = serve(net, example_image(), port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    page.close()


@pytest.fixture(scope="module")
def browser_page(server):
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (test extras)")
    if not Path(CHROMIUM).is_file():
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    outside: list[str] = []

    def only_local(route):
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:  # as with no network: refused, and recorded
            outside.append(route.request.url)
            route.abort()

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000}, accept_downloads=True)
            page.route("**/*", only_local)
            page.goto(server)
            page.wait_for_selector("#generate", timeout=60000)
            yield page, outside
        finally:
            browser.close()


def _upload_and_generate(page, photo: Path) -> None:
    """Upload ``photo`` and press Generate; waits for the new status line."""
    if page.locator("#photo button[aria-label='Clear']").count():  # an earlier photo is there
        page.click("#photo button[aria-label='Clear']")
    page.locator("#photo input[type=file]").set_input_files(str(photo))
    page.wait_for_function(f"document.querySelector('#photo').innerText.replace(/\\s/g, '').includes({photo.name!r})",
                           timeout=60000)
    before = page.inner_text("#status")
    page.click("#generate")  # the answer replaces the status line (each test's differs from the one before)
    page.wait_for_function("([b]) => { const t = document.querySelector('#status').innerText.trim(); "
                           "return /^(error:|\\w+ smile)/.test(t) && t !== b.trim(); }", arg=[before], timeout=180000)


def test_generate_shows_playable_videos_sheet_and_zip(browser_page, tmp_path):
    from cmmnet.video import video_info

    page, outside = browser_page
    page.get_by_role("button", name="example.jpg").click()  # the bundled example can be picked ...
    page.wait_for_function("document.querySelector('#photo').innerText.replace(/\\s/g, '').includes('example.jpg')",
                           timeout=60000)
    photo = tmp_path / "me.jpg"  # ... and a photo uploaded in its place
    shutil.copy(example_image(), photo)
    _upload_and_generate(page, photo)
    status = page.inner_text("#status")
    assert "error" not in status and "4 videos" in status, status
    page.wait_for_function("[...document.querySelectorAll('#videos video')].length == 4 && "
                           "[...document.querySelectorAll('#videos video')].every(v => v.readyState >= 1)",
                           timeout=60000)
    got = page.evaluate("[...document.querySelectorAll('#videos video')].map(v => [v.duration, v.currentSrc])")
    with page.expect_download() as dl:
        page.locator("#archive a[download]").first.click()
    archive = tmp_path / "smiles.zip"
    dl.value.save_as(archive)
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp_path)
    names = ["conditional", "mode_1", "mode_2", "mode_3"]
    assert [Path(src).stem for _, src in got] == names
    for (duration, _), name in zip(got, names):  # each <video> plays its whole file
        info = video_info(tmp_path / "smiles" / f"{name}.mp4")
        assert duration == pytest.approx(info["frames"] / info["fps"], abs=0.05)
    assert {"sheet.png", "landmarks.npy", "meta.json"} <= {p.name for p in (tmp_path / "smiles").iterdir()}
    assert page.evaluate("document.querySelector('#sheet img').naturalWidth") > 0
    if os.environ.get("CMMNET_APP_SCREENSHOT"):
        page.wait_for_timeout(1500)  # a frame into the loops
        page.screenshot(path=os.environ["CMMNET_APP_SCREENSHOT"], full_page=True)
    assert outside == [], f"the page fetched from outside: {outside}"


def test_bad_photos_show_the_command_lines_one_line(browser_page, tmp_path):
    """No face, not an image, too many pixels: the same message as `cmmnet generate` prints, with the file's name."""
    page, outside = browser_page
    wall = tmp_path / "wall.png"
    Image.new("RGB", (160, 120), (180, 170, 150)).save(wall)
    _upload_and_generate(page, wall)
    status = page.inner_text("#status").strip()
    assert status == ("error: wall.png: no face found; use a photo with one clearly visible, roughly frontal "
                      "face"), status
    assert page.locator("#videos video").count() == 0  # the earlier results are gone
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    _upload_and_generate(page, broken)
    assert page.inner_text("#status").strip().startswith("error: broken.jpg: not a readable image")
    huge = tmp_path / "huge.png"  # a PNG header claiming 25000 x 20000 pixels (500 Mpx)
    huge.write_bytes(_png_header(25000, 20000))
    _upload_and_generate(page, huge)
    assert page.inner_text("#status").strip() == "error: huge.png: image too large (over 400 Mpx); downscale it first"
    assert outside == []


def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_missing_gradio_gives_install_hint(monkeypatch, capsys):
    import builtins

    from cmmnet.cli import main

    real_import = builtins.__import__

    def no_gradio(name, *args, **kwargs):
        if name == "gradio":
            raise ImportError("No module named 'gradio'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gradio)
    assert main(["app", "--port", "1"]) == 2
    assert capsys.readouterr().err.strip() == "cmmnet app: error: the web page needs Gradio: pip install 'cmmnet[app]'"


def test_session_zips_every_file(tmp_path):
    """The request path without Gradio: the output folder and its zip, with either renderer."""
    from cmmnet.app.session import Session
    from cmmnet.generate import CMMNet, GenerateConfig
    from cmmnet.video import video_info

    net = CMMNet.from_pretrained(None, GenerateConfig(device="cpu", precision="fp32"))
    photo = tmp_path / "me.jpg"
    shutil.copy(example_image(), photo)
    res = Session(net, tmp_path / "app").run(photo, "spontaneous", 1, 5)
    assert [p.name for p in res.videos] == ["conditional.mp4", "mode_1.mp4"] and res.sheet.is_file()
    with zipfile.ZipFile(res.archive) as z:
        listed = sorted(z.namelist())
    assert listed == sorted(f"smiles/{p.name}" for p in res.sheet.parent.iterdir())
    assert res.archive.name == "cmmnet-me-spontaneous-seed5.zip"
    assert res.meta["renderer"] == net.config.renderer == "warp"
    # the renderer is a per-request choice
    paper = Session(net, tmp_path / "app-paper").run(photo, "spontaneous", 1, 5, renderer="paper")
    assert paper.meta["renderer"] == "paper" and net.config.renderer == "warp"
    assert video_info(paper.videos[0])["width"] == 256 != video_info(res.videos[0])["width"]
