"""Bounds on what IR text may ask for, so every input is parsed (or refused) fast.

The parser checks each limit where the text first exceeds it and reports a
``file:line:col`` diagnostic that names the limit. Without them, a mutated
dimension or a thousand-deep attribute reaches code that overflows int64,
exhausts Python's recursion limit, or allocates terabytes.
"""

from __future__ import annotations

# Open brackets ('(', '[', '{', '<') at once. Printing a nested attribute costs about four
# Python frames per level and a region level (two brackets) four more in the verifier and the
# printer, so 128 keeps the worst case near 520 frames: well inside the default limit of 1000,
# with room for the passes and the test runner that sit above the parser.
MAX_NESTING = 128

# Digits of an integer literal. Python refuses int <-> str conversions past 4300 decimal
# digits. A hex literal's value prints in decimal, so its cap is the most hex digits whose value
# still has at most MAX_LITERAL_DIGITS decimal ones (16^830 < 10^1000): whatever parses prints
# back, and parses again.
MAX_LITERAL_DIGITS = 1000
MAX_HEX_DIGITS = 830

# Bits of an integer type `iN`: MLIR's own maximum, 2^24 - 1.
MAX_INTEGER_WIDTH = (1 << 24) - 1

# A tensor dimension, and a tensor's element count, stay below 2^62: products and sums of a
# few of them still fit in int64 (what numpy, TVM and the generated code index with).
MAX_DIMENSION = (1 << 62) - 1
MAX_ELEMENTS = (1 << 62) - 1

# numpy (2.x) holds at most 64 dimensions; deeper tensors could be neither folded nor run.
MAX_RANK = 64

# Elements written out one by one in a dense<[...]> literal; bigger data belongs in a
# dense_resource blob. A splat (dense<1.0>) is never materialized, so only its byte size is
# bounded, by what a numpy view can address.
MAX_INLINE_ELEMENTS = 1 << 20
MAX_SPLAT_BYTES = (1 << 63) - 1

__all__ = [
    "MAX_DIMENSION",
    "MAX_ELEMENTS",
    "MAX_HEX_DIGITS",
    "MAX_INLINE_ELEMENTS",
    "MAX_INTEGER_WIDTH",
    "MAX_LITERAL_DIGITS",
    "MAX_NESTING",
    "MAX_RANK",
    "MAX_SPLAT_BYTES",
]
