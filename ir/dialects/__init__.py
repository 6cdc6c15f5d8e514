"""Dialects: one file each (builtin, func, sparsec)."""
