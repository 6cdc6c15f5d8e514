"""sparsec: an ahead-of-time compiler for sparse transformer inference on CPUs."""

__version__ = "0.1.0"
