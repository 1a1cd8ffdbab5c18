"""Mask secrets (keys, tokens, passwords, SAS signatures, private keys) in text before anyone sees it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["MARK", "redact", "redact_obj"]

MARK = "[REDACTED]"

# Every rule keeps the whole match except the named groups s1, s2, ... which are
# replaced by MARK. That keeps the key name, `sig=`, `Bearer `, `xoxb-` etc. visible
# so a reader can tell what kind of thing was masked.

# Skip values that are already masked (idempotence, and no "xoxb-[REDACTED]" ->
# "[REDACTED][REDACTED]"), placeholders and references that carry no secret, and
# PEM armour (the PEM rule already masked the body; the header is not secret).
_NOT_A_VALUE = (
    r"(?![^\s\"',;&]*\[REDACTED\])"
    r"(?!(?:true|false|null|none|nil|undefined)\b)"
    r"(?!\$\{|\$\(|(?-i:\$[A-Z_][A-Z0-9_]*\b)|\{\{|%\(|\*{3}|<|-----)"
)

# Key names whose value is a secret. Matched as the *end* of a key (the separator
# must follow), so AZURE_CLIENT_SECRET, SLACK_BOT_TOKEN, db_password, accessToken
# match while token_type, secretName, max_tokens, KeyId, partition_key do not.
_LABEL = r"""
    passw(?:or)?d | passphrase | secret | token | signature | authorization
  | api[_-]?key
  | (?:access|account|storage|primary|secondary|private|master|endpoint|subscription
      |training|prediction|shared[_-]?access|signing|auth|client|function|secret)[_-]?key
  | (?<![A-Za-z0-9])pwd(?!=/)        # not OLDPWD=, nor the shell's PWD=/some/dir
  | (?<![A-Za-z0-9])key[12]          # az cognitiveservices account keys list
  | (?<![A-Za-z0-9])sig              # SAS signature; sv= se= sp= stay readable
  | (?<=[?&])code                    # Azure Functions key / OAuth code in a query string
"""

# Auth scheme words kept in front of the masked value. Possessive (?+) so that on a
# second pass "Bearer [REDACTED]" is not re-read as value "Bearer".
_SCHEME = r"(?:(?:bearer|basic|token|sharedkey(?:lite)?|sharedaccesssignature|aws4-hmac-sha256|digest|negotiate)[ \t]+)?+"

_VALUE = rf"""
    (?: \\?"{_NOT_A_VALUE}(?P<s1>(?:[^"\\\r\n]|\\[^"\r\n])+)   # "v" or \"v\" (JSON inside a string)
      | '{_NOT_A_VALUE}(?P<s2>[^'\r\n]+)                       # 'v' (Python repr, shell)
      | {_NOT_A_VALUE}(?P<s3>[^\s"'`,;&(){{}}\[\]<>\\]+)      # bare: stops at the next field
    )
"""


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags | re.VERBOSE)


# (pattern, gate): the rule runs only if one of the gate substrings occurs in the
# text (str `in` is far faster than a regex scan of a multi-MB log).
_RULES: list[tuple[re.Pattern[str], tuple[str, ...] | None]] = [
    # PEM private keys, terminated. The body never contains "-----", so an unrolled
    # loop finds the END line in linear time; DOTALL-free and multi-line safe.
    (
        _rx(r"-----BEGIN[ ][A-Z0-9 ]{0,30}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----"
            r"(?P<s1>[^-]*(?:-(?!----)[^-]*)*)"
            r"-----END[ ][A-Z0-9 ]{0,30}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----"),
        ("PRIVATE KEY",),
    ),
    # PEM private key cut off before its END line (truncated log): mask the base64
    # lines and PEM headers that follow, whether newlines are real or escaped "\n".
    (
        _rx(r"-----BEGIN[ ][A-Z0-9 ]{0,30}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----"
            r"(?P<s1>(?:(?:\s|\\[rn])+"
            r"(?:[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9+/]{1,15}={1,2}|(?:Proc-Type|DEK-Info|Comment|Version):[^\r\n\\]*)"
            r"(?![A-Za-z0-9+/=]))+)"),
        ("PRIVATE KEY",),
    ),
    # JWTs (Entra ID access/id tokens, Azure ML token auth) anywhere.
    (
        _rx(r"(?<![A-Za-z0-9_-])(?P<s1>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"),
        ("eyJ",),
    ),
    # Slack tokens: bot/user/app/refresh/config tokens; keep the type prefix.
    (
        _rx(r"\b(?:xox[a-z]|xapp)-(?P<s1>[A-Za-z0-9-]{8,})"),
        ("xox", "xapp-"),
    ),
    # Slack incoming-webhook / workflow URLs: the path is the credential.
    (
        _rx(r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s1>[A-Za-z0-9/_-]+)"),
        ("hooks.slack.com",),
    ),
    # GitHub personal/OAuth/app tokens.
    (
        _rx(r"\b(?:gh[pousr]_(?P<s1>[A-Za-z0-9]{30,})|github_pat_(?P<s2>[A-Za-z0-9_]{22,}))"),
        ("gh", "github_pat_"),
    ),
    # AWS access key IDs (long-term AKIA, temporary ASIA). Only the 40-char secret
    # right after one (credentials CSV "id,secret", "id:secret") is taken unlabelled:
    # alone, 40 chars of base64 look like a git SHA or any other hash.
    (
        _rx(r"\b(?:AKIA|ASIA)(?P<s1>[A-Z0-9]{16})\b"
            r"(?:(?:[ \t]*[,:|][ \t]*|[ \t]+)(?P<s2>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=]))?"),
        ("AKIA", "ASIA"),
    ),
    # Entra ID (Azure AD) client secrets: 3 chars, a digit, "Q~", then 31-34 chars.
    (
        _rx(r"(?<![A-Za-z0-9_~.+/=-])(?P<s1>[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34})(?![A-Za-z0-9_~.+/=-])"),
        ("Q~",),
    ),
    # Azure "common annotated security keys" (new Cognitive Services / Custom Vision /
    # Azure ML keys, 84 chars with the fixed JQQJ9x signature), labelled or not.
    (
        _rx(r"(?<![A-Za-z0-9])(?P<s1>[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9]{26}(?:[A-Za-z0-9]{2}==)?)(?![A-Za-z0-9])"),
        ("JQQJ9",),
    ),
    # Azure storage account keys: 64 random bytes in base64 = 86 chars + "==".
    # The "-" in the lookbehind spares npm-style "sha512-<base64>" digests.
    (
        _rx(r"(?<![A-Za-z0-9+/=-])(?P<s1>[A-Za-z0-9+/]{86}==)(?![A-Za-z0-9+/=])"),
        ("==",),
    ),
    # Bare "Bearer <token>" outside a labelled header. Needs 16+ token chars with a
    # digit (or 24+) so prose like "Bearer authentication failed" is left alone.
    (
        _rx(r"(?i)\bbearer[ \t]+(?P<s1>(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{16,}|[A-Za-z0-9._~+/=-]{24,})"),
        None,
    ),
    # Passwords in URLs: scheme://user:password@host (password may itself hold "@").
    (
        _rx(r"://[^\s/?#:@\"'<>]*:(?![^\s/?#@]*\[REDACTED\])"
            r"(?P<s1>[^\s/?#@\"'<>]+(?:@[^\s/?#@\"'<>]+)*)@"),
        ("://",),
    ),
    # Connection-string passwords may contain spaces; ";" ends the field.
    (
        _rx(rf"(?i)(?<=;)[ \t]*(?:password|pwd)[ \t]*=[ \t]*{_NOT_A_VALUE}(?P<s1>[^;\r\n\"']+)"),
        (";",),
    ),
    # Command-line flags: --client-secret X, --password=X, --account-key X, --sas-token X.
    (
        _rx(rf"(?i)(?<![\w-])--[a-z0-9-]*?(?:{_LABEL})(?:=|[ \t]+){_VALUE}"),
        ("--",),
    ),
    # Everything labelled: k=v, k: v, "k": "v", 'k': 'v', k => v, headers, env vars,
    # ini files, query strings, connection strings (AccountKey=, SharedAccessKey=).
    (
        _rx(rf"(?i)(?:{_LABEL})(?:\\?[\"'])?[ \t]*(?:=>|[:=])[ \t]*{_SCHEME}{_VALUE}"),
        ("=", ":"),
    ),
]

# Whole-key check for redact_obj: a dict key that *is* a secret name, e.g.
# {"primaryKey": "..."} parsed from `az ml online-endpoint get-credentials`.
_SECRET_KEY = _rx(rf"(?i)[A-Za-z0-9_.-]*?(?:{_LABEL})")


def _secret_groups(pattern: re.Pattern[str]) -> tuple[int, ...]:
    return tuple(i for name, i in sorted(pattern.groupindex.items()) if re.fullmatch(r"s\d+", name))


def _make_sub(pattern: re.Pattern[str]) -> Callable[[str], str]:
    groups = _secret_groups(pattern)

    def mask(m: re.Match[str]) -> str:
        whole, base = m.group(0), m.start()
        spans = sorted(m.span(g) for g in groups if m.start(g) >= 0)
        out, pos = [], 0
        for start, end in spans:
            out.append(whole[pos : start - base])
            out.append(MARK)
            pos = end - base
        out.append(whole[pos:])
        return "".join(out)

    return lambda text: pattern.sub(mask, text)


_SUBS: list[tuple[Callable[[str], str], tuple[str, ...] | None]] = [(_make_sub(p), gate) for p, gate in _RULES]


def redact(text: str) -> str:
    """Return `text` with every secret value replaced by [REDACTED]; other text is unchanged."""
    if not text:
        return text
    for sub, gate in _SUBS:
        if gate is None or any(g in text for g in gate):
            text = sub(text)
    return text


_VALUE_OK = re.compile(_NOT_A_VALUE, re.IGNORECASE)


def _mask_value(value: str) -> str:
    # A value under a secret-named key is masked whole, unless it is empty, a
    # placeholder, or already masked (same exclusions as the text rules).
    if not value.strip() or not _VALUE_OK.match(value):
        return value
    return MARK


def redact_obj(obj: Any) -> Any:
    """Return a copy of `obj` with every str inside dicts/lists/tuples/sets redacted; keys are kept."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(v, str) and isinstance(k, str) and _SECRET_KEY.fullmatch(k):
                out[k] = _mask_value(redact(v))
            else:
                out[k] = redact_obj(v)
        return out
    if isinstance(obj, list):
        return [redact_obj(v) for v in obj]
    if isinstance(obj, tuple):
        items = [redact_obj(v) for v in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)  # namedtuple
    if isinstance(obj, (set, frozenset)):
        return type(obj)(redact_obj(v) for v in obj)
    return obj
