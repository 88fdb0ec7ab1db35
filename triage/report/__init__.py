"""Renderers: each takes a finished result and options and returns text; none measures."""
