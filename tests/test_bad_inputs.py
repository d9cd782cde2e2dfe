"""Bad input, as a hostile user gives it, to every command and to the Python API (docs/reliability.md).

Each CLI case runs in its own folder and must end with exit code 2, exactly one stderr line naming the problem,
no traceback, and its folder (and the shared inputs) exactly as before: nothing written, nothing changed, no
temporary left. The cheap cases run in one subprocess (``_BATCH``: ``cmmnet.cli.main`` once per case, stderr
captured at the file-descriptor level); the Python API cases run here.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cmmnet.errors import CmmnetError

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "2", "PYTHONPATH": str(ROOT / "src")}


# --- files a hostile user gives ----------------------------------------------------------------------------------


def png_header_only(path: Path, w: int, h: int, bit_depth: int = 8, colour: int = 2) -> None:
    """A PNG whose header claims w x h (and whose data are empty): what a decoder sees before decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, colour, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) +
                     chunk(b"IEND", b""))


def black_png(path: Path, w: int, h: int, channels: int = 3) -> None:
    """A valid all-black 8-bit PNG of w x h written row by row (a 19000 x 19000 one is ~1 MB, built in ~1 s)."""
    colour = {1: 0, 3: 2}[channels]
    comp = zlib.compressobj(9)
    row = b"\x00" * (1 + w * channels)  # filter byte 0 + black pixels
    body = b"".join(comp.compress(row) for _ in range(h)) + comp.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def tiny_dataset(path: Path, n: int = 4, t: int = 4, s: int = 16) -> Path:
    from cmmnet.data.format import write_dataset

    rng = np.random.default_rng(0)
    arrays = {
        "faces": rng.integers(0, 255, (n, t, 3, s, s), dtype=np.uint8),
        "landmark_images": rng.integers(0, 2, (n, t, s, s), dtype=np.uint8),
        "landmarks": rng.uniform(2, s - 2, (n, t, 68, 2)).astype(np.float32),
        "labels": np.arange(n, dtype=np.int64) % 2,
        "subjects": np.arange(n, dtype=np.int64) // 2,
        "styles": np.full(n, -1, dtype=np.int64),
        "splits": (np.arange(n) % 2).astype(np.int8),
    }
    return write_dataset(path, arrays, source="test", label_names=["posed", "spontaneous"],
                         subject_names=[f"s{i}" for i in range(n // 2)], command="test")


# --- the corpus ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    argv: list[str]  # {photo}, {data}, {weights}, {shared} are filled in
    expect: str  # a piece of the one stderr line (case-insensitive)
    setup: Callable[[Path], None] | None = None  # makes files in the case's folder
    skip_snapshot: tuple[str, ...] = field(default=())  # paths outside the case folder a case may not touch


def _file(name: str, data: bytes = b"user data\n") -> Callable[[Path], None]:
    return lambda d: (d / name).write_bytes(data)


def _user_dir(name: str) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        (d / name).mkdir()
        (d / name / "thesis.tex").write_text("years of work\n")
    return make


def _link_loop(d: Path) -> None:
    os.symlink("b.jpg", d / "a.jpg")
    os.symlink("a.jpg", d / "b.jpg")


def _truncated(d: Path) -> None:
    data = (Path(CASE_INPUTS["photo"])).read_bytes()
    (d / "cut.jpg").write_bytes(data[: len(data) // 3])


def _png16(d: Path) -> None:
    Image.fromarray(np.full((3000, 3000), 30000, dtype=np.uint16)).save(d / "gray16.png")


def _stretched(d: Path) -> None:  # a "face" whose shape is no human face's: detector fires, shape check refuses
    src = Image.open(CASE_INPUTS["photo"])
    src.resize((src.width, int(src.height * 1.8))).save(d / "tall.png")


def _dataset_variant(kind: str) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        ds = tiny_dataset(d / "ds")
        if kind == "bad_label":
            np.save(ds / "labels.npy", np.array([0, 1, 7, 0], dtype=np.int64))
        elif kind == "pickle":
            arr = np.empty(4, dtype=object)
            arr[:] = [0, 1, 0, 1]
            np.save(ds / "labels.npy", arr, allow_pickle=True)
            meta = json.loads((ds / "dataset.json").read_text())
            meta["arrays"]["labels"]["dtype"] = "object"
            (ds / "dataset.json").write_text(json.dumps(meta))
        elif kind == "list_json":
            (ds / "dataset.json").write_text("[1, 2, 3]\n")
        elif kind == "link_out":
            outside = d / "elsewhere.npy"
            np.save(outside, np.zeros(4, dtype=np.int64))
            (ds / "styles.npy").unlink()
            os.symlink(outside, ds / "styles.npy")
        elif kind == "shape":
            np.save(ds / "subjects.npy", np.zeros(5, dtype=np.int64))
    return make


CASE_INPUTS: dict[str, str] = {}

CASES = [
    # argparse: one line, no usage block
    Case("no-command-args", ["align"], "required"),
    Case("unknown-option", ["synth", "--faces", "x", "--out", "y", "--colour", "red"], "unrecognized arguments"),
    Case("bad-int", ["synth", "--faces", "x", "--out", "y", "--per-face", "many"], "invalid int value"),
    Case("bad-choice", ["align", "{photo}", "--out", "o", "--size", "100"], "invalid choice"),
    Case("unknown-command", ["explode"], "invalid choice"),
    # seeds
    Case("seed-2**64", ["synth", "--faces", "{shared}", "--out", "o", "--seed", "18446744073709551616"],
         "between 0 and 4294967295"),
    Case("seed-negative", ["synth", "--faces", "{shared}", "--out", "o", "--seed", "-1"], "between 0 and"),
    Case("seed-2**32", ["prepare", "--dataset", "folder", "--root", ".", "--out", "o", "--seed", "4294967296"],
         "between 0 and"),
    Case("seed-text", ["study", "make", "--a", "a", "--b", "b", "--out", "o", "--seed", "zero"], "whole number"),
    # the output rule, for every command that writes
    Case("align-out-file", ["align", "{photo}", "--out", "mine.txt"], "exists and is a file", _file("mine.txt")),
    Case("align-out-user-dir", ["align", "{photo}", "--out", "work"], "cmmnet did not write", _user_dir("work")),
    Case("align-out-dot", ["align", "{photo}", "--out", "."], "current folder"),
    Case("align-out-parent", ["align", "{photo}", "--out", ".."], "current folder"),
    Case("align-out-empty", ["align", "{photo}", "--out", ""], "empty path"),
    Case("align-out-under-file", ["align", "{photo}", "--out", "f.txt/sub"], "is a file, not a folder",
         _file("f.txt")),
    Case("align-out-link", ["align", "{photo}", "--out", "ln"], "symbolic link",
         lambda d: os.symlink("/tmp", d / "ln")),
    Case("align-out-proc", ["align", "{photo}", "--out", "/proc/cmmnet-out"], "cannot write in /proc"),
    Case("landmarks-overlay-file", ["landmarks", "{photo}", "--overlay", "pic.png"], "cmmnet did not write",
         _file("pic.png")),
    Case("landmarks-overlay-suffix", ["landmarks", "{photo}", "--overlay", "pic.jpg"], "give a .png"),
    Case("synth-out-file", ["synth", "--faces", "{shared}", "--out", "ds"], "exists and is a file", _file("ds")),
    Case("synth-out-user-dir", ["synth", "--faces", "{shared}", "--out", "work"], "cmmnet did not write",
         _user_dir("work")),
    Case("prepare-out-under-file", ["prepare", "--dataset", "folder", "--root", ".", "--out", "f/ds"],
         "is a file, not a folder", _file("f")),
    Case("prepare-out-user-dir", ["prepare", "--dataset", "folder", "--root", ".", "--out", "work"],
         "cmmnet did not write", _user_dir("work")),
    Case("show-out-file", ["show", "{data}", "--out", "sheet.png"], "cmmnet did not write", _file("sheet.png")),
    Case("show-curves-file", ["show", "{data}", "--out", "sheet.png"], "cmmnet did not write",
         _file("sheet-curves.png")),
    Case("show-out-suffix", ["show", "{data}", "--out", "sheet.pdf"], "give a .png"),
    Case("study-out-user-dir", ["study", "make", "--a", "a", "--b", "b", "--out", "work"], "cmmnet did not write",
         _user_dir("work")),
    Case("evaluate-out-file", ["evaluate", "--runs", "default", "--data", "{data}", "--out", "r"],
         "exists and is a file", _file("r")),
    # images
    Case("image-missing", ["landmarks", "nope.jpg"], "file not found"),
    Case("image-dir", ["landmarks", "."], "is a directory"),
    Case("image-link-loop", ["landmarks", "a.jpg"], "symbolic link loop", _link_loop),
    Case("image-broken-link", ["landmarks", "a.jpg"], "broken symbolic link",
         lambda d: os.symlink("gone.jpg", d / "a.jpg")),
    Case("image-dev-zero", ["landmarks", "/dev/zero"], "not a regular file"),
    Case("image-proc", ["landmarks", "/proc/self/status"], "not a readable image"),
    Case("image-empty", ["landmarks", "e.jpg"], "empty file", _file("e.jpg", b"")),
    Case("image-text", ["landmarks", "t.jpg"], "not a readable image", _file("t.jpg", b"hello\n" * 20)),
    Case("image-truncated", ["align", "cut.jpg", "--out", "o"], "truncated or damaged", _truncated),
    Case("image-bomb", ["landmarks", "bomb.png"], "too large",
         lambda d: png_header_only(d / "bomb.png", 30000, 30000)),
    Case("image-19000-png", ["landmarks", "big.png"], "limit 256 MB",
         lambda d: png_header_only(d / "big.png", 19000, 19000)),
    Case("image-zero-size", ["landmarks", "z.png"], "not a readable image",
         lambda d: png_header_only(d / "z.png", 0, 0)),
    Case("image-16bit-no-face", ["landmarks", "gray16.png"], "no face found", _png16),
    Case("image-no-face", ["align", "white.png", "--out", "o"], "no face found",
         lambda d: Image.new("RGB", (300, 300), "white").save(d / "white.png")),
    Case("image-not-a-human-face", ["align", "tall.png", "--out", "o"], "human face's shape", _stretched),
    # datasets
    Case("show-missing", ["show", "nowhere"], "not a dataset directory"),
    Case("show-file", ["show", "f"], "not a dataset directory", _file("f")),
    Case("show-no-json", ["show", "."], "no dataset.json"),
    Case("show-json-list", ["show", "ds"], "not a cmmnet-dataset", _dataset_variant("list_json")),
    Case("show-bad-label", ["show", "ds"], "index 7", _dataset_variant("bad_label")),
    Case("show-pickle", ["show", "ds"], "damaged", _dataset_variant("pickle")),
    Case("show-link-out", ["show", "ds"], "link out of the dataset", _dataset_variant("link_out")),
    Case("show-shape", ["show", "ds"], "does not match", _dataset_variant("shape")),
    # synth / prepare arguments
    Case("synth-faces-missing", ["synth", "--faces", "nowhere", "--out", "o"], "nowhere"),
    Case("synth-per-face-0", ["synth", "--faces", "{shared}", "--out", "o", "--per-face", "0"], "--per-face 0"),
    Case("synth-per-face-huge", ["synth", "--faces", "{shared}", "--out", "o", "--per-face", "10000"], "GiB"),
    Case("synth-size-odd", ["synth", "--faces", "{shared}", "--out", "o", "--size", "15"], "--size"),
    Case("synth-size-huge", ["synth", "--faces", "{shared}", "--out", "o", "--size", "100000"], "--size"),
    Case("synth-workers-0", ["synth", "--faces", "{shared}", "--out", "o", "--workers", "0"], "--workers"),
    Case("synth-people-0", ["synth", "--faces", "{shared}", "--out", "o", "--people", "0"], "--people 0"),
    Case("prepare-root-missing", ["prepare", "--dataset", "folder", "--root", "nowhere", "--out", "o"],
         "not a folder"),
    Case("prepare-workers-0", ["prepare", "--dataset", "folder", "--root", ".", "--out", "o", "--workers", "0"],
         "--workers 0"),
    Case("prepare-bad-set", ["prepare", "--dataset", "folder", "--root", ".", "--out", "o", "--set", "nope=1"],
         "no such config field"),
    Case("prepare-no-usable-video", ["prepare", "--dataset", "folder", "--root", "in", "--out", "o"],
         "no smile sequence could be prepared", lambda d: (
             (d / "in").mkdir(), (d / "in" / "labels.csv").write_text("clip.mp4,posed\n"),
             (d / "in" / "clip.mp4").write_bytes(b"not a video" * 100))),  # and no o.cache/ left behind
    # study / evaluate
    Case("study-a-missing", ["study", "make", "--a", "a", "--b", "b", "--out", "o"], "not a directory of videos"),
    Case("tally-key-missing", ["study", "tally", "--key", "k.json", "ans.json"], "k.json"),
    Case("tally-key-list", ["study", "tally", "--key", "k.json", "ans.json"], "k.json",
         lambda d: (d / "k.json").write_text("[]")),
    Case("evaluate-run-missing", ["evaluate", "--runs", "nowhere", "--data", "{data}", "--out", "r"], "nowhere"),
    Case("evaluate-inception-missing", ["evaluate", "--runs", "default", "--data", "{data}", "--out", "r",
                                        "--inception", "inc.safetensors"], "inception"),
    Case("evaluate-renderers-unknown", ["evaluate", "--runs", "default", "--data", "{data}", "--out", "r",
                                        "--renderers", "paper,gan"], "unknown renderer(s) gan"),
]

_G = ["generate", "--image", "{photo}", "--label", "posed", "--weights", "{weights}"]  # + --out and the bad part
_T = ["train", "--data", "{data}", "--preset", "smoke"]

CASES += [
    Case("generate-seed-2**64", [*_G, "--out", "o", "--seed", "18446744073709551616"], "between 0 and"),
    Case("generate-modes-float", [*_G, "--out", "o", "--modes", "2.7"], "not a whole number"),
    Case("generate-modes-0", [*_G, "--out", "o", "--modes", "0"], "between 1 and"),
    Case("generate-max-side-huge", [*_G, "--out", "o", "--max-side", "8000"], "up to 1024 (bounded memory)"),
    Case("generate-modes-99", [*_G, "--out", "o", "--modes", "99"], "between 1 and"),
    Case("generate-image-dir", ["generate", "--image", ".", "--label", "posed", "--out", "o"], "is a directory"),
    Case("generate-image-loop", ["generate", "--image", "a.jpg", "--label", "posed", "--out", "o"],
         "symbolic link loop", _link_loop),
    Case("generate-image-dev-zero", ["generate", "--image", "/dev/zero", "--label", "posed", "--out", "o"],
         "not a regular file"),
    Case("generate-out-file", [*_G, "--out", "o"], "exists and is a file", _file("o")),
    Case("generate-out-user-dir", [*_G, "--out", "work"], "cmmnet did not write", _user_dir("work")),
    Case("generate-out-dot", [*_G, "--out", "."], "current folder"),
    Case("generate-out-empty", [*_G, "--out", ""], "empty path"),
    Case("generate-weights-missing", ["generate", "--image", "{photo}", "--label", "posed", "--weights", "nowhere",
                                      "--out", "o"], "not found"),
    Case("generate-weights-nan", [*_G[:-1], "{weights_nan}", "--out", "o"], "NaN"),
    Case("generate-weights-config-list", [*_G[:-1], "{weights_list}", "--out", "o"], "found a JSON list"),
    Case("generate-weights-huge", [*_G[:-1], "{weights_huge}", "--out", "o"], "(limit 1,000,000,000)"),
    Case("generate-label-unknown", [*_G[:4], "happy", *_G[5:], "--out", "o"], "happy"),
    Case("generate-no-face", [*_G[:2], "white.png", *_G[3:], "--out", "o"], "no face found",
         lambda d: Image.new("RGB", (300, 300), "white").save(d / "white.png")),
    Case("generate-not-human", [*_G[:2], "tall.png", *_G[3:], "--out", "o"], "human face's shape", _stretched),
    Case("demo-out-file", ["demo", "--out", "o"], "exists and is a file", _file("o")),
    Case("demo-out-user-dir", ["demo", "--out", "work"], "cmmnet did not write", _user_dir("work")),
    Case("demo-seed-negative", ["demo", "--out", "o", "--seed", "-3"], "between 0 and"),
    Case("train-out-under-file", [*_T, "--out", "f/run"], "is a file, not a folder", _file("f")),
    Case("train-out-user-dir", [*_T, "--out", "work"], "cmmnet did not write", _user_dir("work")),
    Case("train-out-proc", [*_T, "--out", "/proc/cmmnet-run"], "cannot write in /proc"),
    Case("train-data-missing", ["train", "--data", "nowhere", "--out", "run"], "not a dataset directory"),
    Case("train-bad-phase", [*_T, "--out", "run", "--phases", "dance"], "unknown phase"),
    Case("train-seed-2**64", [*_T, "--out", "run", "--set", "run.seed=18446744073709551616"], "run.seed"),
    Case("train-set-unknown", [*_T, "--out", "run", "--set", "nope.x=1"], "no config section"),
    Case("train-antialiased-dots", [*_T, "--out", "run", "--set", 'landmark_generator.draw.raster="antialiased"',
                                    'landmark_generator.draw.style="dots"'], "draws lines"),
    Case("train-cranet-huge", [*_T, "--out", "run", "--phases", "cranet", "--set",
                               "cranet.model.channels=[1000000,1000000,1000000,1000000]"], "(limit 1,000,000,000)"),
    Case("train-videogan-huge", [*_T, "--out", "run", "--phases", "videogan", "--set",
                                 "videogan.model.generator_channels=[1000000,1000000,1000000,1000000]"],
         "(limit 1,000,000,000)"),
]

# Runs in one subprocess: every case in its folder; prints one JSON line per case.
_BATCH = r"""
import contextlib, io, json, os, sys, tempfile, traceback
from cmmnet.cli import main
for case in json.loads(sys.stdin.read()):
    os.chdir(case["cwd"])
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as err:
        os.dup2(err.fileno(), 2)
        sys.stderr = os.fdopen(os.dup(2), "w", buffering=1)
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                rc = main(case["argv"])
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        except BaseException:
            traceback.print_exc()
            rc = 1
        sys.stderr.flush()
        sys.stderr.close()
        os.dup2(saved, 2)
        os.close(saved)
        err.seek(0)
        print(json.dumps({"id": case["id"], "rc": rc, "stderr": err.read()}), flush=True)
"""


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` (links not followed): kind, size, content hash, mtime."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = ""
            if p.is_file() and not p.is_symlink():
                digest = hashlib.sha1(p.read_bytes()).hexdigest()
            found[str(p.relative_to(root))] = (st.st_mode, st.st_size, digest, st.st_mtime_ns)
    return found


def run_batch(cases: list[tuple[str, list[str], Path]], timeout: float = 600) -> dict[str, dict]:
    payload = json.dumps([{"id": i, "argv": a, "cwd": str(c)} for i, a, c in cases])
    r = subprocess.run([sys.executable, "-c", _BATCH], input=payload, capture_output=True, text=True,
                       timeout=timeout, env=ENV)
    assert r.returncode == 0, r.stderr[-3000:]
    return {d["id"]: d for d in map(json.loads, r.stdout.splitlines())}


def check_one_line(rc: int, stderr: str, expect: str, what: str) -> None:
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr, f"{what}: traceback\n{stderr}"
    assert rc == 2, f"{what}: exit {rc}\n{stderr}"
    assert len(lines) == 1, f"{what}: {len(lines)} stderr lines\n{stderr}"
    assert expect.lower() in lines[0].lower(), f"{what}: {lines[0]!r} does not name {expect!r}"
    assert lines[0].startswith("cmmnet"), lines[0]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, frl_dir) -> dict[str, str]:
    shared = tmp_path_factory.mktemp("shared")
    faces = shared / "faces"
    faces.mkdir()
    for name in ("001_03.jpg", "001_08.jpg", "003_03.jpg", "003_08.jpg"):
        (faces / name).write_bytes((frl_dir / name).read_bytes())
    data = tiny_dataset(shared / "data")
    CASE_INPUTS.update(photo=str(faces / "001_03.jpg"), data=str(data), shared=str(faces), root=str(shared),
                       **broken_weights(shared, frl_dir))
    return dict(CASE_INPUTS)


def _config_dir(root: Path, cls: str, config: dict) -> Path:
    """A model directory holding only a config.json (a ``cls`` model with ``config``): nothing else is read when the
    config is refused."""
    d = root / f"config-{cls}"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text(json.dumps({"class": cls, "config": config}))
    return d


def broken_weights(root: Path, frl_dir: Path) -> dict[str, str]:
    """Tiny weights (as tests/test_generate.py makes them) and three broken copies: NaN tensors, a config.json
    holding a list, a config asking for absurd channel counts."""
    import shutil

    from safetensors.torch import load_file, save_file

    from cmmnet.faces.pipeline import process_image
    from test_generate import make_weights

    pts = [process_image(frl_dir / f"{p}_03.jpg").aligned.landmarks for p in ("001", "003", "008")]
    good = make_weights(root / "weights", np.stack(pts * 3).astype(np.float32))
    out = {"weights": str(good)}
    for kind in ("nan", "list", "huge"):
        w = root / f"weights_{kind}"
        shutil.copytree(good, w)
        part = w / "translator"
        if kind == "nan":
            state = load_file(part / "model.safetensors")
            name = next(k for k, v in state.items() if v.is_floating_point())
            state[name] = state[name] * float("nan")
            save_file(state, part / "model.safetensors")
        elif kind == "list":
            (part / "config.json").write_text("[1, 2, 3]\n")
        else:
            meta = json.loads((part / "config.json").read_text())
            meta["config"]["channels"] = [10**6] * len(meta["config"]["channels"])
            (part / "config.json").write_text(json.dumps(meta))
        out[f"weights_{kind}"] = str(w)
    return out


def _fill(argv: list[str], inputs: dict[str, str]) -> list[str]:
    return [a.format(**inputs) if "{" in a else a for a in argv]


def test_corpus_is_large_and_named():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 60  # besides the API cases


def test_cli_cases_one_line_exit_2_nothing_changed(inputs, tmp_path):
    shared_before = snapshot(Path(inputs["root"]))
    todo, before = [], {}
    for case in CASES:
        d = tmp_path / case.id
        d.mkdir()
        if case.setup:
            case.setup(d)
        before[case.id] = snapshot(d)
        todo.append((case.id, _fill(case.argv, inputs), d))
    results = run_batch(todo)
    problems = []
    for case in CASES:
        res = results.get(case.id)
        try:
            assert res is not None, f"{case.id}: no result"
            check_one_line(res["rc"], res["stderr"], case.expect, case.id)
            assert snapshot(tmp_path / case.id) == before[case.id], f"{case.id}: its folder changed"
        except AssertionError as e:
            problems.append(str(e))
    assert snapshot(Path(inputs["root"])) == shared_before, "the shared inputs changed"
    assert not Path("/proc/cmmnet-out").exists()
    assert not problems, "\n\n".join(problems)


# --- the Python API ----------------------------------------------------------------------------------------------


def _api_cases(inputs: dict[str, str], tmp: Path):
    from cmmnet.commands.train_cmd import check_model_sizes
    from cmmnet.config import apply_overrides
    from cmmnet.errors import CheckpointError, ConfigError, InputFileError, NoFaceError, OutputError
    from cmmnet.faces import FaceDetector, read_image_scaled
    from cmmnet.faces.pipeline import process_array
    from cmmnet.generate import CMMNet, GenerateConfig
    from cmmnet.io import check_output
    from cmmnet.limits import check_modes_range, check_seed
    from cmmnet.models.cra_net import CRANet, CRANetConfig
    from cmmnet.models.io import load_pretrained
    from cmmnet.models.refiner import RefinerConfig, RefinerNet
    from cmmnet.models.video_gan import VideoGANConfig, VideoGANGenerator
    from cmmnet.training.experiment import ExperimentConfig

    det = FaceDetector()
    net = CMMNet.from_pretrained(inputs["weights"], GenerateConfig(device="cpu"))
    photo = np.asarray(Image.open(inputs["photo"]).convert("RGB"))
    face = np.zeros((net.image_size, net.image_size, 3), np.uint8)
    pts = np.zeros((68, 2), np.float32)
    return [
        ("api-generate-0x0", lambda: net.generate(np.zeros((0, 0, 3), np.uint8), "posed"), InputFileError,
         "empty image"),
        ("api-generate-float-array", lambda: net.generate(photo.astype(np.float32), "posed"), InputFileError,
         "float32"),
        ("api-generate-seed-2**64", lambda: net.generate(photo, "posed", seed=2**64), ConfigError, "between 0"),
        ("api-generate-seed-negative", lambda: net.generate(photo, "posed", seed=-1), ConfigError, "between 0"),
        ("api-generate-modes-2.7", lambda: net.generate(photo, "posed", modes=2.7), ConfigError, "whole number"),
        ("api-generate-modes-0", lambda: net.generate(photo, "posed", modes=0), ConfigError, "between 1"),
        ("api-generate-label", lambda: net.generate(photo, "smirk"), CmmnetError, "smirk"),
        ("api-generate-aligned-seed", lambda: net.generate_aligned(face, pts, "posed", seed=2**40), ConfigError,
         "between 0"),
        ("api-generate-aligned-face", lambda: net.generate_aligned(face[:, :, 0], pts, "posed"), InputFileError,
         "shape"),
        ("api-weights-nan", lambda: CMMNet.from_pretrained(inputs["weights_nan"]), CheckpointError, "NaN"),
        ("api-train-config-huge", lambda: check_model_sizes(apply_overrides(ExperimentConfig(), [
            "translation.translator.channels=[1000000,1000000,1000000,1000000,1000000,1000000]"]), ["translation"]),
         CheckpointError, "parameters"),
        ("api-weights-huge", lambda: CMMNet.from_pretrained(inputs["weights_huge"]), CheckpointError, "parameters"),
        ("api-train-refiner-huge", lambda: check_model_sizes(apply_overrides(ExperimentConfig(), [
            "refinement.refiner.width=1000000"]), ["refinement"]), CheckpointError, "parameters"),
        ("api-refiner-config-huge", lambda: load_pretrained(RefinerNet, RefinerConfig, _config_dir(
            tmp, "RefinerNet", {"width": 10**6})), CheckpointError, "parameters"),
        ("api-cranet-config-huge", lambda: load_pretrained(CRANet, CRANetConfig, _config_dir(
            tmp, "CRANet", {"channels": [10**6] * 4})), CheckpointError, "parameters"),
        ("api-videogan-config-huge", lambda: load_pretrained(VideoGANGenerator, VideoGANConfig, _config_dir(
            tmp, "VideoGANGenerator", {"generator_channels": [10**6] * 4})), CheckpointError, "parameters"),
        ("api-detect-0x0", lambda: det.detect(np.zeros((0, 0, 3), np.uint8)), InputFileError, "empty image"),
        ("api-detect-float", lambda: det.detect(np.zeros((64, 64, 3), np.float32)), InputFileError, "float32"),
        ("api-detect-gray", lambda: det.detect(np.zeros((64, 64), np.uint8)), InputFileError, "shape"),
        ("api-detect-list", lambda: det.detect([[0, 0, 0]]), InputFileError, "list"),
        ("api-front-end-0x0", lambda: process_array(np.zeros((0, 5, 3), np.uint8), detector=det), InputFileError,
         "empty image"),
        ("api-front-end-white", lambda: process_array(np.full((80, 80, 3), 255, np.uint8), detector=det),
         NoFaceError, "no face"),
        ("api-seed-2**64", lambda: check_seed(2**64), ConfigError, "between 0 and"),
        ("api-seed-float", lambda: check_seed(1.5), ConfigError, "whole number"),
        ("api-modes-2.7", lambda: check_modes_range(2.7), ConfigError, "whole number"),
        ("api-modes-true", lambda: check_modes_range(True), ConfigError, "whole number"),
        ("api-read-dir", lambda: read_image_scaled(Path("/"), 512), InputFileError, "directory"),
        ("api-output-root", lambda: check_output(Path("/")), OutputError, "/"),
    ]


def test_api_cases_raise_cmmnet_errors(inputs, tmp_path):
    problems = []
    for name, call, kind, expect in _api_cases(inputs, tmp_path):
        try:
            call()
            problems.append(f"{name}: no error")
        except CmmnetError as e:
            if not isinstance(e, kind) or expect.lower() not in str(e).lower() or "\n" in str(e):
                problems.append(f"{name}: {type(e).__name__}: {e}")
        except Exception as e:  # noqa: BLE001 - what the test looks for
            problems.append(f"{name}: not a CmmnetError: {type(e).__name__}: {e}")
    assert not problems, "\n".join(problems)


# --- what must still work ----------------------------------------------------------------------------------------


def test_own_outputs_are_replaced_and_stale_temporaries_removed(inputs, tmp_path):
    """align and show replace what they wrote before; a dead run's temporary is removed, a live one's kept;
    an upside-down photo is used the right way up with one warning line."""
    rot = tmp_path / "rot.jpg"
    Image.open(inputs["photo"]).rotate(180).save(rot, quality=95)
    dead = tmp_path / ".o.tmp-999999999-abc"  # a pid that cannot be running
    alive = tmp_path / f".o.tmp-{os.getpid()}-abc"
    runs = [("first", ["align", inputs["photo"], "--out", "o"]),
            ("again", ["align", inputs["photo"], "--out", "o"]),
            ("rotated", ["align", str(rot), "--out", "r"]),
            ("show", ["show", inputs["data"], "--out", "s.png"]),
            ("show-again", ["show", inputs["data"], "--out", "s.png"])]
    (tmp_path / "o").mkdir()  # an empty folder is fine too
    res = run_batch([(name, argv, tmp_path) for name, argv in runs[:1]])
    dead.mkdir()
    alive.mkdir()
    res |= run_batch([(name, argv, tmp_path) for name, argv in runs[1:]])
    for name, _ in runs:
        assert res[name]["rc"] == 0, res[name]
    assert res["again"]["stderr"] == "" and res["show-again"]["stderr"] == ""
    warning = res["rotated"]["stderr"].strip().splitlines()
    assert len(warning) == 1 and "turned by 180 degrees" in warning[0], warning
    assert json.loads((tmp_path / "o" / ".cmmnet-output").read_text()) == {"command": "align"}
    assert not dead.exists() and alive.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [alive.name]
    assert {p.name for p in (tmp_path / "o").iterdir()} == {".cmmnet-output", "face.png", "landmarks.png",
                                                             "overlay.png", "alignment.json"}


# --- bounded memory ----------------------------------------------------------------------------------------------

# The peak resident memory of the command: its own address space's high-water mark (VmHWM; getrusage's ru_maxrss
# also keeps the high-water mark of the process that forked it, Linux carries it across exec, here the whole test
# session), and that of `generate`'s forked face front end. The front end lives only until its answer is read, so the
# command's peak is at most max(own peak, own peak when the front end was joined + the front end's peak): an upper
# bound (pages the two share are counted twice).
_PEAK = r"""
import json, re, resource, sys
from pathlib import Path
import cmmnet.generate.front_end as front_end
from cmmnet.cli import main

def hwm_mb():
    return int(re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024

together = [0.0]
detected = front_end.FaceFrontEnd._detected
def joined(self):
    out = detected(self)  # the worker is joined when this returns
    together[0] = hwm_mb() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return out
front_end.FaceFrontEnd._detected = joined
rc = main(sys.argv[1:])
own = hwm_mb()
print(json.dumps({"rc": rc, "peak_mb": max(own, together[0]), "own_mb": own, "with_front_end_mb": together[0]}))
"""


def _peak_mb(args: list[str], cwd: Path, rc: int) -> dict:
    r = subprocess.run([sys.executable, "-c", _PEAK, *args], capture_output=True, text=True, timeout=600, env=ENV,
                       cwd=cwd)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["rc"] == rc, r.stderr
    return out


@pytest.fixture(scope="module")
def huge_jpeg(inputs, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("huge") / "big.jpg"
    Image.open(inputs["photo"]).resize((8000, 8000), Image.Resampling.BILINEAR).save(path, quality=85)
    return path


def test_peak_memory_of_huge_photos_stays_under_1_gb(huge_jpeg, tmp_path):
    black_png(tmp_path / "black.png", 19000, 19000)  # ~1 MB on disk, 1 GB decoded
    for image, rc in ((tmp_path / "black.png", 2), (huge_jpeg, 0)):
        out = _peak_mb(["align", str(image), "--out", f"out-{image.stem}"], tmp_path, rc)
        assert out["peak_mb"] <= 1024, (image, out)


@pytest.mark.parametrize("options", [(), ("--renderer", "paper", "--paste")], ids=["warp", "paper-paste"])
def test_peak_memory_of_generate_on_a_huge_photo_stays_under_1_gb(huge_jpeg, tmp_path, options):
    # the shipped weights; the warp renderer's videos at its 1024 px cap, the pasted ones at 1920 px
    out = _peak_mb(["generate", "--image", str(huge_jpeg), "--label", "posed", "--modes", "1", "--out", "gen",
                    *options], tmp_path, 0)
    assert out["with_front_end_mb"] > 0  # the front end ran in its own process and was counted
    assert out["peak_mb"] <= 1024, out


# --- killed and interrupted runs ---------------------------------------------------------------------------------

_SYNTH_KILLED = r"""
import sys, time
from pathlib import Path
import numpy as np
import cmmnet.data.synth.build as build
faces, out, point, marker = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
def stop_here():
    marker.touch()
    time.sleep(120)
if point == "work":  # while the second person is rendered
    task, seen = build._person_task, []
    def person(t):
        seen.append(t)
        if len(seen) == 2:
            stop_here()
        return task(t)
    build._person_task = person
else:  # while the dataset's arrays are written (first or fifth file)
    save, n = np.save, [0]
    def saving(*a, **k):
        n[0] += 1
        if n[0] == {"write-first": 1, "write-later": 5}[point]:
            stop_here()
        return save(*a, **k)
    np.save = saving
build.synthesize(faces, out, people=2, per_face=1, workers=1)
"""


def _no_temporaries(folder: Path) -> None:
    left = [p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    assert not left, left


def test_sigkill_of_synth_leaves_the_output_absent_or_complete(inputs, tmp_path):
    from _procs import kill_at_marker
    from cmmnet.data import load_dataset

    out = tmp_path / "ds"
    for n, point in enumerate(("work", "write-first", "write-later", "write-later")):
        marker = tmp_path / f"marker-{n}"
        code = _SYNTH_KILLED.replace("sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])",
                                     f"{inputs['shared']!r}, {str(out)!r}, {point!r}, Path({str(marker)!r})")
        assert kill_at_marker(code, marker, timeout=240, env=ENV) == -9
        if n < 3:
            assert not out.exists(), point  # never a partial dataset
        else:
            assert len(load_dataset(out)) == 4  # the complete earlier one is still there
        if n == 2:  # the next run succeeds and removes the killed runs' temporaries
            from cmmnet.data.synth import synthesize

            synthesize(inputs["shared"], out, people=2, per_face=1, workers=1)
            _no_temporaries(tmp_path)
    assert any(".tmp-" in p.name for p in tmp_path.iterdir())  # the last kill's leftover, until the next run ...
    res = run_batch([("synth", ["synth", "--faces", inputs["shared"], "--out", "ds", "--people", "2",
                                "--per-face", "1", "--workers", "1"], tmp_path)])
    assert res["synth"]["rc"] == 0 and res["synth"]["stderr"] == "", res
    _no_temporaries(tmp_path)


def test_ctrl_c_is_one_line_and_exit_130(inputs, tmp_path):
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "cmmnet.cli", "synth", "--faces", inputs["shared"], "--out", "o",
                             "--per-face", "3", "--workers", "2"], cwd=tmp_path, env=ENV, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as a shell
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 120
    while len(children.read_text().split()) < 2:  # the worker pool is up: the command is at work
        assert proc.poll() is None and time.monotonic() < deadline, "synth never started its workers"
        time.sleep(0.05)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["cmmnet synth: interrupted"], err
    assert not (tmp_path / "o").exists()


_GENERATE_KILLED = r"""
import os, sys, time
from pathlib import Path
import cmmnet.generate.pipeline as pipeline
import cmmnet.video as video
import cmmnet.io as cio
from cmmnet.generate import CMMNet, GenerateConfig
from cmmnet.generate.outputs import write_generation
photo, weights, out, point, marker = PHOTO, WEIGHTS, OUT, POINT, Path(MARKER)
def stop_here():
    marker.touch()
    time.sleep(120)
def wrap(owner, name, at):
    orig, n = getattr(owner, name), [0]
    def f(*a, **k):
        n[0] += 1
        if n[0] == at:
            stop_here()
        return orig(*a, **k)
    setattr(owner, name, f)
if point == "generating":
    wrap(pipeline.CMMNet, "_generate", 1)
elif point == "videos":
    wrap(video, "write_video", 2)
else:  # everything written, before the folder is renamed into place
    replace = os.replace
    def renaming(src, dst):
        if Path(dst) == Path(out):
            stop_here()
        return replace(src, dst)
    cio.os.replace = renaming
net = CMMNet.from_pretrained(weights, GenerateConfig(device="cpu"))
write_generation(net, Path(photo), "posed", 1, 0, Path(out))
"""


def test_sigkill_of_generate_leaves_the_output_absent_or_complete(inputs, tmp_path):
    from _procs import kill_at_marker

    out = tmp_path / "gen"
    for n, point in enumerate(("generating", "videos", "renaming")):
        marker = tmp_path / f"marker-{n}"
        code = (_GENERATE_KILLED.replace("PHOTO", repr(inputs["photo"])).replace("WEIGHTS", repr(inputs["weights"]))
                .replace("OUT", repr(str(out))).replace("POINT", repr(point)).replace("MARKER", repr(str(marker))))
        assert kill_at_marker(code, marker, timeout=300, env=ENV) == -9
        assert not out.exists(), point  # never a partial output
    assert any(".tmp-" in p.name for p in tmp_path.iterdir())  # the killed runs' leftovers, until the next run
    res = run_batch([("gen", ["generate", "--image", inputs["photo"], "--label", "posed", "--modes", "1",
                              "--weights", inputs["weights"], "--out", "gen"], tmp_path)])
    assert res["gen"]["rc"] == 0 and res["gen"]["stderr"] == "", res
    assert json.loads((out / "meta.json").read_text())["inputs"]["modes"] == 1
    _no_temporaries(tmp_path)


def test_shape_check_passes_real_faces_and_refuses_others(frl_dir):
    from cmmnet.faces import FaceDetector, read_image
    from cmmnet.faces.plausibility import shape_score, shape_verdict

    det = FaceDetector()
    photos = sorted(frl_dir.glob("*.jpg"))[::16]  # 10 of the 160 the model was calibrated on
    for p in photos:
        face = det.detect(read_image(p))
        assert shape_verdict(face.landmarks, face.score) == ("ok", shape_score(face.landmarks)), p.name
    real = det.detect(read_image(photos[0])).landmarks.astype(np.float64)
    flipped = real * [1, -1]  # a mirror image upside down: no rotation brings it back
    rng = np.random.default_rng(0)
    noise = real + rng.normal(0, 0.08 * np.ptp(real[:, 0]), real.shape)  # points scattered over the face
    squeezed = real * [1.0, 0.45]  # half as tall: no human face
    for shape in (flipped, noise, squeezed):
        assert shape_verdict(shape, 2.0)[0] == "refuse", shape_score(shape)


_TRAIN_KILLED = r"""
import sys, time
from pathlib import Path
import cmmnet.training.checkpoints as checkpoints
from cmmnet.cli import main
marker, at = Path(MARKER), AT
save, n = checkpoints.save_file, [0]
def saving(*a, **k):  # inside the atomic write of a checkpoint: its temporary file exists
    n[0] += 1
    if n[0] == at:
        marker.touch()
        time.sleep(120)
    return save(*a, **k)
checkpoints.save_file = saving
sys.exit(main(ARGV))
"""


def test_sigkill_of_train_then_resume_leaves_no_temporaries(inputs, tmp_path):
    from _procs import kill_at_marker
    from cmmnet.data.synth import synthesize
    from cmmnet.models.io import load_state

    data = synthesize(inputs["shared"], tmp_path / "data", people=2, per_face=1, workers=1)
    run = tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(run), "--phases", "vae,lstm", "--preset", "smoke",
            "--set", "run.device=cpu", "run.num_threads=1", "vae.epochs=2", "lstm.epochs=2"]
    for n, at in enumerate((1, 3)):  # the first checkpoint; a later one
        marker = tmp_path / f"marker-{n}"
        code = (_TRAIN_KILLED.replace("MARKER", repr(str(marker))).replace("AT", str(at))
                .replace("ARGV", repr(argv + (["--resume"] if n else []))))
        assert kill_at_marker(code, marker, timeout=300, env=ENV) == -9
        assert any(".tmp-" in p.name for p in (run / "checkpoints").iterdir())  # the killed write's leftover
    res = run_batch([("resume", [*argv, "--resume"], tmp_path)])
    assert res["resume"]["rc"] == 0, res
    left = [str(p) for p in run.rglob("*") if ".tmp-" in p.name or ".old-" in p.name]
    assert not left, left
    assert load_state(run / "checkpoints" / "lstm.safetensors")  # complete
