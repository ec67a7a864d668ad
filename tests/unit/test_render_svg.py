from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from treeseq.render_svg import class_colour, layout_parse, layout_tree, numbered_paths, render_file, to_svg
from treeseq.tasks.tree import SST_CLASSES
from treeseq.trees import Tree

SVG = "{http://www.w3.org/2000/svg}"


def _labelled(tree: Tree) -> tuple[list[int], list[float]]:
    return [n % 5 for n in range(len(tree))], [0.5 + 0.01 * n for n in range(len(tree))]


def test_svg_is_valid_with_one_labelled_group_per_node(tmp_path: Path) -> None:
    tree = Tree.from_brackets("(3 (2 The) (4 (2 film) (3 (2 is) (3 (2 not) (1 bad)))))")
    predicted, probs = _labelled(tree)
    path = tmp_path / "t.svg"
    render_file(tree, SST_CLASSES, predicted, probs, path)
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    nodes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    assert len(nodes) == len(tree)
    for group in nodes:
        node = int(group.get("data-node"))
        texts = [t.text for t in group.iter(f"{SVG}text")]
        assert texts[0] == SST_CLASSES[predicted[node]] and texts[1] == f"{probs[node]:.2f}"
        assert group.find(f"{SVG}rect").get("fill") == class_colour(predicted[node], 5)
    words = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "word"]
    assert words == list(tree.tokens)


def test_layout_places_parents_above_children_and_words_at_the_bottom() -> None:
    tree = Tree.from_brackets("(X (X a) (X (X b) (X (X c) (X <d&e>))))")
    layout = layout_tree(tree, ("neg", "pos"), [0] * len(tree), [1.0] * len(tree))
    boxes = {b.node: b for b in layout.boxes}
    for parent, kids in enumerate(tree.children):
        for kid in kids:
            assert boxes[parent].y < boxes[kid].y
    xs = [x for x, _, _ in layout.words]
    assert xs == sorted(xs) and all(y > max(b.y for b in layout.boxes) for _, y, _ in layout.words)
    ET.fromstring(to_svg(layout))  # escaped words keep it well-formed


def test_dependency_trees_and_deep_trees_render() -> None:
    dep = Tree.from_heads(["It", "is", "good"], [2, 0, 2])
    ET.fromstring(to_svg(layout_tree(dep, ("a", "b"), [0, 1, 1], [0.9, 0.8, 0.7])))
    deep = Tree.from_brackets("(X " * 1 + " ".join(f"(X w{i})" for i in range(3)) + ")").binarize()
    assert len(layout_tree(deep, ("a",), [0] * len(deep), [1.0] * len(deep)).boxes) == len(deep)


def test_dependency_arcs_are_labelled_with_their_relation() -> None:
    dep = Tree.from_heads(["It", "is", "<good>"], [2, 0, 2], ["nsubj", "ROOT", "a<comp"])
    root = ET.fromstring(to_svg(layout_tree(dep, ("a", "b"), [0, 1, 1], [0.9, 0.8, 0.7])))
    assert sorted(t.text for t in root.iter(f"{SVG}text") if t.get("class") == "relation") == ["a<comp", "nsubj"]  # not the root's
    unlabelled = Tree.from_heads(["It", "is", "good"], [2, 0, 2])
    assert layout_tree(unlabelled, ("a",), [0] * 3, [1.0] * 3).relations == []
    constituency = Tree.from_brackets("(S (NP It) (VP is))")
    assert layout_tree(constituency, ("a",), [0] * 3, [1.0] * 3).relations == []  # phrase labels are not relations


def test_an_unlabelled_parse_draws_dots_without_boxes() -> None:
    tree = Tree.from_brackets("(X (X a) (X (X b) (X <c>)))")
    root = ET.fromstring(to_svg(layout_parse(tree)))
    nodes = [g for g in root.iter(f"{SVG}g") if "node" in g.get("class", "").split()]
    assert len(nodes) == len(tree) and all(g.find(f"{SVG}circle") is not None and g.find(f"{SVG}rect") is None for g in nodes)
    assert [t.text for t in root.iter(f"{SVG}text")] == ["a", "b", "<c>"]  # the words only: no label, no probability
    layout = layout_parse(tree)
    boxes = {b.node: b for b in layout.boxes}
    assert all((boxes[p].x, boxes[p].y, boxes[c].x, boxes[c].y) in layout.edges for p, kids in enumerate(tree.children) for c in kids)


def test_numbered_paths() -> None:
    assert numbered_paths("out.svg", 1) == [Path("out.svg")]
    assert numbered_paths("d/out.png", 2) == [Path("d/out-1.png"), Path("d/out-2.png")]


def test_png_via_matplotlib(tmp_path: Path) -> None:
    tree = Tree.from_brackets("(X (X good) (X film))")
    render_file(tree, ("neg", "pos"), [1, 1, 1], [0.9, 0.8, 0.7], tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _crosses(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Whether two segments cross at a point inside both (touching at an end does not count)."""
    (x1, y1, x2, y2), (x3, y3, x4, y4) = a, b
    denominator = (x1 - x2) * (y3 - y4) - (y1 - y2) * (x3 - x4)
    if abs(denominator) < 1e-9:
        return False
    t = ((x1 - x3) * (y3 - y4) - (y1 - y3) * (x3 - x4)) / denominator
    u = -((x1 - x2) * (y1 - y3) - (y1 - y2) * (x1 - x3)) / denominator
    return 1e-6 < t < 1 - 1e-6 and 1e-6 < u < 1 - 1e-6


def test_no_two_lines_of_a_picture_cross_on_random_trees() -> None:
    import random

    rng = random.Random(11)
    for _ in range(30):
        tokens = [f"w{i}" * rng.randint(1, 3) for i in range(rng.randint(2, 40))]
        nodes = [f"(X {t})" for t in tokens]
        while len(nodes) > 1:  # join random neighbours: a random binary constituency tree
            at = rng.randrange(len(nodes) - 1)
            nodes[at : at + 2] = [f"(X {nodes[at]} {nodes[at + 1]})"]
        tree = Tree.from_brackets(nodes[0])
        layout = layout_tree(tree, SST_CLASSES, [2] * len(tree), [0.5] * len(tree))
        lines = layout.edges + layout.ties
        assert not [(a, b) for i, a in enumerate(lines) for b in lines[i + 1 :] if _crosses(a, b)]
        assert [name for _, _, _, name in layout.legend] == list(SST_CLASSES)
