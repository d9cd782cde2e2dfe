"""One request of the web page: a photo and the controls -> a `cmmnet generate` output folder and one zip of it.
The generation is :func:`write_generation`'s, the same as the command line's; the page only shows the files."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CmmnetError

if TYPE_CHECKING:
    from ..generate import TimingConfig
    from ..generate.config import Renderer

KEEP_REQUESTS = 8  # the newest request folders kept on disk (the page has copied the files it shows by then)


@dataclass(frozen=True)
class Outputs:
    videos: list[Path]  # conditional.mp4, mode_1.mp4, ... mode_K.mp4
    sheet: Path
    archive: Path  # every file of the output folder, zipped
    meta: dict


class Session:
    """Writes each request into a fresh folder under ``root`` (a temporary one by default)."""

    def __init__(self, net, root: Path | None = None):
        self.net = net
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="cmmnet-app-"))
        self._count = 0

    def _new_folder(self) -> Path:
        self._count += 1
        folder = self.root / f"request-{self._count:06d}"
        folder.mkdir(parents=True)
        for old in sorted(self.root.glob("request-*"))[:-KEEP_REQUESTS]:
            shutil.rmtree(old, ignore_errors=True)
        return folder

    def run(self, photo: str | Path | None, label: str, modes: int, seed: int,
            timing: TimingConfig | None = None, renderer: Renderer | None = None) -> Outputs:
        """Generate (as ``cmmnet generate`` does; ``renderer``: None = the net's own) and zip; a problem with the
        input raises :class:`CmmnetError` whose message names the uploaded file by its own name, not the server's
        temporary path."""
        from ..generate import write_generation

        if photo is None:
            raise CmmnetError("no photo: upload or drop a photo with one face, or pick the example")
        photo = Path(photo)
        folder = self._new_folder()
        out = folder / "smiles"
        try:
            net = self.net if renderer is None else self.net.with_renderer(renderer)
            meta = write_generation(net, photo, label, int(modes), int(seed), out, timing=timing)
        except CmmnetError as e:
            raise CmmnetError(str(e).replace(str(photo), photo.name)) from e
        archive = folder / f"cmmnet-{photo.stem}-{meta['inputs']['label']}-seed{meta['inputs']['seed']}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(out.rglob("*")):
                if f.is_file():
                    z.write(f, Path(out.name) / f.relative_to(out))
        return Outputs([out / n for n in meta["files"]["videos"]], out / meta["files"]["sheet"], archive, meta)
