"""Datasets in their real on-disk layouts with real codecs, for the adapters' and the reproduction's tests
(UvA-NEMO: H.264 mp4; DISFA: MPEG-4 Part 2 in avi; DISFA+: JPEG folders), their content rendered from FRL-London
photos (neutral frames, a smile, neutral frames again)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import numpy as np
from PIL import Image

from cmmnet.data.proxies import au12_proxy
from cmmnet.data.synth import CurveConfig, render_photo_sequence
from cmmnet.video import write_video

PEOPLE = ("001", "008", "010")
PEAK = 4.0  # AU12 label intensity at the apex of the fixture smiles
RISE = 12  # rendered frames from neutral to apex (rendering costs ~0.2 s a frame)
# Quick onsets (the apex within the first 2-8 of the RISE frames, then held): the adapters' 32-frame windows, which
# start at the onset, end in the clip's hold, not in its return to neutral.
_QUICK = CurveConfig(posed=replace(CurveConfig().posed, delay=(0.03, 0.10), onset=(0.18, 0.42)),
                     spontaneous=replace(CurveConfig().spontaneous, delay=(0.03, 0.12), onset=(0.36, 0.70)))


# ------------------------------------------------------------------------------------------- fixture content


_RENDERS: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}


def _photo_smile(frl_dir: Path, person: str, label: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An FRL-Smile neutral-to-smile sequence in the photo's pixels (n, h, w, 3), its AU12 intensity (n,) on the
    0-5 label scale and its landmarks (n, 68, 2). Rendered once per (person, label) per session."""
    if (person, label) not in _RENDERS:
        frames, lms = render_photo_sequence(frl_dir, person, label, "mouth_closed", seed=0, T=RISE,
                                            curves=_QUICK)
        a = au12_proxy(lms) - au12_proxy(lms[0])
        au = (PEAK * a / max(float(a.max()), 1e-6)).astype(np.float32)
        _RENDERS[person, label] = np.asarray(frames), au, np.asarray(lms, np.float32)
    return _RENDERS[person, label]


def smile_clip(frl_dir: Path, person: str, label: str, size: tuple[int, int], *, before: int = 8, hold: int = 10,
               after: int = 8, landmarks: bool = False):
    """Frames (n, H, W, 3) of the face on a plain background: neutral, smile, hold, back to neutral; AU12 (n,);
    with ``landmarks`` also the true landmarks (n, 68, 2) in frame pixels."""
    rise, au, lms = _photo_smile(frl_dir, person, label)
    order = np.r_[[0] * before, np.arange(len(rise)), [len(rise) - 1] * hold, np.arange(len(rise))[::-1],
                  [0] * after]
    w, h = size
    face_h = int(h * 0.8)
    canvas = np.full((h, w, 3), (70, 90, 110), np.uint8)
    x0, y0 = (w - face_h) // 2, (h - face_h) // 2
    out = np.repeat(canvas[None], len(order), axis=0)
    cache: dict[int, np.ndarray] = {}
    for t, i in enumerate(order):
        if i not in cache:
            cache[i] = np.asarray(Image.fromarray(rise[i]).resize((face_h, face_h), Image.Resampling.BILINEAR))
        out[t, y0 : y0 + face_h, x0 : x0 + face_h] = cache[i]
    if landmarks:
        k = face_h / rise.shape[1]
        return out, au[order], (lms[order] + 0.5) * k - 0.5 + np.array([x0, y0], np.float32)
    return out, au[order]


def write_avi(path: Path, frames: np.ndarray, fps: int = 20) -> None:
    """DISFA-style .avi (MPEG-4 Part 2) written with PyAV."""
    with av.open(str(path), "w", format="avi") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.options = {"qscale": "3"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# ------------------------------------------------------------------------------------------- layouts


def write_uva_nemo(root: Path, frl_dir: Path) -> Path:
    """UvA-NEMO's layout: three people with a posed and a spontaneous smile each (50 fps H.264), a truncated
    video and a video without a face, and the file-details table."""
    (root / "videos").mkdir(parents=True)
    lines = ["UvA-NEMO Smile Database", "File details", "", "Filename\tSubject Code\tGender\tAge\tLabel"]
    for j, person in enumerate(PEOPLE):
        subject = f"S{person}"
        for label, word, k in (("posed", "deliberate", 2 + j), ("spontaneous", "spontaneous", 5 + 2 * j)):
            frames, _ = smile_clip(frl_dir, person, label, (640, 360))
            name = f"{person}_{word}_smile_{k}.mp4"
            write_video(root / "videos" / name, frames, fps=50)
            lines.append(f"{name}\t{subject}\t{'m' if j % 2 else 'f'}\t{20 + j}\t{word}")
    # a truncated video and a video without a face
    frames, _ = smile_clip(frl_dir, PEOPLE[0], "posed", (640, 360))
    write_video(root / "videos" / "013_deliberate_smile_1.mp4", frames, fps=50)
    truncate(root / "videos" / "013_deliberate_smile_1.mp4")
    write_video(root / "videos" / "099_spontaneous_smile_1.mp4", np.full((40, 360, 640, 3), 120, np.uint8), fps=50)
    lines += ["013_deliberate_smile_1.mp4\tS013\tf\t30\tdeliberate", "099_spontaneous_smile_1.mp4\tS099\tm\t40\t"
              "spontaneous"]
    (root / "UvA-NEMO_Smile_Database_File_Details.txt").write_text("\n".join(lines) + "\n")
    return root


def _au_file(path: Path, values: np.ndarray) -> None:
    path.write_text("".join(f"{i},{int(round(v))}\n" for i, v in enumerate(values, 1)))


def write_disfa(root: Path, frl_dir: Path) -> Path:
    """DISFA's layout: two subjects with two smiles each (Video_RightCamera, Comp), one (lower-case comp) whose AU12
    label file is 15 frames short, one whose avi is cut in half."""
    for folder in ("Video_RightCamera", "Video_LeftCamera"):
        (root / folder).mkdir(parents=True)
    for sn, person, comp in (("SN001", "001", "Comp"), ("SN002", "008", "Comp"), ("SN003", "010", "comp"),
                             ("SN004", "010", "Comp")):
        a, au_a = smile_clip(frl_dir, person, "spontaneous", (512, 384), before=6, after=4)
        b, au_b = smile_clip(frl_dir, person, "spontaneous", (512, 384), before=4, after=6)
        frames, au12 = np.concatenate([a, b]), np.concatenate([au_a, au_b])
        write_avi(root / "Video_RightCamera" / f"RightVideo{sn}_{comp}.avi", frames)
        d = root / "ActionUnit_Labels" / sn
        d.mkdir(parents=True)
        _au_file(d / f"{sn}_au12.txt", au12[:-15] if sn == "SN003" else au12)
        _au_file(d / f"{sn}_au6.txt", (au12[:-15] if sn == "SN003" else au12) * 0.5)
    truncate(root / "Video_RightCamera" / "RightVideoSN004_Comp.avi")  # decodes part-way, no error
    return root


def _label_file(path: Path, names: list[str], values: np.ndarray) -> None:
    head = f"{path.stem}\nframe intensity\n"
    path.write_text(head + "".join(f"{n} {int(round(v))}\n" for n, v in zip(names, values)))


def write_disfa_plus(root: Path, frl_dir: Path) -> Path:
    """DISFA+'s layout: SN001 (plain) and SN002 (nested SN002/SN002), a posed smile trial and a non-smile trial
    each."""
    for sn, person, nested in (("SN001", "001", False), ("SN002", "008", True)):
        base = root / "Images" / sn / (sn if nested else "")
        for trial, smile in (("A22_AU6_12_TrailNo_1", True), ("A1_AU1_TrailNo_2", False)):
            frames, au12 = smile_clip(frl_dir, person, "posed", (480, 360), before=6, hold=8, after=2)
            if not smile:
                frames, au12 = frames[:36], np.zeros(36, np.float32)
            d = base / trial
            d.mkdir(parents=True)
            names = [f"{i:03d}.jpg" for i in range(len(frames))]
            for n, f in zip(names, frames):
                Image.fromarray(f).save(d / n, quality=92)
            lab = root / "Labels" / sn / trial
            lab.mkdir(parents=True)
            _label_file(lab / "AU12.txt", names, au12)
            _label_file(lab / "AU6.txt", names, au12 * 0.3)
    return root
