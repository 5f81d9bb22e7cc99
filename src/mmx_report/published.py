"""The paper's own numbers (MMX-Trailer-20 test split), read by hand from the flattened text.

Tbl. 2 is flattened column by column in ``paper/mmx-trailer-20.txt``: a support row, then for each of
the 24 columns (20 genres in the header's order, F1w, (PRC) = AUPRC_w, Pw, Rw) the ten model rows.
Tbl. 5 is flattened the same way: the four lengths, then one column per metric in the header's
order F1w, (PRC), Pw, Rw. Read that way, its length-9 row (0.611, 0.564, 0.583, 0.554) does not
repeat Tbl. 2's MMX-Trailer-20 row (0.597, 0.583, 0.554, 0.697); we print the columns as the text
gives them and say so on the page.
"""

from __future__ import annotations

# Tbl. 2 header: Actn Advnt Animtn Bio Cmdy Crme Doc Drma Famly Fntsy Hstry Hrror Mystry Music SciFi
# Wstrn Sprt Shrt Thrll War — the paper's order, spelled as mmx.genres.PAPER_GENRES spells them.
TBL2_GENRES = [
    "Action", "Adventure", "Animation", "Biography", "Comedy", "Crime", "Documentary", "Drama",
    "Family", "Fantasy", "History", "Horror", "Mystery", "Music", "Sci-Fi", "Western", "Sport",
    "Short", "Thriller", "War",
]
TBL2_SUPPORT = [130, 197, 46, 13, 224, 102, 87, 267, 117, 115, 44, 104, 41, 86, 107, 181, 30, 45, 12, 21]

# row → per-genre AUPRC in TBL2_GENRES order
TBL2_PER_GENRE: dict[str, tuple[float, ...]] = {
    "Random": (0.29, 0.41, 0.11, 0.03, 0.46, 0.24, 0.21, 0.52, 0.27, 0.26, 0.11, 0.24, 0.1, 0.2, 0.25, 0.39, 0.08, 0.11, 0.03, 0.05),
    "Scene": (0.43, 0.55, 0.74, 0, 0.49, 0.38, 0.63, 0.55, 0.51, 0.28, 0.24, 0.42, 0.3, 0.28, 0.41, 0.51, 0.22, 0.19, 0.11, 0.33),
    "Audio": (0.47, 0.51, 0.40, 0.10, 0.61, 0.38, 0.58, 0.55, 0.51, 0.37, 0.11, 0.34, 0.39, 0.30, 0.35, 0.55, 0.16, 0.15, 0.13, 0.12),
    "Motion": (0.5, 0.59, 0.74, 0, 0.62, 0.33, 0.63, 0.56, 0.55, 0.36, 0.2, 0.38, 0.45, 0.24, 0.37, 0.57, 0.23, 0.14, 0.10, 0.13),
    "Image": (0.48, 0.63, 0.79, 0.12, 0.65, 0.41, 0.60, 0.59, 0.55, 0.42, 0.25, 0.47, 0.42, 0.29, 0.50, 0.54, 0.34, 0.19, 0.12, 0.31),
    "Image + Audio": (0.52, 0.63, 0.78, 0.15, 0.65, 0.42, 0.68, 0.6, 0.63, 0.46, 0.25, 0.50, 0.51, 0.34, 0.49, 0.59, 0.38, 0.28, 0.12, 0.42),
    "Image + Motion": (0.59, 0.64, 0.78, 0, 0.59, 0.39, 0.66, 0.6, 0.6, 0.5, 0.29, 0.54, 0.53, 0.25, 0.52, 0.57, 0.4, 0.2, 0.24, 0.12),
    "Image + Scene": (0.52, 0.61, 0.80, 0.12, 0.61, 0.37, 0.65, 0.62, 0.58, 0.49, 0.15, 0.51, 0.49, 0.37, 0.48, 0.56, 0.43, 0.26, 0.12, 0.46),
    "Naive Concat": (0.56, 0.61, 0.64, 0.09, 0.64, 0.35, 0.69, 0.60, 0.58, 0.39, 0.19, 0.49, 0.45, 0.21, 0.48, 0.6, 0.39, 0.28, 0.27, 0.41),
    "MMX-Trailer-20": (0.62, 0.69, 0.71, 0.11, 0.71, 0.53, 0.73, 0.62, 0.64, 0.51, 0.34, 0.56, 0.60, 0.45, 0.50, 0.64, 0.30, 0.11, 0.13, 0.55),
}

SUMMARY_KEYS = ("f1_weighted", "auprc_weighted", "precision_weighted", "recall_weighted")  # F1w, (PRC), Pw, Rw

# row → (F1w, AUPRC_w, Pw, Rw)
TBL2_SUMMARY: dict[str, tuple[float, float, float, float]] = {
    "Random": (0.318, 0.134, 0.19, 1.0),
    "Scene": (0.434, 0.489, 0.437, 0.48),
    "Audio": (0.454, 0.449, 0.400, 0.537),
    "Motion": (0.463, 0.487, 0.448, 0.494),
    "Image": (0.516, 0.554, 0.493, 0.572),
    "Image + Audio": (0.544, 0.558, 0.476, 0.65),
    "Image + Motion": (0.535, 0.553, 0.511, 0.583),
    "Image + Scene": (0.531, 0.539, 0.490, 0.600),
    "Naive Concat": (0.525, 0.497, 0.522, 0.551),
    "MMX-Trailer-20": (0.597, 0.583, 0.554, 0.697),
}

# sequence length → (F1w, AUPRC_w, Pw, Rw), columns in the order the text gives them (see above)
TBL5: dict[str, tuple[float, float, float, float]] = {
    "1": (0.484, 0.456, 0.451, 0.475),
    "5": (0.625, 0.493, 0.518, 0.428),
    "9": (0.611, 0.564, 0.583, 0.554),
    "20": (0.576, 0.495, 0.503, 0.493),
}

TBL5_NOTE = (
    "Tbl. 5 as the flattened paper text gives it (columns F1w, AUPRC_w, Pw, Rw); its length-9 row "
    "does not repeat Tbl. 2's MMX-Trailer-20 row (0.597, 0.583, 0.554, 0.697), so the column order "
    "of the original table may differ."
)


def paper_per_genre(row: str) -> dict[str, float]:
    """Genre → the paper's AUPRC of ``row`` (a Tbl. 2 row label)."""
    return dict(zip(TBL2_GENRES, TBL2_PER_GENRE[row]))
