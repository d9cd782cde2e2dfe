"""``cmmnet prepare``: the paper's datasets (UvA-NEMO, DISFA, DISFA+) and any folder of smile videos -> the
dataset directory format (:mod:`cmmnet.data.format`), paper §4.1. See docs/datasets.md."""

from .assemble import DATASETS, PrepareSummary, prepare_dataset
from .items import Item, LayoutError
from .pipeline import PrepareConfig, process_item
from .segments import Phase, SegmentConfig, find_phases, sample_phase
from .track import TrackConfig, Tracker

__all__ = [
    "DATASETS",
    "Item",
    "LayoutError",
    "Phase",
    "PrepareConfig",
    "PrepareSummary",
    "SegmentConfig",
    "TrackConfig",
    "Tracker",
    "find_phases",
    "prepare_dataset",
    "process_item",
    "sample_phase",
]
