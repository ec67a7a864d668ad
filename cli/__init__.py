"""The `treeseq` command line: thin Typer wrappers over the library."""
