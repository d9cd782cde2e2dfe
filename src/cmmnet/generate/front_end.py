"""The face front end of `cmmnet generate`, started in a forked process while torch and the weights load.

The worker reads the photo and detects the largest face with its 68 landmarks (:func:`detect_image`: what does not
depend on the weights); the alignment, which follows the weights' config, is done in the calling process when the
result is asked for. This module imports no torch: the fork happens before torch is imported.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import CmmnetError
from ..faces.align import AlignConfig
from ..faces.pipeline import DetectedImage, FrontEndConfig, detect_image


def _front_end(image: Path, config: FrontEndConfig) -> DetectedImage:
    return detect_image(image, config.detector)


def _front_end_child(image: Path, config: FrontEndConfig, conn) -> None:
    """In the forked process: :func:`_front_end`; sends ``("ok", result)``, or ``("error", CmmnetError)`` for a
    problem with the input, or ``("crash", traceback text)``."""
    import traceback

    try:
        conn.send(("ok", _front_end(image, config)))
    except CmmnetError as e:
        conn.send(("error", e))
    except Exception:  # a bug: hand the traceback to the parent, which raises it
        conn.send(("crash", traceback.format_exc()))
    finally:
        conn.close()


class FaceFrontEnd:
    """The face front end (read, detect, landmark, align) of one photo, its detection started in a forked process so
    that dlib's model loading (0.7 s) overlaps importing torch and loading the weights in this one (threads would
    not: neither lets go of the GIL). :meth:`result` waits for the detection and returns
    ``(aligned, n_faces, box, rotation)``, as :meth:`cmmnet.generate.CMMNet.align` does, and raises what the front end
    raised. Off Linux (no safe fork) and if the worker dies without an answer, :meth:`result` does the work itself."""

    def __init__(self, image: Path, config: FrontEndConfig | None = None):
        import multiprocessing as mp

        self.image = image
        self.config = config or FrontEndConfig()
        self._receive = self._proc = None
        if sys.platform == "linux":
            ctx = mp.get_context("fork")
            self._receive, send = ctx.Pipe(duplex=False)
            self._proc = ctx.Process(target=_front_end_child, args=(image, self.config, send), daemon=True)
            self._proc.start()  # a daemon: it dies with this process, e.g. when the weights turn out damaged
            send.close()

    def _detected(self) -> DetectedImage:
        if self._proc is None:
            return _front_end(self.image, self.config)
        try:
            answer = self._receive.recv()
        except EOFError:
            answer = None
        finally:
            self._proc.join()
            self._proc = None
        if answer is None:  # the worker died without an answer (killed, out of memory): do the work here
            return _front_end(self.image, self.config)
        kind, payload = answer
        if kind == "error":
            raise payload
        if kind == "crash":
            raise RuntimeError(f"face front end failed in its worker process:\n{payload}")
        return payload

    def result(self, align: AlignConfig | None = None) -> tuple:
        """``(aligned, n_faces, box, rotation)``, aligned with ``align`` (default: this front end's config)."""
        det = self._detected()
        return det.align(align or self.config.align), det.face.n_faces, det.face.box, det.rotation
