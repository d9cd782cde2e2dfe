"""Networks of CMM-Net (paper §3, §4.1), one per file."""
