"""Constituency parsing of raw text: span scores from a BiLSTM, chart (CKY) decoding, a reference decoder."""

from treeseq.parsing.chart import cky_chart, cky_decode, span_mask, spans_to_tree, tree_spans
from treeseq.parsing.model import SpanParser

__all__ = ["SpanParser", "cky_chart", "cky_decode", "span_mask", "spans_to_tree", "tree_spans"]
