"""Personal data and secrets: Presidio's pattern recognizers (phone numbers through `phonenumbers`) on a
blank spaCy pipeline, and detect-secrets' key and token detectors."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from bot.triage.hits import Check, Hit, Level, mask
from bot.triage.imports import without
from bot.triage.texts import SOURCE_ORIGINS, Origin, Text

# Presidio entity -> what to call it. National identifiers only where Presidio checks a checksum or a
# strict format, so a number in a maths question is not taken for one.
ENTITIES = {
    "EMAIL_ADDRESS": "an e-mail address",
    "PHONE_NUMBER": "a phone number",
    "STREET_ADDRESS": "a postal address",
    "CREDIT_CARD": "a payment card number",
    "IBAN_CODE": "an IBAN",
    "IP_ADDRESS": "an IP address",
    "US_SSN": "a US social security number",
    "UK_NINO": "a UK national insurance number",
    "IN_AADHAAR": "an Aadhaar number",
    "IT_FISCAL_CODE": "an Italian fiscal code",
    "ES_NIF": "a Spanish NIF",
    "PL_PESEL": "a PESEL number",
}
# Each region is one more pass of phonenumbers' matcher over the text (most of the time taken); numbers
# written with a +country code are found whatever the region.
PHONE_REGIONS = ("US", "GB")
PHONE_LENIENCY = 2  # phonenumbers' STRICT_GROUPING: digits grouped as the country writes them, not any run
# The fewest digits a value of each entity has (e-mail, street and IP addresses are told apart otherwise).
_DIGITS_NEEDED = {"EMAIL_ADDRESS": 0, "PHONE_NUMBER": 7, "STREET_ADDRESS": 1, "CREDIT_CARD": 12, "IBAN_CODE": 10,
                  "IP_ADDRESS": 4, "US_SSN": 9, "UK_NINO": 6, "IN_AADHAAR": 12, "IT_FISCAL_CODE": 7, "ES_NIF": 8,
                  "PL_PESEL": 11}  # fmt: skip
MIN_SCORE = 0.4  # Presidio's score for a number phonenumbers calls valid; e-mail and cards score 1.0

# Presidio has no street-address recognizer: a house number, up to three capitalised words and a street
# suffix, optionally an apartment or suite (case matters: "2 decimal places" is no address).
_STREET = (
    r"\b\d{1,5}(?:\s+[A-Z][a-z]+){1,3}\s+"
    r"(?:Street|St\.|Avenue|Ave\.?|Road|Rd\.|Boulevard|Blvd\.?|Lane|Ln\.|Drive|Dr\.|Court|Ct\.|Terrace|Place)"
    r"(?:,?\s+(?:Apt\.?|Suite|Unit)\s*\d+)?"
)
_STREET_RE = re.compile(_STREET)
_IP_HINT = re.compile(r"\d\.\d{1,3}\.\d|[0-9A-Fa-f]:[0-9A-Fa-f]{0,4}:")  # 1.2.3.4, or IPv6's a:b: / a::
# Seven digits or more with no more than a few of a phone number's separators between them: "(415) 382-1947",
# "+44 20 7946 0958". phonenumbers' matcher (most of Presidio's time) runs only on a text that has one.
_DIGIT = re.compile(r"\d")
_PHONE_HINT = re.compile(r"\d(?:[\s().\-/]{0,3}\d){6}")

# detect-secrets' detectors of keys with a known shape, and of `password = "..."` style assignments.
# The entropy detectors are left out: a document's 40-hex commit and base64 in a context are not secrets.
SECRET_PLUGINS = (
    "AWSKeyDetector", "ArtifactoryDetector", "AzureStorageKeyDetector", "BasicAuthDetector",
    "DiscordBotTokenDetector", "GitHubTokenDetector", "GitLabTokenDetector", "JwtTokenDetector",
    "KeywordDetector", "MailchimpDetector", "NpmDetector", "OpenAIDetector", "PrivateKeyDetector",
    "PypiTokenDetector", "SendGridDetector", "SlackDetector", "SquareOAuthDetector", "StripeDetector",
    "TelegramBotTokenDetector", "TwilioKeyDetector",
)  # fmt: skip


def _import_presidio() -> Any:
    """presidio_analyzer, without the torch and transformers it would import for engines never used here."""
    with without("torch", "transformers"):
        import presidio_analyzer
        import presidio_analyzer.nlp_engine
        import presidio_analyzer.predefined_recognizers
    return presidio_analyzer


# scan_line re-reads detect-secrets' filters for every line; a line with no long token and no secret-like
# word holds nothing its detectors (all above: keys of 16+ characters, or `password = ...`) look for.
_MAYBE_SECRET = re.compile(r"\S{16,}|pass|pwd|secret|key|token|auth|cred|BEGIN", re.IGNORECASE)


@functools.cache
def analyzer() -> Any:
    """Presidio's AnalyzerEngine with pattern recognizers only, on a blank English pipeline: no model to load."""
    presidio = _import_presidio()
    import spacy
    import tldextract

    AnalyzerEngine, Pattern, PatternRecognizer = presidio.AnalyzerEngine, presidio.Pattern, presidio.PatternRecognizer
    RecognizerRegistry, known = presidio.RecognizerRegistry, presidio.predefined_recognizers
    SpacyNlpEngine = presidio.nlp_engine.SpacyNlpEngine

    class BlankEnglish(SpacyNlpEngine):  # type: ignore[misc]
        """The engine Presidio requires, with no named-entity model (none is installed, none is downloaded)."""

        def __init__(self) -> None:
            super().__init__(models=[{"lang_code": "en", "model_name": "blank:en"}])

        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

    # tldextract's default fetches the public suffix list and caches it in the home folder: use its snapshot.
    offline_suffixes = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)

    class OfflineEmail(known.EmailRecognizer):  # type: ignore[misc]
        def validate_result(self, pattern_text: str) -> bool:
            return offline_suffixes(pattern_text).fqdn != ""

    street = PatternRecognizer(
        supported_entity="STREET_ADDRESS",
        patterns=[Pattern("street address", _STREET, 0.5)],
        global_regex_flags=re.MULTILINE,  # Presidio's default ignores case: "2 decimal places" is no street
    )
    recognizers = [
        OfflineEmail(),
        known.PhoneRecognizer(supported_regions=PHONE_REGIONS, leniency=PHONE_LENIENCY),
        street,
        known.CreditCardRecognizer(),
        known.IbanRecognizer(),
        known.IpRecognizer(),
        known.UsSsnRecognizer(),
        known.UkNinoRecognizer(),
        known.InAadhaarRecognizer(),
        known.ItFiscalCodeRecognizer(supported_language="en"),
        known.EsNifRecognizer(supported_language="en"),
        known.PlPeselRecognizer(supported_language="en"),
    ]
    nlp = BlankEnglish()
    nlp.load()
    return AnalyzerEngine(nlp_engine=nlp, registry=RecognizerRegistry(recognizers=recognizers),
                          supported_languages=["en"])  # fmt: skip


def _possible(text: str) -> tuple[str, ...]:
    """The entities the text has the digits (or the @, a street, a phone-like run) for: a text with none is
    not analysed, only those recognizers run on the others, and a leaf with none never loads Presidio."""
    digits = len(_DIGIT.findall(text))
    possible = {"EMAIL_ADDRESS": "@" in text, "STREET_ADDRESS": _STREET_RE.search(text) is not None,
                "IP_ADDRESS": _IP_HINT.search(text) is not None,
                "PHONE_NUMBER": _PHONE_HINT.search(text) is not None}  # fmt: skip
    return tuple(e for e, need in _DIGITS_NEEDED.items() if possible.get(e, digits >= need))


@functools.cache
def _no_tokens(engine: Any) -> Any:
    """The NLP artifacts of an empty text, handed to every analysis. Presidio's context enhancer compares the
    lemmas of the words around a value with each recognizer's context words, and a blank pipeline has no
    lemmas, so tokenising each text (a quarter of the time on a whole tree) never changed a score."""
    return engine.nlp_engine.process_text("", "en")


@functools.lru_cache(maxsize=4096)
def _analyze(text: str, min_score: float) -> tuple[tuple[str, int, int, float], ...]:
    """(entity, start, end, score) of each value; cached, as sibling leaves often share one context."""
    entities = _possible(text)
    if not entities:
        return ()
    engine = analyzer()
    results = engine.analyze(text, language="en", entities=list(entities), score_threshold=min_score,
                             nlp_artifacts=_no_tokens(engine))  # fmt: skip
    return tuple((r.entity_type, r.start, r.end, r.score) for r in results)


def _made_of(piece: str, words: frozenset[str]) -> bool:
    """Whether `piece` is a run of `words` (at most one of a single letter): `asmith` is `a` and `smith`."""

    @functools.cache
    def from_(start: int, singles: int) -> bool:
        if start == len(piece):
            return True
        for end in range(len(piece), start, -1):
            single = end - start == 1
            if piece[start:end] in words and singles + single <= 1 and from_(end, singles + single):
                return True
        return False

    return from_(0, 0)


_RESERVED = re.compile(r"(?:^|\.)(?:example\.(?:com|net|org)|[^.]+\.(?:example|test|invalid|localhost))$")
"""Domains kept for examples (RFC 2606): an address there reaches nobody."""


def built_from(value: str, question: str) -> bool:
    """Whether an answer's e-mail address is made up rather than someone's: at a domain kept for examples, or
    put together from the names and company of a question that shows how to make one (it holds the "@"
    itself: "then @ and the company with .com"). The address's top-level domain is not needed. An address
    whose parts the question only names ("How do I reach Jane Doe at Acme?") is not made up."""
    if "@" not in value:
        return False
    if _RESERVED.search(value.rsplit("@", 1)[1].lower()):
        return True
    if "@" not in question:
        return False
    words = frozenset(re.findall(r"[a-z]+|\d+", question.lower()))
    pieces = re.findall(r"[a-z]+|\d+", value.lower())
    if "." in value.rsplit("@", 1)[1]:
        pieces = pieces[:-1]
    return bool(pieces) and all(_made_of(piece, words) for piece in pieces)


def personal_data(texts: Iterable[Text], min_score: float = MIN_SCORE) -> list[Hit]:
    """Personal data in the texts, each value once, where it first appears.

    Where it came from sets how loud it is: in a context or attribution.txt (text pasted from a source,
    such as a company's published address in its report), in an answer that quotes the context, or in
    an answer that builds it from its question's data, it is a note; in the contributor's own questions
    and answers, a warning.
    """
    texts = list(texts)
    questions = {(t.path, t.seed): t.text for t in texts if t.origin is Origin.QUESTION}
    found: list[tuple[Text, str, int, float, str]] = []
    for text in texts:
        for entity, start, end, score in _analyze(text.text, min_score):
            value = text.text[start:end]
            if entity == "PHONE_NUMBER" and value.isdigit():
                continue  # a bare run of digits ("reverse the digits of 6735725342") is a number, not a phone
            found.append((text, entity, start, score, value))
    quoted = {value for text, *_, value in found if text.origin in SOURCE_ORIGINS}
    hits: dict[str, Hit] = {}
    for text, entity, start, score, value in found:
        if value in hits:
            continue
        if text.origin in SOURCE_ORIGINS:
            level, where = Level.NOTE, f"in the {text.origin}, text from a source"
        elif value in quoted:
            level, where = Level.NOTE, f"in the {text.origin}, quoting the context"
        elif text.origin is Origin.ANSWER and built_from(value, questions.get((text.path, text.seed), "")):
            level, where = Level.NOTE, "in the answer, made up from the question's data or at an example domain"
        else:
            level, where = Level.WARNING, f"in the {text.origin}"
        hits[value] = Hit(Check.PERSONAL_DATA, text.path, text.line_of(start), level,
                          f"{ENTITIES[entity]} `{mask(value)}` {where}", f"presidio {entity} {score:.2f}")  # fmt: skip
    return list(hits.values())


def secrets(texts: Iterable[Text]) -> list[Hit]:
    """API keys, tokens, private keys and passwords: a secret is never public, wherever it is."""
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import transient_settings

    hits = []
    with transient_settings({"plugins_used": [{"name": name} for name in SECRET_PLUGINS]}):
        for text in texts:
            offset = 0
            for line in text.text.split("\n"):
                start, offset = offset, offset + len(line) + 1
                if not _MAYBE_SECRET.search(line):
                    continue
                seen = set()
                for secret in scan_line(line):
                    if secret.secret_value in seen or not secret.secret_value:
                        continue
                    seen.add(secret.secret_value)
                    hits.append(Hit(Check.SECRET, text.path, text.line_of(start), Level.WARNING,
                                    f"{secret.type.lower()} `{mask(secret.secret_value)}` in the {text.origin}",
                                    "detect-secrets"))  # fmt: skip
    return hits
