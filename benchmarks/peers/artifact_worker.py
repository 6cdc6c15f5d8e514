"""An artifact compiled beforehand, in a worker process of its own: ``sparsec.runtime.load`` and
a call on the spec's inputs (the dynamic-shape benchmark shares one artifact across shapes)."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from protocol import Call, serve


def load(spec: dict[str, Any], inputs: dict[str, np.ndarray]) -> tuple[Call, dict[str, Any]]:
    import sparsec
    from sparsec.runtime import load as load_artifact

    compiled = load_artifact(spec["artifact"], threads=spec["threads"])
    return (lambda: list(compiled(**inputs))), {"version": sparsec.__version__,
                                                 "sizes": compiled.sizes}


if __name__ == "__main__":
    sys.exit(serve(load))
