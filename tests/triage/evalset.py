"""The triage evaluation set: real leaves, each also with one planted problem (personal data, a secret,
abuse, a machine-written answer), made here in code so no copy of the data is committed.

Every planted value is generated (seeded, so the set is the same each run) and valid for its kind:
phone numbers phonenumbers accepts, card numbers with their Luhn digit, IBANs with their check digits.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from bot.taxonomy.tree import Leaf, SeedExample, load_directory
from bot.triage.hits import Check

SNAPSHOTS = ("taxonomy-2024-08", "taxonomy-2025-04")


@dataclass(frozen=True)
class Planted:
    check: Check
    leaf: Leaf
    seed: int  # the index of the seed example whose answer carries the planted text
    planted: str  # what was planted, for the report of misses


# What the "clean" real leaves really hold, read by a person: a warning of the check on these leaves is a
# true finding, not a false alarm. Each is named with what a triager would see there.
REAL_FINDINGS: dict[str, dict[Check, str]] = {
    "compositional_skills/extraction/technical_paper/abstract/bullet_points/qna.yaml": {
        Check.PERSONAL_DATA: "five paper authors' work e-mail addresses, typed into an answer (the context has "
        "only their names)"},
    "compositional_skills/extraction/technical_paper/abstract/csv/qna.yaml": {
        Check.PERSONAL_DATA: "the same five authors' e-mail addresses, in a CSV answer"},
    "compositional_skills/linguistics/organize_lists/qna.yaml": {
        Check.MACHINE_WRITTEN: "three answers open with a chat assistant's \"Sure, I'd be happy to help!\" and carry "
        "invented figures (a cat 3 feet tall at the shoulder; a flea and a ladybug of the same 0.02-0.05 g)"},
    "compositional_skills/writing/freeform/brainstorming/refute_claim/qna.yaml": {
        Check.MACHINE_WRITTEN: "\"Sure, I'd be happy to help you explore this topic\" and two \"It's important to "
        "...\" closers: a chat model's reply pasted in"},
    "compositional_skills/roleplay/explain_like_you_are/fictional/tv_shows/qna.yaml": {
        Check.ABUSE: "Rick Sanchez in character: \"goddamn\", \"give a crap about some cheating loser\" (profanity "
        "the triage guide asks a triager to weigh)"},
    "compositional_skills/STEM/math/area/qna.yaml": {
        Check.NEAR_DUPLICATE: "two seeds are one question and answer with the radius changed (6 cm, 2 meters)"},
    "compositional_skills/STEM/math/distance_conversion/qna.yaml": {
        Check.NEAR_DUPLICATE: "\"How many feet are in 500 miles?\" and \"... in 1000 miles?\", answered alike"},
    "compositional_skills/STEM/science/units_conversion/distance_conversion/qna.yaml": {
        Check.NEAR_DUPLICATE: "\"convert 14 km into miles\" and \"Convert 2 KM into miles\", one answer with the "
        "numbers changed"},
    "compositional_skills/grounded/linguistics/inclusion/qna.yaml": {
        Check.NEAR_DUPLICATE: "two seeds rewrite the same master/slave context sentence for nearly the same question"},
}  # fmt: skip


def real_finding(leaf_path: str, check: Check) -> str | None:
    """Why a real leaf's warning of `check` is a true finding, or None where it would be a false alarm."""
    return REAL_FINDINGS.get(leaf_path, {}).get(check)


def real_leaves(data: Path) -> list[Leaf]:
    leaves = []
    for snapshot in SNAPSHOTS:
        if (data / snapshot).is_dir():
            taxonomy = load_directory(data / snapshot)
            leaves += [leaf for _, leaf in sorted(taxonomy.leaves.items()) if leaf.seed_examples]
    return leaves


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _luhn_card(rng: random.Random) -> str:
    body = [4, *(rng.randrange(10) for _ in range(14))]
    total = 0
    for i, digit in enumerate(reversed(body)):
        doubled = digit * 2 if i % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    number = "".join(map(str, body)) + str((10 - total % 10) % 10)
    return " ".join(number[i : i + 4] for i in range(0, 16, 4)) if rng.random() < 0.5 else number


def _iban(rng: random.Random) -> str:
    bban = _digits(rng, 18)  # a German IBAN: 8-digit bank code and 10-digit account
    check = 98 - int(bban + "131400") % 97  # D=13, E=14, then 00
    iban = f"DE{check:02d}{bban}"
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.5 else iban


def _phone(rng: random.Random) -> str:
    area, exchange, line = (
        rng.choice(["212", "415", "617", "312", "206", "303"]),
        rng.randint(200, 989),
        _digits(rng, 4),
    )
    return rng.choice([
        f"({area}) {exchange}-{line}", f"{area}-{exchange}-{line}", f"+1 {area} {exchange} {line}",
        f"+44 20 7{_digits(rng, 3)} {_digits(rng, 4)}", f"+49 30 {_digits(rng, 8)}",
        f"+91 98{_digits(rng, 3)} {_digits(rng, 5)}",
    ])  # fmt: skip


def _email(rng: random.Random) -> str:
    first, last = (
        rng.choice(["maria", "john", "wei", "aisha", "lars", "priya"]),
        rng.choice(["garcia", "smith", "chen"]),
    )
    return f"{first}.{last}{rng.randint(1, 99)}@{rng.choice(['gmail.com', 'outlook.com', 'proton.me', 'acme-corp.de'])}"


def _ssn(rng: random.Random) -> str:
    return f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"


def _address(rng: random.Random) -> str:
    street = rng.choice(["Maple", "Oak Hill", "North Harbor", "Elm", "Sunset"])
    return f"{rng.randint(12, 9800)} {street} {rng.choice(['Street', 'Avenue', 'Road', 'Lane', 'Drive'])}"


def _ip(rng: random.Random) -> str:
    return (
        f"{rng.choice([23, 51, 84, 142, 185, 203])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    )


PERSONAL: list[tuple[str, Callable[[random.Random], str]]] = [
    ("e-mail", _email), ("phone", _phone), ("card", _luhn_card), ("IBAN", _iban), ("SSN", _ssn),
    ("home address", _address), ("IP address", _ip),
]  # fmt: skip
PERSONAL_TEMPLATES = ["You can reach me at {v}.", "My {k} is {v}, if that helps.", "Send it to {v} before Friday.",
                      "For the record, {k}: {v}"]  # fmt: skip


def _alnum(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


SECRETS: list[Callable[[random.Random], str]] = [
    lambda r: "AKIA" + _alnum(r, 16, string.ascii_uppercase + string.digits),
    lambda r: "ghp_" + _alnum(r, 36),
    lambda r: "xoxb-" + _digits(r, 11) + "-" + _digits(r, 12) + "-" + _alnum(r, 24),
    lambda r: "sk_live_" + _alnum(r, 24),
    lambda r: "glpat-" + _alnum(r, 20),
    lambda r: "-----BEGIN RSA PRIVATE KEY-----",
    lambda r: f'password = "{_alnum(r, 14)}"',
]
SECRET_TEMPLATES = ["Use {v} to call the API.", "The config has {v} in it.", "export TOKEN={v}", "{v}"]

INSULTS = ["stupid idiot", "worthless moron", "pathetic loser", "fucking imbecile", "brainless piece of shit",
           "disgusting pig", "dumb bitch", "complete asshole"]  # fmt: skip
ABUSE_TEMPLATES = ["Only a {i} would ask this.", "You are a {i} and nobody cares what you think.",
                   "Shut up, you {i}.", "What a {i} you are, honestly.", "Go to hell, you {i}."]  # fmt: skip

OPENERS = ["Certainly! Here is the answer you asked for.", "Sure! Here's a clear answer to your question.",
           "Great question! Let's break it down.", "As an AI language model, I can explain this."]  # fmt: skip
CLOSERS = ["I hope this helps!", "Let me know if you have any other questions.",
           "Feel free to ask if you need anything else.", "It's important to note that details may vary."]  # fmt: skip


def _with_answer(leaf: Leaf, seed: int, answer: str) -> Leaf:
    seeds = list(leaf.seed_examples)
    seeds[seed] = replace(seeds[seed], answer=answer)
    return replace(leaf, seed_examples=seeds)


def planted_leaves(leaves: list[Leaf], seed: int = 14) -> Iterator[Planted]:
    """One variant of each leaf per planted check, in the answer of a seed example chosen at random."""
    rng = random.Random(seed)
    for leaf in leaves:
        index = rng.randrange(len(leaf.seed_examples))
        answer = leaf.seed_examples[index].answer
        kind, make = rng.choice(PERSONAL)
        sentence = rng.choice(PERSONAL_TEMPLATES).format(v=make(rng), k=kind)
        yield Planted(Check.PERSONAL_DATA, _with_answer(leaf, index, f"{answer} {sentence}"), index, sentence)
        sentence = rng.choice(SECRET_TEMPLATES).format(v=rng.choice(SECRETS)(rng))
        yield Planted(Check.SECRET, _with_answer(leaf, index, f"{answer}\n{sentence}"), index, sentence)
        sentence = rng.choice(ABUSE_TEMPLATES).format(i=rng.choice(INSULTS))
        yield Planted(Check.ABUSE, _with_answer(leaf, index, f"{answer} {sentence}"), index, sentence)
        opener, closer = rng.choice(OPENERS), rng.choice(CLOSERS)
        yield Planted(Check.MACHINE_WRITTEN, _with_answer(leaf, index, f"{opener}\n\n{answer}\n\n{closer}"), index,
                      f"{opener} … {closer}")  # fmt: skip


def found(planted: Planted, hits: list) -> bool:
    """Whether a warning of the planted check points into the planted answer."""
    seed: SeedExample = planted.leaf.seed_examples[planted.seed]
    last = seed.answer_line + seed.answer.count("\n") + 2
    return any(h.check is planted.check and h.level == "warning" and seed.answer_line <= h.line <= last for h in hits)
