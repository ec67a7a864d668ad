"""Pictures of labelled trees: a tidy layout computed iteratively, written as SVG or PNG (matplotlib).

Layout: words sit on the bottom row in sentence order, each in a slot as wide as its word or its
node's box. Nodes take one row per depth (the root on top). A constituency node is centred over its
span (its first and last word), so edges never cross; a leaf has a dotted line down to its word. A
dependency node sits above its own word, with a dotted line down to it, and its arc is labelled with
its relation where the tree has one (spaCy's parses do). Boxes are coloured by class on a
red-grey-green scale, and a legend names the classes' colours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence
from xml.sax.saxutils import escape

from treeseq.trees import Tree

PALETTE = ("#d7191c", "#fdae61", "#d9d9d9", "#a6d96a", "#1a9641")  # negative ... positive
CHAR_WIDTH, ROW, BOX_HEIGHT, GAP, MARGIN = 7.2, 62.0, 34.0, 10.0, 20.0
DOT, DOT_ROW = 4.0, 30.0  # an unlabelled node's radius and the rows' distance in a parse


def class_colour(index: int, num_classes: int) -> str:
    """A fill colour for class `index` of `num_classes`, first class red, last green."""
    if num_classes <= 1:
        return PALETTE[2]
    return PALETTE[round(index / (num_classes - 1) * (len(PALETTE) - 1))]


@dataclass
class Box:
    """One node's box: centre x, top y, width, the two text lines, its colour."""

    node: int
    x: float
    y: float
    width: float
    title: str
    subtitle: str
    colour: str
    dot: bool = False  # an unlabelled node: a dot at (x, y), no box


@dataclass
class Layout:
    """Everything a writer draws; coordinates in pixels, y downwards."""

    boxes: list[Box]
    edges: list[tuple[float, float, float, float]]  # parent bottom centre -> child top centre
    words: list[tuple[float, float, str]]  # x centre, baseline y, text
    ties: list[tuple[float, float, float, float]]  # dotted lines from a node to its word
    width: float
    height: float
    legend: list[tuple[float, float, str, str]] = field(default_factory=list)  # x, y, colour, class name
    relations: list[tuple[float, float, str]] = field(default_factory=list)  # a dependency arc's label: x, y centre, text


def layout_parse(tree: Tree) -> Layout:
    """Place every node, edge and word of an unlabelled tree (a parse): each node a dot on its edges, with
    no label or probability box and no legend."""
    return layout_tree(tree, ("",), [0] * len(tree), [0.0] * len(tree), dots=True)


def layout_tree(tree: Tree, classes: Sequence[str], predicted: Sequence[int], probs: Sequence[float], *,
                dots: bool = False) -> Layout:  # fmt: skip
    """Place every node, edge and word of a labelled tree (`dots`: unlabelled, see `layout_parse`)."""
    titles = [classes[predicted[n]] for n in range(len(tree))]
    box_width = [DOT * 2 if dots else max(len(t), 4) * CHAR_WIDTH + 12 for t in titles]
    slot = [len(w) * CHAR_WIDTH + GAP for w in tree.tokens]
    for node, token in enumerate(tree.word):
        if token >= 0:
            slot[token] = max(slot[token], box_width[node] + GAP)
    centres, left = [], MARGIN
    for width in slot:
        centres.append(left + width / 2)
        left += width
    x, row = _positions(tree, centres)
    rows = max(row) + 1
    if dots:  # a dot where its edges meet: the parent's edges leave from its centre, the child's arrive there
        y = [MARGIN + r * DOT_ROW for r in row]
        boxes = [Box(n, x[n], y[n], box_width[n], "", "", "#555", dot=True) for n in range(len(tree))]
        edges = [(x[p], y[p], x[c], y[c]) for p, kids in enumerate(tree.children) for c in kids]
        word_y = MARGIN + (rows - 1) * DOT_ROW + 34
        ties = [(x[n], y[n], centres[t], word_y - 14) for n, t in enumerate(tree.word) if t >= 0]
        return Layout(boxes, edges, [(centres[i], word_y, w) for i, w in enumerate(tree.tokens)], ties, left + MARGIN,
                      word_y + MARGIN)  # fmt: skip
    y = [MARGIN + r * ROW for r in row]
    boxes = [
        Box(n, x[n], y[n], box_width[n], titles[n], f"{probs[n]:.2f}", class_colour(predicted[n], len(classes)))
        for n in range(len(tree))
    ]  # fmt: skip
    edges = [(x[p], y[p] + BOX_HEIGHT, x[c], y[c]) for p, kids in enumerate(tree.children) for c in kids]
    relations = [((x[p] + x[c]) / 2, (y[p] + BOX_HEIGHT + y[c]) / 2 + 4, str(tree.labels[c])) for p, kids in enumerate(tree.children)
                 for c in kids if tree.kind == "dependency" and tree.labels[c]]  # fmt: skip
    word_y = MARGIN + rows * ROW + 4
    words = [(centres[i], word_y, w) for i, w in enumerate(tree.tokens)]
    ties = [(x[n], y[n] + BOX_HEIGHT, centres[t], word_y - 14) for n, t in enumerate(tree.word) if t >= 0]
    legend, legend_x, legend_y = [], MARGIN, word_y + 26
    for index, name in enumerate(classes):
        legend.append((legend_x, legend_y, class_colour(index, len(classes)), name))
        legend_x += 24 + len(name) * CHAR_WIDTH
    return Layout(boxes, edges, words, ties, max(left, legend_x) + MARGIN, legend_y + 12 + MARGIN, legend, relations)


def _positions(tree: Tree, centres: list[float]) -> tuple[list[float], list[int]]:
    """Per node its x and its row (0 at the top)."""
    if tree.kind == "dependency":
        depth = [0] * len(tree)
        for node, d in tree.preorder():
            depth[node] = d
        return [centres[tree.word[n]] for n in range(len(tree))], depth
    # One row per depth, each node centred over its span: an edge joins two adjacent rows and lies over
    # its parent's span, and the spans of one row are disjoint, so no two edges (or word ties) cross.
    depth = [0] * len(tree)
    for node, d in tree.preorder():
        depth[node] = d
    spans = tree.spans()
    return [(centres[i] + centres[j - 1]) / 2 for i, j in spans], depth


def to_svg(layout: Layout, title: str = "") -> str:
    """The layout as a standalone SVG document; each node is one `<g class="node">` group."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{layout.width:.0f}" height="{layout.height:.0f}" '
        f'viewBox="0 0 {layout.width:.0f} {layout.height:.0f}" font-family="DejaVu Sans, Arial, sans-serif">',
        f"<title>{escape(title)}</title>",
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    for x1, y1, x2, y2 in layout.edges:
        parts.append(f'<line class="edge" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#555" stroke-width="1.2"/>')
    for x, y, relation in layout.relations:
        parts.append(f'<text class="relation" x="{x:.1f}" y="{y:.1f}" font-size="10" text-anchor="middle" fill="#1f4e79" '
                     f'stroke="white" stroke-width="3" paint-order="stroke">{escape(relation)}</text>')  # fmt: skip
    for x1, y1, x2, y2 in layout.ties:
        parts.append(f'<line class="tie" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#999" stroke-dasharray="2,3"/>')
    for box in layout.boxes:
        left = box.x - box.width / 2
        if box.dot:
            parts.append(f'<g class="node dot" data-node="{box.node}"><circle cx="{box.x:.1f}" cy="{box.y:.1f}" r="{DOT:g}" '
                         f'fill="{box.colour}"/></g>')  # fmt: skip
            continue
        parts.append(
            f'<g class="node" data-node="{box.node}" data-label="{escape(box.title)}" data-prob="{box.subtitle}">'
            f'<rect x="{left:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{BOX_HEIGHT}" rx="5" '
            f'fill="{box.colour}" stroke="#333" stroke-width="0.8"/>'
            f'<text x="{box.x:.1f}" y="{box.y + 14:.1f}" font-size="11" text-anchor="middle">{escape(box.title)}</text>'
            f'<text x="{box.x:.1f}" y="{box.y + 28:.1f}" font-size="10" text-anchor="middle" fill="#222">{box.subtitle}</text></g>'
        )  # fmt: skip
    for x, y, word in layout.words:
        parts.append(f'<text class="word" x="{x:.1f}" y="{y:.1f}" font-size="13" text-anchor="middle">{escape(word)}</text>')
    for x, y, colour, name in layout.legend:
        parts.append(f'<g class="legend"><rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{colour}" stroke="#333" '
                     f'stroke-width="0.6"/><text x="{x + 16:.1f}" y="{y:.1f}" font-size="11">{escape(name)}</text></g>')  # fmt: skip
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def save_png(layout: Layout, path: str | Path, dpi: int = 110) -> None:
    """Draw the layout with matplotlib (Agg) into a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    from treeseq.files import atomic_path

    scale = 1 / dpi
    fig = plt.figure(figsize=(layout.width * scale, layout.height * scale), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, layout.width)
    ax.set_ylim(layout.height, 0)
    ax.axis("off")
    for x1, y1, x2, y2 in layout.edges:
        ax.plot([x1, x2], [y1, y2], color="#555", linewidth=1)
    for x, y, relation in layout.relations:
        ax.text(x, y - 4, relation, ha="center", va="center", fontsize=7, color="#1f4e79", parse_math=False,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})  # fmt: skip
    for x1, y1, x2, y2 in layout.ties:
        ax.plot([x1, x2], [y1, y2], color="#999", linewidth=0.8, linestyle=":")
    for box in layout.boxes:
        if box.dot:
            ax.add_patch(plt.Circle((box.x, box.y), DOT, color=box.colour))
            continue
        ax.add_patch(FancyBboxPatch((box.x - box.width / 2, box.y), box.width, BOX_HEIGHT, boxstyle="round,pad=0,rounding_size=5",
                                    facecolor=box.colour, edgecolor="#333", linewidth=0.8))  # fmt: skip
        ax.text(box.x, box.y + 11, box.title, ha="center", va="center", fontsize=8, parse_math=False)
        ax.text(box.x, box.y + 25, box.subtitle, ha="center", va="center", fontsize=7, parse_math=False)
    for x, y, word in layout.words:
        ax.text(x, y - 4, word, ha="center", va="center", fontsize=9.5, parse_math=False)  # user text, not mathematics
    for x, y, colour, name in layout.legend:
        ax.add_patch(FancyBboxPatch((x, y - 10), 12, 12, boxstyle="square,pad=0", facecolor=colour, edgecolor="#333", linewidth=0.6))
        ax.text(x + 16, y - 4, name, ha="left", va="center", fontsize=8, parse_math=False)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, facecolor="white", format="png")
    plt.close(fig)


def render_file(tree: Tree, classes: Sequence[str], predicted: Sequence[int], probs: Sequence[float], path: str | Path,
                dpi: int = 110) -> None:  # fmt: skip
    """Write a picture of the labelled tree; the format follows the suffix (.svg, or .png at `dpi`)."""
    from treeseq.files import write_text_atomic

    layout = layout_tree(tree, classes, predicted, probs)
    if str(path).lower().endswith(".png"):
        save_png(layout, path, dpi)
    else:
        write_text_atomic(to_svg(layout, " ".join(tree.tokens)), path)


def numbered_paths(path: str | Path, count: int) -> list[Path]:
    """`out.svg` for one picture; `out-1.svg`, `out-2.svg`, ... for several."""
    path = Path(path)
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(1, count + 1)]
