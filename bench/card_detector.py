"""Measure the card-number detector (D-37): honest identifiers refused, test cards found.

    python bench/card_detector.py [--count 1000000] [--seed 1]

False positives: `--count` random values of each honest kind (UUIDv4, hex ids of 24 and 32
characters, order numbers in common shapes, 19-digit snowflake ids of 2024-2026, and 16-character
hex ids, which are all digits one time in ~1,900 and then indistinguishable from a card number),
each as a metadata value would carry it. Recall: every Stripe test card number, written bare,
grouped by spaces and by dashes, inside a sentence, and as a parameter name. Not a test: prints
a table.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_impl.cards import contains_card_number, find_card_number

# Stripe's published test card numbers (docs.stripe.com/testing), brands and special cases.
TEST_CARDS = (
    "4242424242424242", "4000056655665556", "5555555555554444", "2223003122003222", "5200828282828210",
    "5105105105105100", "378282246310005", "371449635398431", "6011111111111117", "6011000990139424",
    "6011981111111113", "3056930009020004", "36227206271667", "6555900000604105", "3566002020360505",
    "6200000000000005", "6200000000000047", "6205500000000000004", "4012888888881881", "30569309025904",
    "38520000023237", "3530111333300000", "4000000000000077", "4000000000000093", "4000000000000010",
    "4000000000000028", "4000000000000036", "4000000000000044", "4000000000000101", "4000000000000341",
    "4000000000009235", "4000000000004954", "4100000000000019", "4000000000000002", "4000000000009995",
    "4000000000009987", "4000000000009979", "4000000000000069", "4000000000000127", "4000000000000119",
    "4000002500003155", "4000002760003184", "4000003800000446", "4000000000003220", "4000000000003063",
    "4000008400001629", "4000000000000259", "4000000000001976", "4000000000005423", "4000000000000184",
    "4000000760000002", "4000001240000000", "4000004840008001", "4000000400000008", "4000000560000004",
    "4000002080000001", "4000002460000001", "4000002500000003", "4000002760000016", "4000003720000005",
    "4000003800000008", "4000004420000006", "4000005280000002", "4000006200000007", "4000006430000009",
    "4000007240000007", "4000007520000008", "4000007560000009", "4000008260000000", "4000000360000006",
    "4000001560000002", "4000003440000004", "4000003920000003", "3530111333300000", "6205500000000000004",
)  # fmt: skip


# Milliseconds from the snowflake epoch (2010-11-04T01:42:54.657Z) to 2024-01-01 and to 2027-01-01.
_SNOWFLAKE_2024, _SNOWFLAKE_2027 = 1_704_067_200_000 - 1_288_834_974_657, 1_798_761_600_000 - 1_288_834_974_657


def _grouped(number: str, sep: str) -> str:
    sizes = {14: (4, 6, 4), 15: (4, 6, 5)}.get(len(number)) or tuple(
        [4] * (len(number) // 4) + ([len(number) % 4] if len(number) % 4 else [])
    )
    parts, at = [], 0
    for size in sizes:
        parts.append(number[at : at + size])
        at += size
    return sep.join(parts)


def honest_kinds(rng: random.Random) -> dict[str, Callable[[], str]]:
    def hexid(n: int) -> Callable[[], str]:
        return lambda: f"{rng.getrandbits(4 * n):0{n}x}"

    def order() -> str:
        shape = rng.randrange(6)
        if shape == 0:  # Amazon
            return f"{rng.randrange(100, 1000)}-{rng.randrange(10**6, 10**7)}-{rng.randrange(10**6, 10**7)}"
        if shape == 1:  # shop order number
            return f"#{rng.randrange(1000, 10**7)}"
        if shape == 2:  # dated
            return f"ORD-2026{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}-{rng.randrange(10**6):06d}"
        if shape == 3:  # eBay
            return f"{rng.randrange(10, 100)}-{rng.randrange(10**4, 10**5)}-{rng.randrange(10**4, 10**5)}"
        if shape == 4:  # zero-padded sequence
            return f"{rng.randrange(10**9):09d}"
        return f"INV-{rng.randrange(10**12):012d}"

    return {
        "UUIDv4": lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "hex id, 32 characters": hexid(32),
        "hex id, 24 characters (ObjectId)": hexid(24),
        "order number (6 common shapes)": order,
        "snowflake id, 2024-2026 (19 digits)": lambda: str(
            (rng.randrange(_SNOWFLAKE_2024, _SNOWFLAKE_2027) << 22) | rng.getrandbits(22)
        ),
        "hex id, 16 characters": hexid(16),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    print(f"False positives: {args.count:,} random values of each kind, as a metadata value")
    for kind, make in honest_kinds(rng).items():
        began = time.perf_counter()
        refused = [value for value in (make() for _ in range(args.count)) if contains_card_number(value)]
        took = time.perf_counter() - began
        example = f"  e.g. {refused[0]}" if refused else ""
        print(f"  {kind:<34} {len(refused):>6} refused ({len(refused) / args.count:.6%}){example}  [{took:.1f} s]")
    forms: dict[str, Callable[[str], str]] = {
        "bare": lambda n: n,
        "grouped with spaces": lambda n: _grouped(n, " "),
        "grouped with dashes": lambda n: _grouped(n, "-"),
        "in a sentence": lambda n: f"my card is {_grouped(n, ' ')}, exp 12/34",
        "after a colon": lambda n: f"card:{n}",
    }
    cards = sorted(set(TEST_CARDS))
    print(f"Recall: {len(cards)} Stripe test card numbers")
    for form, write in forms.items():
        found = sum(contains_card_number(write(n)) for n in cards)
        missed = [n for n in cards if not contains_card_number(write(n))]
        print(f"  {form:<34} {found:>3}/{len(cards)} found{'  missed ' + ', '.join(missed[:3]) if missed else ''}")
    as_name = sum(find_card_number({"metadata": {n: "x"}}) is not None for n in cards)
    print(f"  {'as a metadata key':<34} {as_name:>3}/{len(cards)} found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
