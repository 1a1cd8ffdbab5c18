"""Mask secrets (keys, tokens, passwords, SAS signatures, private keys) in text before anyone sees it."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MARK", "redact", "redact_obj"]

MARK = "[REDACTED]"

# Every rule keeps its whole match except the named groups s1, s2, ..., which become
# MARK. So the key name, `sig=`, `Bearer `, `xoxb-`, `AKIA` stay visible and a reader
# can tell what kind of thing was masked.

# Values not to mask: already masked (idempotence, and "xoxb-[REDACTED]" must not turn
# into "[REDACTED][REDACTED]"), booleans/nulls, placeholders and variable references
# (${X}, {{ x }}, <x>, ***), and PEM armour (the PEM rules mask the body). The label
# rules run on lowercased text, hence "redacted" in both cases; a bare $ENV_VAR is
# recognised later, on the original text, because it needs its case.
_NOT_A_VALUE = (
    r"(?![^\s\"',;&]{0,40}\[(?:REDACTED|redacted)\])"  # bounded: lookaheads must not rescan a long line
    r"(?!(?:true|false|null|none|nil|undefined)\b)"
    r"(?!\$\{|\$\(|\{\{|%\(|\*{3}|<|-----)"
    r"(?!aadsts\d)"  # "Failed to acquire token: AADSTS7000215: ..." is the error, not a token
)
_ENV_REF = re.compile(r"\$[A-Z_][A-Z0-9_]*")

# Key names whose value is a secret, in lowercase. A label must *end* the key (the
# separator follows), so AZURE_CLIENT_SECRET, SLACK_BOT_TOKEN, db_password, accessToken,
# Training-Key match while token_type, secretName, max_tokens, KeyId, partition_key do
# not. Each branch starts at the final word and checks what precedes it with fixed-width
# lookbehinds: `re` tries alternatives one by one, so 10 words are much cheaper to try
# at every position than 30 "api_key", "access_key", ... spellings.
_KEY_PREFIXES = (
    "api", "access", "account", "storage", "primary", "secondary", "private", "master", "endpoint",
    "subscription", "training", "prediction", "sharedaccess", "shared_access", "shared-access",
    "signing", "auth", "client", "function", "secret",
)  # fmt: skip
_LABEL = rf"""
    passw(?:or)?d | passphrase | secret | token | authorization
  | signature(?<!sharedaccesssignature)  # a connection string's SAS: only its sig= is secret
  | key(?:{"|".join(f"(?<={p}{sep}key)" for p in _KEY_PREFIXES for sep in ("", "_", "-"))})
  | key[12](?<![a-z0-9]key.)         # az cognitiveservices account keys list
  | pwd(?<![a-z0-9]pwd)(?!=/)        # not OLDPWD=, nor the shell's PWD=/some/dir
  | sig(?<![a-z0-9]sig)              # SAS signature; sv= se= sp= stay readable
  | code(?<=[?&]code)                # Azure Functions key / OAuth code in a query string
"""

# Auth scheme words kept in front of the masked value. Possessive (?+) so that on a
# second pass "Bearer [REDACTED]" is not re-read with "Bearer" as the value.
_SCHEME = (
    r"(?P<scheme>(?:bearer|basic|token|sharedkey(?:lite)?|sharedaccesssignature|aws4-hmac-sha256"
    r"|digest|negotiate)[ \t]+)?+"
)


def _value(a: str, b: str, c: str, colon: str | None = None) -> str:
    """A field value; the named groups a/b/c capture it without its quotes.

    If the group `colon` matched (a "k: v" separator) and no auth scheme did, an unquoted
    value needs a digit: "Failed to get token: ManagedIdentityCredential unavailable" is
    prose, while real keys and tokens (random, 16+ chars) practically always have one.
    """
    needs_digit = rf"(?(scheme)|(?({colon})(?=[^\s\"'`,;&(){{}}\[\]<>\\]{{0,64}}[0-9])))" if colon else ""
    return rf"""
    (?: \\?"{_NOT_A_VALUE}(?P<{a}>(?:[^"\\\r\n]|\\[^"\r\n])+)   # "v", or \"v\" (JSON in a string)
      | '{_NOT_A_VALUE}(?P<{b}>[^'\r\n]+)                        # 'v' (Python repr, shell)
      | {_NOT_A_VALUE}{needs_digit}(?P<{c}>[^\s"'`,;&(){{}}\[\]<>\\]+)   # bare: stops at the next field
    )
    """


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags | re.VERBOSE)


Anchors = tuple[str, ...]

# Shape rules: secrets recognisable by their form. anchors: substrings every match
# contains; a rule reads only the lines holding one (found with str.find, at C speed),
# so a multi-MB log costs a few substring scans, not a regex scan per rule.
# Only the PEM rules (first two) span lines; they read the whole text.
_SHAPE_RULES: list[tuple[re.Pattern[str], Anchors]] = [
    # PEM private keys, terminated. The body never contains "-----", so the unrolled
    # loop reaches the END line in linear time, across real or escaped newlines.
    (
        _rx(r"-----BEGIN[ ][A-Z0-9 ]{0,30}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----"
            r"(?P<s1>[^-]*+(?:-(?!----)[^-]*+)*+)"  # possessive: no backtracking if END is missing
            r"-----END[ ][A-Z0-9 ]{0,30}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----"),
        ("PRIVATE KEY",),
    ),
    # PEM private key cut off before its END line (truncated log): mask the base64
    # lines and PEM headers that follow it.
    (
        _rx(r"-----BEGIN[ ][A-Z0-9 ]{0,30}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----"
            r"(?P<s1>(?:(?:\s|\\[rn])+"
            r"(?:[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9+/]{1,15}={1,2}"
            r"|(?:Proc-Type|DEK-Info|Comment|Version):[^\r\n\\]*)"
            r"(?![A-Za-z0-9+/=]))+)"),
        ("PRIVATE KEY",),
    ),
    # JWTs (Entra ID access/id tokens, Azure ML token auth) anywhere.
    (
        _rx(r"(?<![A-Za-z0-9_-])(?P<s1>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"),
        ("eyJ",),
    ),
    # Slack tokens (bot, user, app, refresh, config ...); keep the type prefix.
    (
        _rx(r"\b(?:xox[a-z]|xapp)-(?P<s1>[A-Za-z0-9-]{8,})"),
        ("xox", "xapp-"),
    ),
    # Slack incoming-webhook / workflow URLs: the path is the credential.
    (
        _rx(r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s1>[A-Za-z0-9/_-]+)"),
        ("hooks.slack.com",),
    ),
    # GitHub personal / OAuth / app tokens.
    (
        _rx(r"\b(?:gh[pousr]_(?P<s1>[A-Za-z0-9]{30,})|github_pat_(?P<s2>[A-Za-z0-9_]{22,}))"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    # AWS access key IDs (long-term AKIA, temporary ASIA). A 40-char secret is taken
    # unlabelled only right after one ("id,secret" credentials CSV, "id:secret"):
    # on its own, 40 chars of base64 look like a git SHA or any other hash.
    (
        _rx(r"\b(?:AKIA|ASIA)(?P<s1>[A-Z0-9]{16})\b"
            r"(?:(?:[ \t]*[,:|][ \t]*|[ \t]+)(?P<s2>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=]))?"),
        ("AKIA", "ASIA"),
    ),
    # Entra ID (Azure AD) client secrets: 3 chars, a digit, "Q~", then 31-34 chars. "."
    # is a secret char, but one ending a sentence must not stop the match.
    (
        _rx(r"(?<![A-Za-z0-9_~.-])(?P<s1>[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34})"
            r"(?![A-Za-z0-9_~+/=-]|\.[A-Za-z0-9_~.-])"),
        ("Q~",),
    ),
    # Azure "common annotated security keys" (current Cognitive Services / Custom Vision /
    # Azure ML keys: 84 chars with the fixed JQQJ9x signature), labelled or not.
    (
        _rx(r"(?<![A-Za-z0-9])(?P<s1>[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9]{26}(?:[A-Za-z0-9]{2}==)?)"
            r"(?![A-Za-z0-9])"),
        ("JQQJ9",),
    ),
    # Azure storage account keys: 64 random bytes in base64 = 86 chars + "==".
    # The "-" in the lookbehind spares npm-style "sha512-<base64>" digests.
    (
        _rx(r"(?<![A-Za-z0-9+/-])(?P<s1>[A-Za-z0-9+/]{86}==)(?![A-Za-z0-9+/=])"),
        ("==",),
    ),
    # Bare "Bearer <token>" anywhere. Needs 16+ token chars with a digit (or 24+) so
    # prose like "Bearer authentication failed" is left alone.
    (
        _rx(r"(?i)\bbearer[ \t]+(?P<s1>(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{16,}"
            r"|[A-Za-z0-9._~+/=-]{24,})"),
        ("Bearer", "bearer", "BEARER"),
    ),
    # Upper-case env vars and settings named *_KEY (CUSTOM_VISION_KEY=..., "AZURE_OPENAI_KEY":
    # "..."). Lower-case *_key is too often a DB/S3/partition key to mask by name alone;
    # paths and ARNs (SSH_KEY=~/.ssh/id, KMS_KEY=arn:...) are not secrets.
    (
        _rx(r"(?<=[A-Z0-9])_KEY(?:[ \t]*=|\\?\"[ \t]*:)[ \t]*(?!arn:|/|~/|\./)"
            + _value("s1", "s2", "s3")),
        ("_KEY",),
    ),
    # Passwords in URLs: scheme://user:password@host (the password may itself hold "@").
    (
        _rx(r"://[^\s/?#:@\"'<>]*:(?![^\s/?#@]{0,40}\[REDACTED\])"
            r"(?P<s1>[^\s/?#@\"'<>]+(?:@[^\s/?#@\"'<>]+)*)@"),
        ("://",),
    ),
]

# Labelled secrets: a secret-named key and its value. They run, in this order (each sees
# what the one before masked), on the lowercased candidate lines: case-sensitive matching
# is several times faster in `re` than IGNORECASE. A match never spans lines.
_LABEL_RULES: list[tuple[re.Pattern[str], str]] = [
    # Connection-string passwords may contain spaces; ";" ends the field.
    (_rx(rf';[ \t]*(?:password|pwd)[ \t]*=[ \t]*{_NOT_A_VALUE}(?P<s1>[^;\r\n"\']+)'), ";"),
    # Command-line flags: --client-secret X, --password=X, --account-key X, --sas-token X.
    (_rx(rf"--(?<![\w-]--)[a-z0-9-]*?(?:{_LABEL})(?:=|[ \t]+){_value('s1', 's2', 's3')}"), "--"),
    # Everything else labelled: k=v, k: v, "k": "v", 'k': 'v', k => v, HTTP headers, env
    # vars, ini files, query strings, connection strings (AccountKey=, SharedAccessKey=).
    (
        _rx(rf"""(?:{_LABEL})(?:\\?["'])?[ \t]*(?:=>|=|(?P<colon>:))[ \t]*{_SCHEME}"""
            + _value("s1", "s2", "s3", "colon")),
        "",
    ),
]
# Fallback should lowercasing ever change a line's length (see _lower): match the
# original with IGNORECASE, slower but correct.
_LABEL_RULES_I = [re.compile(p.pattern, p.flags | re.IGNORECASE) for p, _ in _LABEL_RULES]

# Cheap prefilter: every label ends with one of these words, followed by a separator
# (or, for --flags, a space). Case-sensitive and lookaround-free, so `re` scans the
# lowercased text fast; the label rules then read only the lines it picked.
_WORDS = r"p(?:assw(?:or)?d|assphrase|wd)|s(?:ecret|ig(?:nature)?)|token|authorization|key[12]?|code"
_PREFILTER = re.compile(rf"(?:{_WORDS})(?:\\?[\"'])?[ \t]*(?:=>|[:=])")
_FLAG_PREFILTER = re.compile(rf"--[a-z0-9-]*?(?:{_WORDS})[ \t=]")

# redact_obj: a dict key that *is* a secret name, e.g. {"primaryKey": "..."} parsed
# from `az ml online-endpoint get-credentials`; its str value is masked whole.
_SECRET_KEY = _rx(rf"[A-Za-z0-9_.-]*?(?:{_LABEL})")
_VALUE_OK = re.compile(_NOT_A_VALUE)

Spans = list[tuple[int, int]]


def _secret_groups(pattern: re.Pattern[str]) -> tuple[int, ...]:
    return tuple(i for name, i in pattern.groupindex.items() if re.fullmatch(r"s\d+", name))


_SHAPE = [(p, _secret_groups(p), anchors) for p, anchors in _SHAPE_RULES]
_LABELS = [(p, pi, _secret_groups(p), need) for (p, need), pi in zip(_LABEL_RULES, _LABEL_RULES_I)]


def _masked(pattern: re.Pattern[str], text: str, groups: tuple[int, ...],
            haystack: str | None = None, spans: Spans | None = None) -> str:
    """Match `pattern` on `haystack` (default: `text`; else a same-length lowercase copy)
    within `spans` (default: all), and replace the secret groups' spans in `text` by MARK."""
    hay = text if haystack is None else haystack
    out, pos = [], 0
    for lo, hi in spans if spans is not None else [(0, len(hay))]:
        for m in pattern.finditer(hay, lo, hi):
            for g in groups:
                start, end = m.span(g)
                if start < 0 or _ENV_REF.fullmatch(text, start, end):  # $DB_PASSWORD is a reference
                    continue
                out += (text[pos:start], MARK)
                pos = end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def _line_of(text: str, pos: int) -> tuple[int, int]:
    end = text.find("\n", pos)
    return text.rfind("\n", 0, pos) + 1, len(text) if end < 0 else end


def _merged(spans: Spans, gap: int = 256) -> Spans:
    # Lines less than `gap` apart become one span: every rule is line-local, so reading a
    # few extra lines is harmless and cheaper than a Python round trip per line.
    out: Spans = []
    for lo, hi in sorted(spans):
        if out and lo - out[-1][1] <= gap:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


def _lines_with(text: str, needles: tuple[str, ...]) -> Spans:
    """Spans of the lines holding any of `needles`; one find per line, not per occurrence."""
    spans: Spans = []
    for needle in needles:
        i = text.find(needle)
        while i >= 0:
            spans.append(_line_of(text, i))
            i = text.find(needle, spans[-1][1])
    return _merged(spans)


def _label_lines(low: str) -> Spans:
    """Spans of the lines of `low` that may hold a labelled secret; one match per line."""
    spans: Spans = []
    for prefilter in (_PREFILTER, _FLAG_PREFILTER) if "--" in low else (_PREFILTER,):
        m = prefilter.search(low)
        while m:
            spans.append(_line_of(low, m.start()))
            m = prefilter.search(low, spans[-1][1])
    return _merged(spans)


def _lower(text: str) -> str | None:
    """`text` lowercased with offsets unchanged, or None if that is not possible."""
    low = text.lower()
    if len(low) != len(text):  # "İ" (U+0130) is the one char whose lowercase is two chars
        low = text.replace("\u0130", "I").lower()
    return low if len(low) == len(text) else None


def _redact_labels(lines: str) -> str:
    for rule, rule_i, groups, need in _LABELS:
        if need in lines:  # "" is in every text
            low = _lower(lines)
            lines = _masked(rule, lines, groups, haystack=low) if low is not None else _masked(rule_i, lines, groups)
    return lines


def redact(text: str) -> str:
    """Return `text` with every secret value replaced by [REDACTED]; other text is unchanged."""
    if not text:
        return text
    for pattern, groups, anchors in _SHAPE[:2]:  # PEM blocks span lines
        if anchors[0] in text:
            text = _masked(pattern, text, groups)
    for pattern, groups, anchors in _SHAPE[2:]:
        spans = _lines_with(text, anchors)
        if spans:
            text = _masked(pattern, text, groups, spans=spans)
    low = _lower(text)
    spans = _label_lines(low) if low is not None else [(0, len(text))]
    if not spans:
        return text
    out, pos = [], 0
    for start, end in spans:
        out += (text[pos:start], _redact_labels(text[start:end]))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _mask_value(value: str) -> str:
    # Same exclusions as the text rules: keep empty values, placeholders, masked values.
    if not value.strip() or not _VALUE_OK.match(value.lower()) or _ENV_REF.fullmatch(value):
        return value
    return MARK


def redact_obj(obj: Any) -> Any:
    """Return a copy of `obj` with every str in nested dicts/lists/tuples/sets redacted; keys are kept."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {
            k: _mask_value(redact(v))
            if isinstance(k, str) and isinstance(v, str) and _SECRET_KEY.fullmatch(k.lower())
            else redact_obj(v)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [redact_obj(v) for v in obj]
    if isinstance(obj, tuple):
        items = [redact_obj(v) for v in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)  # namedtuple
    if isinstance(obj, (set, frozenset)):
        return type(obj)(redact_obj(v) for v in obj)
    return obj
