"""The user-study kit (Table 2): the page works in a real browser (Debian's chromium through Playwright), the key
stays out of the page, and `cmmnet study tally` reports the answers given."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cmmnet.cli import main
from cmmnet.errors import CmmnetError
from cmmnet.study import make_study, tally
from cmmnet.video import write_video

CHROMIUM = "/usr/bin/chromium"
ITEMS = [f"{label}/s{i:02d}-{i:05d}.mp4" for label in ("posed", "spontaneous") for i in range(3)]


@pytest.fixture(scope="module")
def video_dirs(tmp_path_factory):
    """Two methods' video folders with the same six inputs; method A's videos are bright, method B's dark."""
    root = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    for method, level in (("methA", 200), ("methB", 40)):
        for item in ITEMS:
            frames = np.clip(level + rng.integers(-10, 10, (8, 32, 32, 3)), 0, 255).astype(np.uint8)
            write_video(root / method / item, frames, fps=8)
    return root / "methA", root / "methB"


def test_make_is_blinded_and_random(video_dirs, tmp_path):
    a, b = video_dirs
    key = make_study(a, b, tmp_path / "s", pairs=6, seed=1)
    page = (tmp_path / "s" / "index.html").read_text()
    assert "Which video looks more realistic?" in page
    assert "methA" not in page and "methB" not in page and "s00-" not in page  # nothing reveals the method
    assert {p["A"] for p in key["pairs"]} == {"a", "b"}  # sides drawn at random (seed 1 gives both)
    assert sorted(p["item"] for p in key["pairs"]) == sorted(ITEMS)
    on_disk = json.loads((tmp_path / "s" / "key.json").read_text())
    assert on_disk == key
    for p in key["pairs"]:  # the copied videos are the right method's
        src = a if p["A"] == "a" else b
        assert (tmp_path / "s" / "videos" / f"{p['pair']}_1.mp4").read_bytes() == (src / p["item"]).read_bytes()
    key2 = make_study(a, b, tmp_path / "s2", pairs=3, seed=1)
    assert len(key2["pairs"]) == 3 and key2["study"] != key["study"]
    with pytest.raises(CmmnetError, match="share no video"):
        make_study(a, tmp_path / "s", tmp_path / "s3", pairs=3)


def _chromium_context(p, user_dir: Path, downloads: Path):
    return p.chromium.launch_persistent_context(
        str(user_dir), executable_path=CHROMIUM, headless=True, accept_downloads=True, downloads_path=str(downloads),
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run"])


def test_page_in_chromium_answers_three_pairs_and_tally(video_dirs, tmp_path, capsys):
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (test extras)")
    if not Path(CHROMIUM).is_file():
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    a, b = video_dirs
    study = tmp_path / "study"
    assert main(["study", "make", "--a", str(a), "--b", str(b), "--out", str(study), "--pairs", "4",
                 "--seed", "3"]) == 0
    key = json.loads((study / "key.json").read_text())
    pairs = key["pairs"][:3]
    # rater: pair 1 -> the video showing method A ("methA"), pair 2 -> "similar", pair 3 -> the one showing methB
    want_choice = {pairs[0]["pair"]: "A" if pairs[0]["A"] == "a" else "B", pairs[1]["pair"]: "similar",
                   pairs[2]["pair"]: "A" if pairs[2]["A"] == "b" else "B"}
    with playwright.sync_playwright() as p:
        ctx = _chromium_context(p, tmp_path / "profile", tmp_path / "dl")
        try:
            page = ctx.new_page()
            page.goto((study / "index.html").as_uri())
            assert page.locator(".pair").count() == 4
            # the videos are real, playable files in this browser
            page.wait_for_function("document.querySelector('video').readyState >= 1", timeout=15000)
            assert page.evaluate("document.querySelector('video').videoWidth") == 32
            page.fill("#rater", "tester 1")
            for pid, choice in want_choice.items():
                page.check(f'input[name="{pid}"][value="{choice}"]')
            assert "3 of 4 pairs answered" in page.inner_text("#progress")
            page.reload()  # answers survive a reload (localStorage)
            assert "3 of 4 pairs answered" in page.inner_text("#progress")
            with page.expect_download() as dl:
                page.click("#download")
            answers = tmp_path / "answers.json"
            dl.value.save_as(str(answers))
        finally:
            ctx.close()
    got = json.loads(answers.read_text())
    assert got["study"] == key["study"] and got["rater"] == "tester 1"
    assert {x["pair"]: x["choice"] for x in got["answers"]} == want_choice
    t = tally(study / "key.json", [answers])
    assert t["total"] == {"a": 1, "b": 1, "similar": 1} and t["raters"] == 1
    capsys.readouterr()
    assert main(["study", "tally", "--key", str(study / "key.json"), str(answers)]) == 0
    out = capsys.readouterr().out
    assert "methA" in out and "methB" in out and "33.33%" in out


def test_tally_counts_and_errors(video_dirs, tmp_path, capsys):
    a, b = video_dirs
    key = make_study(a, b, tmp_path / "s", pairs=6, seed=0)
    # two raters: everyone prefers method a's video, except "similar" on spontaneous pairs for rater 2
    files = []
    for r in range(2):
        answers = []
        for p in key["pairs"]:
            choice = "A" if p["A"] == "a" else "B"
            if r == 1 and p["label"] == "spontaneous":
                choice = "similar"
            answers.append({"pair": p["pair"], "choice": choice})
        f = tmp_path / f"r{r}.json"
        f.write_text(json.dumps({"study": key["study"], "rater": str(r), "answers": answers}))
        files.append(f)
    t = tally(tmp_path / "s" / "key.json", files)
    assert t["labels"]["posed"] == {"a": 6, "b": 0, "similar": 0}
    assert t["labels"]["spontaneous"] == {"a": 3, "b": 0, "similar": 3}
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"study": "deadbeef", "answers": []}))
    assert main(["study", "tally", "--key", str(tmp_path / "s" / "key.json"), str(other)]) == 2
    assert "another study" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "s" / "videos")
    assert main(["study", "make", "--a", str(tmp_path / "nope"), "--b", str(b), "--out", str(tmp_path / "x")]) == 2
    assert "not a directory of videos" in capsys.readouterr().err
