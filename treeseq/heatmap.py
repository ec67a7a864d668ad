"""Attention heatmaps of translations (matplotlib, loaded only when a picture is drawn)."""

from __future__ import annotations

from pathlib import Path

from treeseq.files import atomic_path
from treeseq.results import TranslationResult


def plot_attention(result: TranslationResult, path: str | Path, title: str = "") -> Path:
    """An attention heatmap of the best hypothesis: target pieces down, source pieces across, a colour
    bar, and a title (default: the hypothesis's score and log-probability).

    Raises:
        ValueError: the result was predicted without attention.
    """
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    best = result.hypotheses[0]
    if best.attention is None:
        raise ValueError("this translation carries no attention: predict with attention=True")
    rows, columns = len(best.attention), len(best.attention[0]) if best.attention else 0
    path = Path(path)
    fig, ax = plt.subplots(figsize=(max(4, 0.4 * columns + 2), max(3, 0.35 * rows + 2)))
    image = ax.imshow(best.attention, cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(columns), [_plain(p) for p in result.source_pieces[:columns]] or ["</s>"], rotation=90)
    ax.set_yticks(range(rows), [_plain(p) for p in best.pieces[:rows]])
    ax.set_xlabel("source subwords")
    ax.set_ylabel("target subwords")
    ax.set_title(_plain(title or f"score {best.score:.3f}, log-probability {best.log_prob:.2f}"), fontsize=9)
    fig.colorbar(image, ax=ax, label="attention weight", fraction=0.046, pad=0.04)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=80, format="png")
    finally:
        plt.close(fig)
    return path


def _plain(text: str) -> str:
    """User text shown as it is: matplotlib would read a pair of `$` as mathematics."""
    return text.replace("$", r"\$")
