"""Where the report scripts look for FRL-London's photos and for FRL-Smile unless told (their --faces / --data)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FACES = ROOT.parent / "shared" / "faces" / "frl-london"  # the photos, in ../shared beside the checkout
DATA = Path("/work/data/frl-smile")  # where docs/frl-smile.md's `cmmnet synth` writes FRL-Smile
