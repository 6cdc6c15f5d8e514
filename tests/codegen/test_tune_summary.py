"""The one-line summary `sparsec compile --tune` prints says what tuning did, in words."""

from __future__ import annotations

from sparsec.codegen.tune import MIN_TUNED_WORK, KernelTiming, TuneReport


def test_summary_counts_searched_reused_and_faster_kernels():
    report = TuneReport("tuning", 64, (
        KernelTiming("take", generic_seconds=4e-6, best_seconds=1e-6, tuned_now=True),
        KernelTiming("logical_and", generic_seconds=2e-6, best_seconds=2e-6, tuned_now=True),
        KernelTiming("fused_reshape", generic_seconds=3e-6, best_seconds=2e-6, tuned_now=False),
    ))
    assert report.summary() == (
        "tuning: 3 generically scheduled kernels, 2 searched now (64 meta_schedule trials "
        "each) and 1 from the database in 'tuning'; 2 run a tuned schedule, 1 keep the "
        "generated one; together 5.0 us instead of 9.0 us")
    assert not report.summary().endswith("database tuning")  # the path reads as a word


def test_summary_without_tunable_kernels():
    assert TuneReport("db", 8, ()).summary() == (
        f"tuning: no generically scheduled kernel has {MIN_TUNED_WORK} elements or more; "
        "nothing to tune")
