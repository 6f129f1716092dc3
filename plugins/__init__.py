"""qdaconv's built-in format plugins, each registered through the `qdaconv` entry-point group."""
