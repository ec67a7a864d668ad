"""The library's error types: each message says where, what was found and what was expected."""

from __future__ import annotations


class TreeseqError(Exception):
    """Base of every error the library raises on bad input or bad state."""

    exit_code = 1


class ConfigError(TreeseqError):
    """A configuration value or option is invalid."""

    exit_code = 2


class CorpusFormatError(TreeseqError):
    """A data file is malformed; the message starts with `file:line:`."""

    exit_code = 2


class CheckpointError(TreeseqError):
    """A model archive or checkpoint cannot be read."""

    exit_code = 2


class ShapeError(TreeseqError):
    """A tensor reached a public entry point with the wrong shape."""


class DownloadError(TreeseqError):
    """A corpus download failed or did not match its checksum."""


class OutputError(TreeseqError):
    """A file could not be written (read-only folder, full disk); the message names the path and the cause."""
