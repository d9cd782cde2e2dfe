"""The user-study kit of paper §4.3 (Table 2): `cmmnet study make` (static A/B page) and `cmmnet study tally`."""

from .kit import format_table, make_study, tally

__all__ = ["format_table", "make_study", "tally"]
