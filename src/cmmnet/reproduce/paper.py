"""The numbers the paper publishes (Tables 1-3), as far as the paper's text can be read.

Source: /work/shared/paper/every-smile-is-unique.txt (the text extraction of the CVPR 2018 paper). Its table
layout is garbled in places; a value is listed here only where the row and column it belongs to are certain,
``None`` otherwise (the report prints "not legible" there):

- Table 1 (IS, ΔIS, SSIM): the UvA-NEMO columns (spontaneous and posed) are complete, in row order Original,
  Video-GAN, CRA-Net, CMM-Net (Original has no ΔIS / SSIM). DISFA Spont.: the four IS and the three ΔIS values
  are complete; of the SSIM column only Video-GAN 0.243 and CRA-Net 0.749 are legible. DISFA+ Posed: not legible
  (stray fragments 0.048, 0.062, 0.434 cannot be placed).
- Table 2 (user study, % of the preferences): complete.
- Table 3 (AU curve distances): none of its values survive in the text (only the row names).
"""

from __future__ import annotations

METHODS = ("Original", "Video-GAN", "CRA-Net", "CMM-Net")

# (dataset, label) -> method -> {"is", "delta_is", "ssim"}; columns in the paper's order.
TABLE1: dict[tuple[str, str], dict[str, dict[str, float | None]]] = {
    ("uva-nemo", "spontaneous"): {
        "Original": {"is": 1.419, "delta_is": None, "ssim": None},
        "Video-GAN": {"is": 1.576, "delta_is": 0.157, "ssim": 0.466},
        "CRA-Net": {"is": 1.311, "delta_is": 0.108, "ssim": 0.553},
        "CMM-Net": {"is": 1.354, "delta_is": 0.065, "ssim": 0.854},
    },
    ("uva-nemo", "posed"): {
        "Original": {"is": 1.437, "delta_is": None, "ssim": None},
        "Video-GAN": {"is": 1.499, "delta_is": 0.062, "ssim": 0.450},
        "CRA-Net": {"is": 1.310, "delta_is": 0.127, "ssim": 0.471},
        "CMM-Net": {"is": 1.435, "delta_is": 0.002, "ssim": 0.827},
    },
    ("disfa", "spontaneous"): {
        "Original": {"is": 1.426, "delta_is": None, "ssim": None},
        "Video-GAN": {"is": 1.777, "delta_is": 0.351, "ssim": 0.243},
        "CRA-Net": {"is": 1.833, "delta_is": 0.407, "ssim": 0.749},
        "CMM-Net": {"is": 1.447, "delta_is": 0.021, "ssim": None},
    },
    ("disfa", "posed"): {m: {"is": None, "delta_is": None, "ssim": None} for m in METHODS},
}

# The paper's column names of Table 1 / Fig. 8 for each (dataset, label) of this command.
COLUMN_NAMES = {
    ("uva-nemo", "spontaneous"): "UvA-NEMO Spont.",
    ("uva-nemo", "posed"): "UvA-NEMO Posed",
    ("disfa", "spontaneous"): "DISFA Spont.",
    ("disfa", "posed"): "DISFA+ Posed",
}

# Table 2: baseline -> label -> {"baseline", "CMM-Net", "similar"} (%).
TABLE2: dict[str, dict[str, dict[str, float]]] = {
    "Video-GAN": {"spontaneous": {"baseline": 10.14, "CMM-Net": 85.14, "similar": 4.72},
                  "posed": {"baseline": 7.24, "CMM-Net": 83.68, "similar": 9.08}},
    "CRA-Net": {"spontaneous": {"baseline": 17.76, "CMM-Net": 54.87, "similar": 27.37},
                "posed": {"baseline": 11.94, "CMM-Net": 59.72, "similar": 28.33}},
}
TABLE2_SETUP = "37 video pairs, 40 raters, 1480 ratings per comparison"

LEGIBILITY = (
    "Published numbers come from the paper's text, whose tables are garbled in places: Table 1 is legible for "
    "UvA-NEMO (both labels) and for DISFA Spont. except CMM-Net's SSIM; DISFA+ Posed is not legible; Table 2 is "
    "legible; none of Table 3's values are. Illegible cells read \"not legible\"."
)
