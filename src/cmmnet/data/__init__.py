"""Datasets: the on-disk format every stage reads, FRL-Smile synthesis, and adapters for the paper's datasets.

The torch view of a dataset is :class:`cmmnet.data.torch_dataset.SequenceDataset` (not imported here: reading a
dataset needs no torch)."""

from .format import SPLIT_NAMES, SmileDataset, load_dataset, write_dataset

__all__ = ["SPLIT_NAMES", "SmileDataset", "load_dataset", "write_dataset"]
