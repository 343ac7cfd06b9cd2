"""Legal variants pass: the suite, run against the reference server with one variant as a stranger
(a target file, decisions INFO), reports nothing FAILED and nothing WARNING on the areas the
variant touches.

The fast slice of bench/variant_matrix.py (which runs the full suite, five seeds, against an
external process): one seed, the quick profile, in this process, on the requirements or areas
where the variant shows (`Variant.fast_selection`), for every variant.
"""

from __future__ import annotations

import pytest

from conformance.spec import default_spec
from harness.suite import run_against
from reference_impl import start
from reference_impl.variants import VARIANTS

SEED = 1


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_suite_passes_the_variant(variant: str) -> None:
    """A legal variant (reference_impl/variants.py) gets no FAILED and no WARNING verdict."""
    with start(variants=frozenset({variant}), sweep_interval=0.1, webhook_backoff=0.05) as server:
        run = run_against(
            server.target(), label=(variant,), only=VARIANTS[variant].fast_selection, seed=SEED, quick=True
        )
    broken = {rid: run.messages.get(rid, "") for rid in run.with_verdict("FAILED", "WARNING")}
    assert run.verdicts, run.output
    assert broken == {}, f"{variant}: {VARIANTS[variant].does}\n{run.output}"
    assert run.exit_code == 0, run.output


def test_variants_name_known_areas_and_requirements() -> None:
    catalogue = default_spec().catalogue
    assert len(VARIANTS) >= 30
    for name, variant in VARIANTS.items():
        assert variant.touches, name
        for selected in variant.fast_selection:
            assert selected in catalogue.areas or selected in catalogue, f"{name}: {selected}"
