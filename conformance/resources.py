"""Where the product's data lives: in an installed wheel, or in a checkout of the repository.

`spec/` and `cassettes/` sit at the top of the repository because they are data, not code.
The wheel carries them as `conformance/_data/{spec,cassettes}`; a checkout (or an editable
install) reads them in place. Everything that needs them asks here, so no other module guesses
paths.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["cassettes_dir", "spec_dir"]

_PACKAGE = Path(__file__).resolve().parent


def _locate(name: str) -> Path:
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"cannot find the {name}/ directory: looked in {installed} (installed wheel) and "
        f"{checkout} (repository checkout); reinstall spt-conformance"
    )


def spec_dir() -> Path:
    """The directory holding openapi.yaml, lifecycle.yaml, requirements.yaml and schemas/."""
    return _locate("spec")


def cassettes_dir() -> Path:
    """The directory of shipped recordings."""
    return _locate("cassettes")
