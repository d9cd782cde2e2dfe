"""FRL-Smile: neutral-to-smile sequences from each person's neutral (``NNN_03``) and smiling (``NNN_08``) photo.

:func:`synthesize` writes a :mod:`cmmnet.data.format` dataset (T = 32, per person ``per_face`` posed and
``per_face`` spontaneous sequences, styles spread evenly, a subject-disjoint seeded train/test split).
:func:`render_photo_sequence` renders one sequence in the neutral photo's own pixels (for fixture videos).
"""

from __future__ import annotations

import logging
import re
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ...config import to_dict
from ...errors import CmmnetError, ConfigError
from ...faces import AlignConfig, FaceDetector, LandmarkDrawConfig, draw_landmarks, read_image, warp_image
from ...faces.align import compose_transforms, estimate_alignment, invert_transform, transform_points
from ...io import check_output
from ...limits import check_positive, check_seed
from ..format import write_dataset
from .curves import CurveConfig, SequenceCurves, sample_curves
from .render import MorphRenderer, RenderConfig
from .trajectories import (
    STABLE_POINTS,
    STYLE_NAMES,
    TrajectoryConfig,
    sequence_landmarks,
    similarity_fit,
    topped_up_smile,
)

log = logging.getLogger(__name__)

LABEL_NAMES = ("posed", "spontaneous")  # label 0, label 1
MAX_PER_FACE, MAX_SIZE, MAX_WORKERS = 10_000, 512, 256  # argument ranges (the memory limit below binds first)
MAX_DATASET_BYTES = 8 * 2**30  # the arrays are built in memory before they are written
NEUTRAL_TAG, SMILE_TAG = "03", "08"
_PHOTO = re.compile(r"^(?P<id>[^_]+)_(?P<tag>\d\d)\.(?:jpe?g|png)$", re.IGNORECASE)


@dataclass(frozen=True)
class SynthConfig:
    per_face: int = 6  # sequences per person and label; styles spread evenly
    seed: int = 0
    size: int = 64  # aligned output side (px)
    T: int = 32  # frames per sequence (paper §4.1: the average N2S length)
    test_fraction: float = 0.2  # share of people in the test split (subject-disjoint)
    workers: int = 2  # processes (one task per person)
    align: AlignConfig = AlignConfig()  # eye distance / eye height of the crop (its size is replaced by `size`)
    draw: LandmarkDrawConfig = LandmarkDrawConfig()
    curves: CurveConfig = field(default_factory=CurveConfig)
    trajectory: TrajectoryConfig = TrajectoryConfig()
    render: RenderConfig = RenderConfig()


@dataclass(frozen=True)
class PersonFiles:
    id: str
    neutral: Path
    smile: Path


def find_people(faces_dir: str | Path) -> tuple[list[PersonFiles], list[tuple[str, str]]]:
    """Pairs of neutral/smiling photos in the FRL layout, and (id, reason) for every unpaired id."""
    d = Path(faces_dir)
    if not d.is_dir():
        raise CmmnetError(f"{d}: no such directory; give --faces a folder with NNN_03.jpg / NNN_08.jpg photos")
    found: dict[str, dict[str, Path]] = {}
    for p in sorted(d.iterdir()):
        m = _PHOTO.match(p.name)
        if m and m["tag"] in (NEUTRAL_TAG, SMILE_TAG) and p.is_file():
            found.setdefault(m["id"], {})[m["tag"]] = p
    if not found:
        raise CmmnetError(f"{d}: no NNN_03.jpg (neutral) / NNN_08.jpg (smiling) photos found; "
                          "point --faces at a folder in the FRL layout")
    people, skipped = [], []
    for pid, tags in sorted(found.items()):
        if NEUTRAL_TAG in tags and SMILE_TAG in tags:
            people.append(PersonFiles(pid, tags[NEUTRAL_TAG], tags[SMILE_TAG]))
        else:
            have, miss = (NEUTRAL_TAG, SMILE_TAG) if NEUTRAL_TAG in tags else (SMILE_TAG, NEUTRAL_TAG)
            skipped.append((pid, f"unpaired: {tags[have].name} has no {pid}_{miss} photo"))
    return people, skipped


_DETECTOR: FaceDetector | None = None


def _detector() -> FaceDetector:
    global _DETECTOR
    if _DETECTOR is None:
        _DETECTOR = FaceDetector()
    return _DETECTOR


@dataclass(frozen=True)
class PersonGeometry:
    neutral_img: np.ndarray  # (H, W, 3) uint8, file pixels
    smile_img: np.ndarray
    neutral_px: np.ndarray  # (68, 2) detected, file pixels
    smile_px: np.ndarray
    to_aligned: np.ndarray  # (2, 3) neutral file px -> aligned px (size S)
    smile_to_aligned: np.ndarray  # (2, 3) smile file px -> aligned px (head motion removed)
    neutral: np.ndarray  # (68, 2) aligned px
    smile: np.ndarray  # (68, 2) aligned px, as detected (texture positions)
    smile_target: np.ndarray  # (68, 2) aligned px, topped up (see TrajectoryConfig)


def load_person(person: PersonFiles, cfg: SynthConfig) -> PersonGeometry:
    """Read and landmark both photos and put them in one aligned frame (raises CmmnetError on bad input)."""
    det = _detector()
    n_img, s_img = read_image(person.neutral), read_image(person.smile)
    n_px = det.detect(n_img, name=str(person.neutral)).landmarks.astype(np.float64)
    s_px = det.detect(s_img, name=str(person.smile)).landmarks.astype(np.float64)
    align = AlignConfig(size=cfg.size, eye_distance=cfg.align.eye_distance, eye_y=cfg.align.eye_y)
    m = estimate_alignment(n_px, align)
    neutral = transform_points(n_px, m)
    m_s = similarity_fit(s_px[STABLE_POINTS], neutral[STABLE_POINTS])
    smile = transform_points(s_px, m_s)
    target = topped_up_smile(neutral, smile, cfg.trajectory)
    return PersonGeometry(n_img, s_img, n_px, s_px, m, m_s, neutral, smile, target)


@dataclass(frozen=True)
class SequenceSpec:
    label: str
    style: str
    curves: SequenceCurves
    gap: float  # mouth_open inner-lip gap at apex (IOD); 0 for the other styles


def sample_sequence(person_id: str, label: str, style: str, index: int, cfg: SynthConfig) -> SequenceSpec:
    """The random draws of one sequence; seeded by (seed, person, label, index) only."""
    key = [cfg.seed, zlib.crc32(person_id.encode()), LABEL_NAMES.index(label), index, STYLE_NAMES.index(style)]
    rng = np.random.default_rng(key)
    curves = sample_curves(label, cfg.T, rng, cfg.curves)
    gap = float(rng.uniform(*cfg.trajectory.mouth_open_gap)) if style == "mouth_open" else 0.0
    return SequenceSpec(label, style, curves, gap)


def _upscale(k: int) -> np.ndarray:
    """Aligned px at size S -> aligned px at size k*S (pixel centres at integers)."""
    return np.array([[k, 0, 0.5 * k - 0.5], [0, k, 0.5 * k - 0.5]], np.float64)


_MOUTH = {"mouth_open": "open", "mouth_closed": "closed", "eyes_closed": "natural"}


def render_sequence(renderer: MorphRenderer, landmarks: np.ndarray, spec: SequenceSpec,
                    to_frame: np.ndarray) -> np.ndarray:
    """Frames ``(T, h, w, 3)`` uint8 of ``landmarks`` (T, 68, 2) mapped into the renderer's frame by ``to_frame``."""
    c = spec.curves
    frames = []
    neutral_frame = None
    for t in range(len(landmarks)):
        still = t == 0 or (c.au12[t] == 0 and c.au6[t] == 0 and c.au25[t] == 0 and c.eye_closure[t] == 0)
        if still and neutral_frame is not None:
            frames.append(neutral_frame)
            continue
        frame = renderer.render(
            transform_points(landmarks[t], to_frame),
            w12=float(c.au12[t]),
            w6=float(c.au6[t]),
            eye_closure=float(c.eye_closure[t]) if spec.style == "eyes_closed" else 0.0,
            mouth=_MOUTH[spec.style] if spec.style != "mouth_open" or c.au25[t] > 0 else "closed",
        )
        if still:
            neutral_frame = frame
        frames.append(frame)
    return np.stack(frames)


def _downsample(frames: np.ndarray, k: int) -> np.ndarray:
    if k == 1:
        return frames
    t, h, w, ch = frames.shape
    x = frames.reshape(t, h // k, k, w // k, k, ch).astype(np.float32).mean((2, 4))
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def _styles_for(index: int, per_face: int) -> list[str]:
    return [STYLE_NAMES[(i + index) % len(STYLE_NAMES)] for i in range(per_face)]


def _person_task(args: tuple[int, PersonFiles, SynthConfig]) -> dict:
    """All sequences of one person (runs in a worker process); returns arrays or {"skip": reason}."""
    index, person, cfg = args
    try:
        g = load_person(person, cfg)
    except (CmmnetError, ValueError) as e:  # unreadable photo, no face, degenerate landmarks
        return {"id": person.id, "skip": str(e)}
    k, s = cfg.render.render_scale, cfg.size
    up = _upscale(k)
    n_w = warp_image(g.neutral_img, compose_transforms(up, g.to_aligned), k * s)
    s_w = warp_image(g.smile_img, compose_transforms(up, g.smile_to_aligned), k * s)
    renderer = MorphRenderer(n_w, s_w, transform_points(g.neutral, up), transform_points(g.smile, up), cfg.render)
    out: dict[str, list] = {k_: [] for k_ in ("faces", "landmark_images", "landmarks", "labels", "styles",
                                               "au_intensity", "eye_closure", "curve_params")}
    for label in LABEL_NAMES:
        for i, style in enumerate(_styles_for(index, cfg.per_face)):
            spec = sample_sequence(person.id, label, style, i, cfg)
            lm = sequence_landmarks(g.neutral, g.smile_target, spec.curves, style, spec.gap, cfg.trajectory)
            frames = _downsample(render_sequence(renderer, lm, spec, up), k)  # (T, S, S, 3)
            c = spec.curves
            out["faces"].append(frames.transpose(0, 3, 1, 2))
            out["landmark_images"].append(np.stack([draw_landmarks(p, s, cfg.draw) for p in lm]))
            out["landmarks"].append(lm)
            out["labels"].append(LABEL_NAMES.index(label))
            out["styles"].append(STYLE_NAMES.index(style))
            au25 = c.au25 * spec.gap if style == "mouth_open" else np.zeros_like(c.au25)
            out["au_intensity"].append(np.stack([c.au12, c.au6, au25], -1))
            out["eye_closure"].append(c.eye_closure if style == "eyes_closed" else np.zeros_like(c.eye_closure))
            out["curve_params"].append([c.params[n] for n in CURVE_PARAM_NAMES])
    res = {k_: np.asarray(v) for k_, v in out.items()}
    res["id"] = person.id
    res["neutral_landmarks"] = g.neutral.astype(np.float32)
    return res


CURVE_PARAM_NAMES = ("amplitude", "delay", "onset", "jitter", "decay", "au6_amplitude", "au6_delay", "au6_onset")


def _ignore_sigint() -> None:
    """In a worker: Ctrl-C is the parent's to report (one line); the pool is terminated when the parent stops."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _select(people: list[PersonFiles], wanted: int | list[str] | None) -> list[PersonFiles]:
    if wanted is None:
        return people
    if isinstance(wanted, int):
        if wanted < 1:
            raise CmmnetError(f"--people {wanted}: give a positive number of people")
        return people[:wanted]
    by_id = {p.id: p for p in people}
    missing = [w for w in wanted if w not in by_id]
    if missing:
        raise CmmnetError(f"people {missing} have no NNN_03/NNN_08 photo pair; choose from {sorted(by_id)[:10]}...")
    return [by_id[w] for w in wanted]


def subject_split(ids: list[str], test_fraction: float, seed: int) -> dict[str, int]:
    """Subject-disjoint split: ``round(test_fraction * n)`` people (at least 1 when n >= 2) go to test (1)."""
    n = len(ids)
    n_test = 0 if n < 2 else min(n - 1, max(1, round(test_fraction * n)))
    order = np.random.default_rng(seed).permutation(n)
    test = {ids[i] for i in order[:n_test]}
    return {pid: int(pid in test) for pid in ids}


def synthesize(faces_dir: str | Path, out: str | Path, *, per_face: int = SynthConfig.per_face,
               seed: int = SynthConfig.seed, size: int = SynthConfig.size, people: int | list[str] | None = None,
               config: SynthConfig | None = None, workers: int | None = None, command: str | None = None) -> Path:
    """Write the FRL-Smile dataset for the photos in ``faces_dir`` to ``out``; returns ``out``.

    ``people``: an int (the first N ids) or a list of ids; None = everyone. Persons with unpaired or unreadable
    photos, or a photo without a face, are skipped with one warning line each.
    """
    base = config or SynthConfig()
    cfg = SynthConfig(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, "per_face": per_face,
                         "seed": seed, "size": size, "workers": base.workers if workers is None else workers})
    check_positive(per_face, "--per-face", MAX_PER_FACE)
    check_seed(seed)
    check_positive(cfg.workers, "--workers", MAX_WORKERS)
    if check_positive(size, "--size", MAX_SIZE) % 2 or size < 16:
        raise ConfigError(f"--size {size}: give an even size of at least 16 (64 as in the paper)")
    check_output(out)  # before the work: an existing file or a folder cmmnet did not write is refused
    all_people, unpaired = find_people(faces_dir)
    chosen = _select(all_people, people)
    if not chosen:
        raise CmmnetError(f"{faces_dir}: no person has both a neutral and a smiling photo")
    per_sequence = cfg.T * (4 * size * size + 68 * 2 * 4 + 3 * 4 + 4)  # faces, landmark images, landmarks, curves
    need = len(chosen) * len(LABEL_NAMES) * per_face * per_sequence
    if need > MAX_DATASET_BYTES:
        raise ConfigError(f"--per-face {per_face} --size {size}: the dataset would need {need / 2**30:.1f} GiB of "
                          f"memory (limit {MAX_DATASET_BYTES / 2**30:.0f} GiB); use fewer sequences or people")
    for pid, reason in unpaired:
        log.warning("skipping person %s: %s", pid, reason)
    t0 = time.perf_counter()
    tasks = [(i, p, cfg) for i, p in enumerate(chosen)]
    results = []
    bar = tqdm(total=len(tasks), desc="synth", unit="person", leave=False, disable=None)  # no bar unless a terminal
    if cfg.workers > 1 and len(tasks) > 1:
        import multiprocessing as mp

        # fork where available: no `if __name__ == "__main__"` guard needed in callers' scripts, and the parent
        # has loaded no dlib model yet (each worker loads its own on first use)
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with mp.get_context(method).Pool(min(cfg.workers, len(tasks)), initializer=_ignore_sigint) as pool:
            for r in pool.imap(_person_task, tasks):
                results.append(r)
                bar.update()
    else:
        for task in tasks:
            results.append(_person_task(task))
            bar.update()
    bar.close()
    good = []
    for r in results:
        if "skip" in r:
            log.warning("skipping person %s: %s", r["id"], r["skip"])
        else:
            good.append(r)
    if not good:
        raise CmmnetError(f"{faces_dir}: no usable person (see the warnings above); check the photos")
    ids = [r["id"] for r in good]
    split_of = subject_split(ids, cfg.test_fraction, cfg.seed)
    arrays = {
        name: np.concatenate([r[name] for r in good])
        for name in ("faces", "landmark_images", "landmarks", "au_intensity", "eye_closure")
    }
    arrays["faces"] = arrays["faces"].astype(np.uint8)
    arrays["landmark_images"] = arrays["landmark_images"].astype(np.uint8)
    arrays["landmarks"] = arrays["landmarks"].astype(np.float32)
    arrays["labels"] = np.concatenate([r["labels"] for r in good]).astype(np.int64)
    arrays["styles"] = np.concatenate([r["styles"] for r in good]).astype(np.int64)
    counts = [len(r["labels"]) for r in good]
    arrays["subjects"] = np.repeat(np.arange(len(good)), counts).astype(np.int64)
    arrays["splits"] = np.repeat([split_of[i] for i in ids], counts).astype(np.int8)
    arrays["neutral_landmarks"] = np.repeat(np.stack([r["neutral_landmarks"] for r in good]), counts, 0)
    arrays["au_intensity"] = arrays["au_intensity"].astype(np.float32)
    arrays["eye_closure"] = arrays["eye_closure"].astype(np.float32)
    arrays["curve_params"] = np.concatenate([r["curve_params"] for r in good]).astype(np.float32)
    elapsed = time.perf_counter() - t0
    extra = {
        "generator": "FRL-Smile (cmmnet.data.synth)",
        "faces_dir": str(faces_dir),
        "config": to_dict(cfg),
        "draw": to_dict(cfg.draw),
        "au_intensity_channels": ["au12", "au6", "au25_gap_iod"],
        "curve_param_names": list(CURVE_PARAM_NAMES),
        "skipped": {pid: reason for pid, reason in unpaired}
        | {r["id"]: r["skip"] for r in results if "skip" in r},
        "seconds": round(elapsed, 1),
    }
    write_dataset(out, arrays, source="frl-smile", label_names=list(LABEL_NAMES), subject_names=ids,
                  style_names=list(STYLE_NAMES), extra=extra, command=command, writer="synth")
    log.info("wrote %d sequences of %d people to %s in %.1f s", len(arrays["labels"]), len(ids), out, elapsed)
    return Path(out)


def render_photo_sequence(faces_dir: str | Path, person: str, label: str, style: str, seed: int = 0,
                          T: int = 32, curves: CurveConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic smile sequence in the neutral photo's own pixels (``curves``: other timing than FRL-Smile's).

    Returns ``frames`` (T, H, W, 3) uint8 (frame 0 is the neutral photo) and ``landmarks`` (T, 68, 2) float32 in
    those pixels. Head pose stays that of the neutral photo.
    """
    if label not in LABEL_NAMES:
        raise CmmnetError(f"unknown label {label!r}; use one of {list(LABEL_NAMES)}")
    if style not in STYLE_NAMES:
        raise CmmnetError(f"unknown style {style!r}; use one of {list(STYLE_NAMES)}")
    people, _ = find_people(faces_dir)
    (pf,) = _select(people, [person])
    cfg = SynthConfig(seed=seed, T=T) if curves is None else SynthConfig(seed=seed, T=T, curves=curves)
    g = load_person(pf, cfg)
    to_photo = invert_transform(g.to_aligned)
    smile_to_photo = compose_transforms(to_photo, g.smile_to_aligned)  # smile file px -> neutral file px
    h, w = g.neutral_img.shape[:2]
    smile_img = warp_image(g.smile_img, smile_to_photo, (w, h))
    renderer = MorphRenderer(g.neutral_img, smile_img, g.neutral_px, transform_points(g.smile_px, smile_to_photo),
                             cfg.render)
    spec = sample_sequence(pf.id, label, style, 0, cfg)
    lm = sequence_landmarks(g.neutral, g.smile_target, spec.curves, style, spec.gap, cfg.trajectory)
    frames = render_sequence(renderer, lm, spec, to_photo)
    landmarks = transform_points(lm, to_photo).astype(np.float32)
    landmarks[0] = g.neutral_px
    return frames, landmarks
