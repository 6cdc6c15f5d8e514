"""`sparsec run` prints only what is true: inputs are checked before they are described."""

from __future__ import annotations

import numpy as np
from driver_helpers import SEQ_LEN, error_line, invoke


def test_refused_inputs_are_not_described_first(dense_artifact, tmp_path):
    np.savez(tmp_path / "in.npz", input_ids=np.ones((1, SEQ_LEN), dtype=np.int32))
    result = invoke("run", dense_artifact, "--inputs", tmp_path / "in.npz")
    line = error_line(result)
    assert line.startswith("error: input 'input_ids': expected dtype int64, got int32")
    assert result.stdout == ""  # not "input  input_ids: int64[1, 16] given"


def test_accepted_inputs_are_described(dense_artifact, tmp_path):
    np.savez(tmp_path / "in.npz", input_ids=np.ones((1, SEQ_LEN), dtype=np.int64))
    result = invoke("run", dense_artifact, "--inputs", tmp_path / "in.npz")
    assert result.exit_code == 0, result.output
    assert f"input  input_ids: int64[1, {SEQ_LEN}] given" in result.stdout.splitlines()
