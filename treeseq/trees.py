"""One tree type for constituency and dependency trees, with iterative readers and writers.

Every algorithm here is iterative: a 2,000-token right-branching tree needs no recursion limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Literal, Sequence

if TYPE_CHECKING:  # adapters import these lazily
    import nltk
    from spacy.tokens import Doc, Span

TreeKind = Literal["constituency", "dependency"]

_BRACKET_TOKEN = re.compile(r"\(|\)|[^ \t\n\r\f\v()]+")  # ASCII whitespace only: SST has a token with U+00A0


class BracketError(ValueError):
    """A bracketed string is malformed; `column` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class Tree:
    """A rooted tree over a sentence's tokens.

    Nodes are numbered in post-order: every child comes before its parent and the root is last.

    Attributes:
        tokens: the sentence's tokens.
        children: per node, the indices of its children, left to right.
        word: per node, the index of the token the node carries, or -1 (a phrase node of a
            constituency tree carries none; every node of a dependency tree carries its head word).
        labels: per node, its label as a string, or None where the node is unlabelled.
        kind: "constituency" or "dependency".
    """

    tokens: tuple[str, ...]
    children: tuple[tuple[int, ...], ...]
    word: tuple[int, ...]
    labels: tuple[str | None, ...]
    kind: TreeKind = "constituency"
    _spans: list[tuple[int, int]] = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(self.children)
        if n == 0:
            raise ValueError("a tree needs at least one node")
        if len(self.word) != n or len(self.labels) != n:
            raise ValueError("children, word and labels must have one entry per node")
        for node, kids in enumerate(self.children):
            if any(k >= node or k < 0 for k in kids):
                raise ValueError(f"node {node}: children must come before their parent (post-order)")

    # ---------------------------------------------------------------- basic views
    def __len__(self) -> int:
        return len(self.children)

    @property
    def root(self) -> int:
        return len(self.children) - 1

    def parents(self) -> list[int]:
        """Per node, its parent's index; -1 for the root."""
        parent = [-1] * len(self)
        for node, kids in enumerate(self.children):
            for kid in kids:
                parent[kid] = node
        return parent

    def heights(self) -> list[int]:
        """Per node, the length of the longest path down to a node with no children."""
        height = [0] * len(self)
        for node, kids in enumerate(self.children):
            if kids:
                height[node] = 1 + max(height[k] for k in kids)
        return height

    def spans(self) -> list[tuple[int, int]]:
        """Per node, the [start, end) token range its subtree covers."""
        if self._spans is None:
            spans: list[tuple[int, int]] = []
            for node, kids in enumerate(self.children):
                lo, hi = (self.word[node], self.word[node] + 1) if self.word[node] >= 0 else (10**9, -1)
                for kid in kids:
                    lo, hi = min(lo, spans[kid][0]), max(hi, spans[kid][1])
                spans.append((lo, hi))
            object.__setattr__(self, "_spans", spans)
        return list(self._spans)

    def preorder(self) -> Iterator[tuple[int, int]]:
        """Yield (node, depth) from the root down, children left to right."""
        stack = [(self.root, 0)]
        while stack:
            node, depth = stack.pop()
            yield node, depth
            stack.extend((kid, depth + 1) for kid in reversed(self.children[node]))

    def with_labels(self, labels: Sequence[str | None]) -> Tree:
        """The same tree with other labels."""
        return Tree(self.tokens, self.children, self.word, tuple(labels), self.kind)

    def is_binary(self) -> bool:
        """True when every node has no child (a word) or two children and no phrase node has a word."""
        return all(
            (len(k) == 0 and w >= 0) or (len(k) == 2 and w < 0) for k, w in zip(self.children, self.word)
        )

    # ---------------------------------------------------------------- constructors
    @classmethod
    def from_brackets(cls, text: str) -> Tree:
        """Read a PTB-style bracketed tree such as `(3 (2 The) (4 (3 good) (2 film)))`.

        A node whose only child is a word, `(2 film)`, is that word's leaf; a bare word among
        phrase children becomes an unlabelled leaf.

        Raises:
            BracketError: unbalanced brackets, a node with no tokens, text outside the tree.
        """
        builder = _Builder()
        stack: list[tuple[list, int]] = []  # open nodes: ([label, *items], column of '(')
        pending_label = False
        root = -1
        for match in _BRACKET_TOKEN.finditer(text):
            tok, col = match.group(), match.start() + 1
            if root >= 0:
                raise BracketError(f"text after the end of the tree: {tok!r}", col)
            if tok == "(":
                if pending_label:
                    raise BracketError("expected a label after '(' but found '('", col)
                stack.append(([None], col))
                pending_label = True
            elif tok == ")":
                if not stack:
                    raise BracketError("unbalanced brackets: ')' closes nothing", col)
                if pending_label:
                    raise BracketError("a node with no label and no tokens '()'", col)
                (label, *items), open_col = stack.pop()
                if not items:
                    raise BracketError(f"node '({label}' has no tokens", open_col)
                if len(items) == 1 and items[0] < 0:  # (label word): the word's own leaf
                    node = builder.leaf(-1 - items[0], label)
                else:
                    node = builder.phrase([builder.leaf(-1 - i, None) if i < 0 else i for i in items], label)
                if stack:
                    stack[-1][0].append(node)
                else:
                    root = node
            elif not stack:
                raise BracketError(f"word {tok!r} outside brackets", col)
            elif pending_label:
                stack[-1][0][0] = None if tok == "_" else tok  # `_` is how writers mark no label
                pending_label = False
            else:
                stack[-1][0].append(-1 - builder.token(tok))  # words are encoded as negatives
        if root < 0:
            if stack:
                raise BracketError(f"unbalanced brackets: {len(stack)} '(' not closed at end of line", stack[-1][1])
            raise BracketError("no tree on this line", 1)
        return builder.build(root)

    @classmethod
    def from_heads(
        cls, tokens: Sequence[str], heads: Sequence[int], labels: Sequence[str | None] | None = None
    ) -> Tree:
        """A dependency tree from 1-based head indices (0 marks the root), as in CoNLL-U.

        Node i of the input becomes the node carrying token i; nodes are renumbered in post-order.

        Raises:
            ValueError: not exactly one root, a head out of range, or a cycle.
        """
        n = len(tokens)
        if n == 0 or len(heads) != n:
            raise ValueError("a dependency tree needs one head per token and at least one token")
        dependents: list[list[int]] = [[] for _ in range(n)]
        roots = []
        for i, head in enumerate(heads):
            if head == 0:
                roots.append(i)
            elif 1 <= head <= n and head - 1 != i:
                dependents[head - 1].append(i)
            else:
                raise ValueError(f"token {i + 1}: head {head} is out of range 0..{n}")
        if len(roots) != 1:
            raise ValueError(f"expected exactly one root (head 0), found {len(roots)}")
        order = _postorder(roots[0], dependents)
        if len(order) != n:
            raise ValueError("the heads contain a cycle: some tokens are not reachable from the root")
        new_id = {old: new for new, old in enumerate(order)}
        label_of = list(labels) if labels is not None else [None] * n
        return cls(
            tokens=tuple(tokens),
            children=tuple(tuple(new_id[d] for d in dependents[old]) for old in order),
            word=tuple(order),
            labels=tuple(label_of[old] for old in order),
            kind="dependency",
        )

    @classmethod
    def from_spacy(cls, sent: Doc | Span) -> Tree:
        """A dependency tree from a parsed spaCy sentence (a Doc of one sentence, or a Span)."""
        start = sent[0].i
        heads = [0 if tok.head.i == tok.i else tok.head.i - start + 1 for tok in sent]
        return cls.from_heads([tok.text for tok in sent], heads, [tok.dep_ or None for tok in sent])

    @classmethod
    def from_nltk(cls, tree: nltk.Tree) -> Tree:
        """Convert an nltk.Tree (labels from `.label()`, preterminals become word leaves)."""
        return cls.from_brackets(_nltk_to_brackets(tree))

    # ---------------------------------------------------------------- writers
    def to_brackets(self, labels: Sequence[str | None] | None = None) -> str:
        """Write PTB-style brackets; unlabelled nodes are written with the label `_`."""
        labels = self.labels if labels is None else labels
        out: list[str] = []
        stack: list[tuple[str, int]] = [("node", self.root)]
        while stack:
            kind, item = stack.pop()
            if kind == "close":
                out.append(")")
            elif kind == "word":
                out.append(" " + _escape(self.tokens[item]))
            else:
                label = "_" if labels[item] is None else str(labels[item])
                out.append(f" ({label}")
                stack.append(("close", item))
                stack.extend(reversed(self._ordered_items(item)))
        return "".join(out).strip()

    def _ordered_items(self, node: int) -> list[tuple[str, int]]:
        """A node's words and child phrases in token order."""
        items: list[tuple[int, str, int]] = []
        spans = self.spans()
        if self.word[node] >= 0:
            items.append((self.word[node], "word", self.word[node]))
        items += [(spans[kid][0], "node", kid) for kid in self.children[node]]
        items.sort(key=lambda x: (x[0], x[1] == "node"))
        return [(kind, item) for _, kind, item in items]

    def to_nltk(self) -> nltk.Tree:
        """Convert to an nltk.Tree (preterminal per word, `_` for unlabelled nodes)."""
        import nltk

        built: dict[int, nltk.Tree] = {}
        for node in range(len(self)):
            label = "_" if self.labels[node] is None else str(self.labels[node])
            parts: list = []
            for kind, item in self._ordered_items(node):
                parts.append(self.tokens[item] if kind == "word" else built.pop(item))
            built[node] = nltk.Tree(label, parts)
        return built[self.root]

    def binarize(self) -> Tree:
        """A binary tree: unary chains collapsed (the top label kept), n-ary nodes right-factored.

        Nodes added by factoring are unlabelled. Only for constituency trees.
        """
        if self.kind != "constituency":
            raise ValueError("binarize() is for constituency trees")
        builder = _Builder()
        new_id: dict[int, int] = {}
        for node in range(len(self)):
            kids = [new_id[k] for k in self.children[node]]
            label = self.labels[node]
            if not kids:
                new_id[node] = builder.leaf(builder.token(self.tokens[self.word[node]]), label)
            elif len(kids) == 1:
                new_id[node] = builder.relabel(kids[0], label if label is not None else builder.labels[kids[0]])
            else:
                right = kids[-1]
                for left in reversed(kids[1:-1]):
                    right = builder.phrase([left, right], None)
                new_id[node] = builder.phrase([kids[0], right], label)
        return builder.build(new_id[self.root])


def _escape(token: str) -> str:
    """A token as bracket notation can hold it, so that every written tree reads back: brackets inside
    it written as the treebank writes them (`:(` becomes `:-LRB-`), ASCII whitespace inside it (a UD
    token such as `New York`) as no-break spaces, which bracket notation keeps within a token."""
    return re.sub(r"[ \t\n\r\f\v]", "\u00a0", token.replace("(", "-LRB-").replace(")", "-RRB-"))


def _postorder(root: int, children: list[list[int]]) -> list[int]:
    order: list[int] = []
    stack = [(root, False)]
    seen = 0
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        seen += 1
        if seen > len(children):
            break  # a cycle; the caller notices the short order
        stack.append((node, True))
        stack.extend((kid, False) for kid in reversed(children[node]))
    return order


def _nltk_to_brackets(tree: nltk.Tree) -> str:
    out: list[str] = []
    stack: list = [tree]
    while stack:
        item = stack.pop()
        if item is None:
            out.append(")")
        elif isinstance(item, str):
            out.append(" " + _escape(item))
        else:
            out.append(f" ({item.label()}")
            stack.append(None)
            stack.extend(reversed(list(item)))
    return "".join(out).strip()


class _Builder:
    """Collects nodes in creation order, then renumbers them in post-order from a root."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.children: list[list[int]] = []
        self.word: list[int] = []
        self.labels: list[str | None] = []

    def token(self, text: str) -> int:
        self.tokens.append(text)
        return len(self.tokens) - 1

    def leaf(self, token_index: int, label: str | None) -> int:
        self.children.append([])
        self.word.append(token_index)
        self.labels.append(label)
        return len(self.children) - 1

    def phrase(self, kids: list[int], label: str | None) -> int:
        self.children.append(list(kids))
        self.word.append(-1)
        self.labels.append(label)
        return len(self.children) - 1

    def relabel(self, node: int, label: str | None) -> int:
        self.labels[node] = label
        return node

    def build(self, root: int) -> Tree:
        order = _postorder(root, self.children)
        new_id = {old: new for new, old in enumerate(order)}
        return Tree(
            tokens=tuple(self.tokens),
            children=tuple(tuple(new_id[k] for k in self.children[old]) for old in order),
            word=tuple(self.word[old] for old in order),
            labels=tuple(self.labels[old] for old in order),
            kind="constituency",
        )
