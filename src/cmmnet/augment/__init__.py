"""Batch augmentation: every face photo of a folder tree -> labelled smile videos (each label, K + 1 sequences, a
few seeds) plus a manifest, resumable, parallel on the machine's cores and sharded across machines
(``RANK``/``WORLD_SIZE`` or ``--shard i/n``; ``cmmnet augment --merge`` joins the shard manifests).

- :mod:`.plan`: the photos, the shards, where each item's files go (no torch);
- :mod:`.run`: :func:`augment` (workers, progress, resume);
- :mod:`.manifest`: the manifest rows (JSON Lines + CSV) and :func:`merge_manifests`.
"""

from .manifest import FIELDS, merge_manifests, read_manifest
from .plan import Shard, find_photos, parse_shard, shard_from_env
from .run import AugmentConfig, AugmentSummary, augment

__all__ = ["FIELDS", "AugmentConfig", "AugmentSummary", "Shard", "augment", "find_photos", "merge_manifests",
           "parse_shard", "read_manifest", "shard_from_env"]
