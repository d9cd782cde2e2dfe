"""Datasets: the on-disk format every stage reads, FRL-Smile synthesis, and adapters for the paper's datasets."""

from .format import SPLIT_NAMES, SmileDataset, load_dataset, write_dataset
from .torch_dataset import SequenceDataset

__all__ = ["SPLIT_NAMES", "SmileDataset", "SequenceDataset", "load_dataset", "write_dataset"]
