"""Mask secrets (keys, tokens, passwords, SAS signatures, private keys) in text before anyone sees it."""

from __future__ import annotations

import re
import threading
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
    "signing", "auth", "client", "function", "functions", "secret",
)  # fmt: skip
_LABEL = rf"""
    (?P<pw>passw(?:or)?d | passphrase | パスワード | 暗証番号
      | pwd(?<![a-z0-9]pwd)(?!=/))     # not OLDPWD=, nor the shell's PWD=/some/dir
  | secret | token | authorization | シークレット | トークン | 秘密鍵
  | キー[12１２]?                      # キー：, 主キー：, アクセスキー =
  | auth(?<=["']auth)                # docker config.json: "auth": "base64(user:password)"
  | signature(?<!sharedaccesssignature)  # a connection string's SAS: only its sig= is secret
  | key(?:{"|".join(f"(?<={p}{sep}key)" for p in _KEY_PREFIXES for sep in ("", "_", "-"))})
  | key[12](?<![a-z0-9]key.)         # az cognitiveservices account keys list
  | sig(?:(?<![a-z0-9]sig)|(?<=u0026sig))    # SAS signature, also JSON-escaped; sv= se= sp= stay
  | code(?:(?<=[?&]code)|(?<=u0026code))     # Azure Functions key / OAuth code in a query string
"""

# Auth scheme words kept in front of the masked value. Possessive (?+) so that on a
# second pass "Bearer [REDACTED]" is not re-read with "Bearer" as the value.
_SCHEME = (
    r"(?P<scheme>(?:bearer|basic|token|sharedkey(?:lite)?|sharedaccesssignature|aws4-hmac-sha256"
    r"|digest|negotiate)[ \t]+)?+"
)


# A bare value: printable ASCII up to the next field. It stops at the first non-ASCII
# char, so the Japanese text around a key ("キー：abc123のプロジェクト ID …") keeps its
# IDs. "[" and "]" may occur inside (old Entra ID client secrets use them), not first.
# (?-i:…): under IGNORECASE the non-ASCII range would also exclude "k" and "s" (K, ſ).
_EXCLUDED = "\"'`,;&(){}[]<>\\"
_ASCII_VALUE = "".join(re.escape(chr(c)) for c in range(0x21, 0x7F) if chr(c) not in _EXCLUDED)
# Positive ASCII classes: a negated class with a range up to U+10FFFF costs ~10 ms to compile,
# once per rule. (?-i:…): under IGNORECASE "k" and "s" would also match K and ſ.
_BARE = rf"(?-i:[{_ASCII_VALUE}][{_ASCII_VALUE}\[\]]*)"
_BARE_CLASS = rf"(?-i:[{_ASCII_VALUE}])"


def _value(a: str, b: str, c: str, colon: str | None = None, unless: tuple[str, ...] = ("pw", "scheme")) -> str:
    """A field value; the named groups a/b/c capture it without its quotes.

    If the group `colon` matched (a "k: v" separator) and neither an auth scheme nor a
    password word (group `pw`) did, an unquoted value needs a digit: "Failed to get
    token: ManagedIdentityCredential unavailable" is prose, while real keys and tokens
    (random, 16+ chars) practically always have one. Passwords may be any word.
    """
    needs_digit = rf"(?({colon})(?={_BARE_CLASS}{{0,64}}[0-9]))" if colon else ""
    for group in unless if colon else ():
        needs_digit = rf"(?({group})|{needs_digit})"
    return rf"""
    (?: \\?"{_NOT_A_VALUE}(?P<{a}>(?:[^"\\\r\n]|\\[^"\r\n])+)   # "v", or \"v\" (JSON in a string)
      | '{_NOT_A_VALUE}(?P<{b}>[^'\r\n]+)                        # 'v' (Python repr, shell)
      | {_NOT_A_VALUE}{needs_digit}(?P<{c}>{_BARE})   # bare: stops at the next field
    )
    """


_COMPILING = threading.Lock()


class _Lazy:
    """A rule compiled on first use: a printed line needs few of them, and compiling them all
    costs 20 ms at the start of every command."""

    __slots__ = ("pattern", "flags", "_re", "_secret")

    def __init__(self, pattern: str, flags: int) -> None:
        self.pattern, self.flags, self._re, self._secret = pattern, flags, None, None

    def compiled(self) -> re.Pattern[str]:
        found = self._re
        if found is None:
            with _COMPILING:  # a sweep's threads redacting at once compile each rule once, not once each
                if self._re is None:
                    self._re = re.compile(self.pattern, self.flags)
                found = self._re
        return found

    @property
    def secret(self) -> tuple[int, ...]:
        """The numbers of the groups s1, s2, ... that hold the secret."""
        if self._secret is None:
            self._secret = tuple(i for name, i in self.compiled().groupindex.items() if re.fullmatch(r"s\d+", name))
        return self._secret

    def __getattr__(self, name: str) -> Any:  # finditer, search, fullmatch, groupindex ...
        return getattr(self.compiled(), name)


def _rx(pattern: str, flags: int = 0) -> _Lazy:
    return _Lazy(pattern, flags | re.VERBOSE)


Anchors = tuple[str, ...]

# Shape rules: secrets recognisable by their form. anchors: substrings every match
# contains; a rule reads only the lines holding one (found with str.find, at C speed),
# so a multi-MB log costs a few substring scans, not a regex scan per rule.
# Only the PEM rules (first two) span lines; they read the whole text.
_SHAPE_RULES: list[tuple[_Lazy, Anchors]] = [
    # PEM private keys, terminated. The body never contains "-----", so the unrolled
    # loop reaches the END line in linear time, across real or escaped newlines, and
    # through a log prefix on every line ("2024-05-01T… stderr F MIIE…").
    (
        _rx(r"-----BEGIN[ ][A-Z0-9 ]{0,30}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----"
            r"(?P<s1>[^-]*+(?:-(?!----)[^-]*+)*+)"  # possessive: no backtracking if END is missing
            r"-----END[ ][A-Z0-9 ]{0,30}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----"),
        ("PRIVATE KEY",),
    ),
    # PEM private key cut off before its END line (truncated log): mask the base64
    # lines and PEM headers that follow it, each line possibly behind a log prefix.
    (
        _rx(r"-----BEGIN[ ][A-Z0-9 ]{0,30}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----"
            r"(?P<s1>(?:(?:\s|\\[rn])+"
            r"(?:[^\r\n\\]{0,80}?(?<![A-Za-z0-9+/=])(?=[A-Za-z0-9+/]{16,}={0,2}[ \t]*(?:\r?\n|\\[rn]|$)))?"
            r"(?:[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9+/]{1,15}={1,2}"
            r"|(?:Proc-Type|DEK-Info|Comment|Version):[^\r\n\\]*)"
            r"(?![A-Za-z0-9+/=]))+)"),
        ("PRIVATE KEY",),
    ),
    # JWTs (Entra ID access/id tokens, Azure ML token auth) anywhere; the signature part
    # may be missing when the token wraps onto the next line.
    (
        _rx(r"(?<![A-Za-z0-9_-])(?P<s1>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)?"
            r"|eyJ[A-Za-z0-9_-]{16,}(?:\.(?:eyJ[A-Za-z0-9_-]*)?)?(?=[ \t]*(?:\r?\n|$|…)))", re.MULTILINE),
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
        ("gh",),  # one scan for all six prefixes
    ),
    # GitLab tokens (personal, deploy, runner, trigger, CI job, OAuth, feed, mail, agent,
    # SCIM, feature flags) and runner registration tokens, as gitleaks knows them.
    (
        _rx(r"\b(?:gl(?:pat|dt|rt|ptt|cbt|oas|ft|imt|agent|soat|ffct)-|GR1348941)(?P<s1>[0-9A-Za-z_.-]{20,})"),
        ("gl", "GR1348941"),
    ),
    # Hugging Face user and org tokens, npm, Databricks, PyPI, Google API keys.
    (
        _rx(r"\b(?:hf_(?P<s1>[A-Za-z]{34})|api_org_(?P<s2>[A-Za-z]{34})|npm_(?P<s3>[A-Za-z0-9]{36})"
            r"|dapi(?P<s4>[a-f0-9]{32})(?:-\d)?|pypi-(?P<s5>AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})"
            r"|AIza(?P<s6>[A-Za-z0-9_-]{35}))(?![A-Za-z0-9])"),
        ("hf_", "api_org_", "npm_", "dapi", "pypi-", "AIza"),
    ),
    # OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-), Anthropic (sk-ant-…), Stripe keys.
    (
        _rx(r"(?<![A-Za-z0-9_-])(?:sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\d\d-)?|[sr]k_(?:live|test|prod)_)"
            r"(?P<s1>(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{20,})"),
        ("sk-", "k_live_", "k_test_", "k_prod_"),
    ),
    # AWS access key IDs (long-term AKIA, temporary ASIA, and the A3T / ABIA / ACCA
    # forms). A 40-char secret is taken unlabelled only right after one ("id,secret"
    # credentials CSV, "id:secret"): on its own, 40 chars of base64 look like a git SHA.
    (
        _rx(r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])(?P<s1>[A-Z0-9]{16})\b"
            r"(?:(?:[ \t]*[,:|][ \t]*|[ \t]+)(?P<s2>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=]))?"),
        ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
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
    # Upper-case env vars and settings named *_KEY or *_PASS (CUSTOM_VISION_KEY=...,
    # "AZURE_OPENAI_KEY": "...", SMTP_PASS=...; kubectl describe's "DB_KEY:  v").
    # Lower-case *_key is too often a DB/S3/partition key to mask by name alone;
    # paths and ARNs (SSH_KEY=~/.ssh/id, KMS_KEY=arn:...) are not secrets.
    (
        _rx(r"(?<=[A-Z0-9])_(?:KEY|PASS)(?:[ \t]*=>?|\\?\"[ \t]*:|(?P<colon>[ \t]*[:：]))[ \t]*(?!arn:|/|~/|\./)"
            + _value("s1", "s2", "s3", "colon", unless=())),
        ("_KEY", "_PASS"),
    ),
    # Passwords in URLs: scheme://user:password@host. The password may hold "@", "#",
    # "/" (pasted unencoded): it ends at the "@" that a host name follows. Or a token as
    # the URL user: https://TOKEN@host (random: 20+ chars, letters and digits).
    (
        _rx(r"://(?:[^\s/?#:\"'<>]*:(?![^\s/?#@]{0,40}\[REDACTED\])"
            r"(?P<s1>[^\s\"'<>@]+(?:@[^\s\"'<>@]+)*?)"
            r"@(?=(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+(?:[:/?#\s\"'<>]|$)|localhost\b|\[)"
            r"|(?P<s2>(?=[^\s/@:]*[0-9])(?=[^\s/@:]*[A-Za-z])[A-Za-z0-9_.~+=-]{20,})@)"),
        ("://",),
    ),
    # A value cut by an ellipsis (an evidence line shortened by the matcher): mask a
    # token tail that starts like a known secret, or is long, random-looking base64.
    (
        _rx(r"(?<![A-Za-z0-9_+/=.~-])(?P<s1>(?:AKIA|ASIA|ABIA|ACCA|A3T|gh[pousr]_|github_pat_|gl[a-z]{1,6}-|hf_|api_org_"
            r"|sk-|[sr]k_live_|npm_|dapi|xox[a-z]-|xapp-|eyJ|AIza|pypi-)[A-Za-z0-9_.~+/=-]*"
            r"|(?=[A-Za-z0-9+/=_-]*[0-9])(?=[A-Za-z0-9+/=_-]*[A-Z])(?![A-Za-z0-9+/=_-]*[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-)"
            r"[A-Za-z0-9+/=_-]{24,}|[A-Za-z0-9_.~-]{3}\dQ~[A-Za-z0-9_.~-]*)…"),  # a cut resource path with a GUID stays
        ("…",),
    ),
]

# Labelled secrets: a secret-named key and its value. They run, in this order (each sees
# what the one before masked), on the lowercased candidate lines: case-sensitive matching
# is several times faster in `re` than IGNORECASE. A match never goes past the line
# after its label (a value on the line after its label, a name/value pair).
_SEP = r"(?:=>|=|＝|(?P<colon>[:：]))"
_PW_WORDS = r"[a-z0-9_.-]*(?:passw(?:or)?d|passphrase)|(?:[a-z0-9.-]*_)?pwd(?!=/)|パスワード|暗証番号"
_LOGIN = r"(?:(?:docker|podman|nerdctl|buildah|skopeo|oras|crane|helm(?:[ \t]+registry)?|az(?:[ \t]+acr)?)[ \t]+login|sshpass)"
_LABEL_RULES: list[tuple[_Lazy, tuple[str, ...]]] = [  # (rule, substrings one of which it needs)
    # Connection-string passwords may contain spaces; ";" ends the field.
    (_rx(rf';[ \t]*(?:password|pwd)[ \t]*=[ \t]*{_NOT_A_VALUE}(?P<s1>[^;\r\n"\']+)'), (";",)),
    # YAML and ini: a password key that starts its line takes the rest of the line,
    # whatever its shape (spaces, "#" without a space before it); " # comment" stays.
    (
        _rx(rf"""^[ \t]*(?:-[ \t]+)?["']?(?:{_PW_WORDS})["']?(?:[ \t]*[:：][ \t]*|[ \t]+=[ \t]*|=[ \t]+){_NOT_A_VALUE}(?![|>"'])
            (?P<s1>[!-~][ -~]*?)[ \t]*(?=[ \t]\#|\r?$|[^ -~])""", re.MULTILINE),
        ("pass", "pwd", "パスワード", "暗証番号"),
    ),
    # A name/value pair: `az acr credential show` ("name": "password", "value": "…"),
    # Kubernetes env (- name: DB_PASSWORD / value: …), on one line or two.
    (
        _rx(rf"""name["']?[ \t]*[:=][ \t]*["']?(?:password\d?|[a-z0-9_.-]*(?:secret|token|passw(?:or)?d|pwd|pass|_key
                |apikey|accountkey|primarykey|secondarykey|key[12]))["']?[ \t]*,?[ \t]*(?:\r?\n[ \t]*(?:-[ \t]+)?)?
            ["']?value["']?[ \t]*[:=][ \t]*{_value("s1", "s2", "s3")}"""),
        ("name",),
    ),
    # .netrc: "machine h login u password p", on one line or one field per line.
    (_rx(rf"\bmachine[ \t]+[^\s]+[^\r\n]*?[ \t]password[ \t]+{_value('s1', 's2', 's3')}"), ("machine",)),
    (_rx(r"^[ \t]*password[ \t]+(?P<s1>(?=[^\s]*[^A-Za-z\s])[^\s]+)[ \t]*\r?$", re.MULTILINE), ("password ",)),
    # XML settings (nuget.config, app.config): <add key="ClearTextPassword" value="…"/>.
    (
        _rx(r"""key=["'][^"'\r\n]*(?:password|secret|token|apikey|api_key|accountkey|connectionstring)[^"'\r\n]*["']
            [ \t]+value=["'](?P<s1>[^"'\r\n]+)["']"""),
        ("value=",),
    ),
    # wandb login KEY (40 hex, or the newer longer keys).
    (_rx(r"\bwandb[ \t]+login\b[^\r\n]*?[ \t](?P<s1>[a-f0-9]{40}|[a-z0-9_-]{40,})(?![a-z0-9_-])"), ("wandb",)),
    # Command lines with a password flag: docker/podman/helm/oras/az (acr) login -p X,
    # az login -u U -p P, sshpass -p X / -pX; mysql -pX (attached only: "mysql -p db"
    # prompts); curl -u user:pass; aws configure set aws_secret_access_key X.
    (_rx(rf"{_LOGIN}\b[^\r\n]*?[ \t]-p(?:[ \t]+|=)?{_value('s1', 's2', 's3')}"), ("login", "sshpass")),
    (_rx(rf"\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\r\n]*?[ \t]-p{_value('s1', 's2', 's3')}"), ("mysql", "mariadb")),
    (
        _rx(r"""\b(?:curl|wget)\b[^\r\n]*?[ \t](?:-u|--user|--proxy-user|-u)(?:[ \t]+|=)
            (?:"[^":\r\n]*:(?P<s1>[^"\r\n]+)"|'[^':\r\n]*:(?P<s2>[^'\r\n]+)'|[^\s:"']*:(?!\$)(?P<s3>[^\s"']+))"""),
        ("curl", "wget"),
    ),
    (
        _rx(r"\baws[ \t]+configure[ \t]+set[ \t]+[a-z0-9_.-]*(?:secret|token|password|_key)(?<!_id)[ \t]+"
            + _value("s1", "s2", "s3")),
        ("configure",),
    ),
    # Command-line flags: --client-secret X, --password=X, --account-key X, --sas-token X.
    (_rx(rf"--(?<![\w-]--)[a-z0-9_-]*?(?:{_LABEL})(?:=|[ \t]+){_value('s1', 's2', 's3')}"), ("--",)),
    # XML elements: <password>…</password>, <ClientSecret>…</ClientSecret>, <AccountKey>…</AccountKey>
    # (a <connectionString> keeps its endpoint: its AccountKey= / SharedAccessKey= is masked inside).
    (
        _rx(rf"<(?P<tag>[a-z0-9_.:-]*?(?:{_LABEL}))>(?P<s1>[^<\r\n]+)</(?P=tag)>"),
        ("</",),
    ),
    # A bare --key flag (az ml … --key, az storage … --key): long values only, so that
    # `sort --key=2,3` stays.
    (_rx(r"--key(?:=|[ \t]+)(?P<s1>[a-z0-9+/=_-]{16,})"), ("--key",)),
    # Percent-encoded query strings: %26sig%3D… (a SAS URL inside another URL). The
    # value ends at the next encoded "&"; sp%3D / se%3D stay.
    (
        _rx(r"(?:%26|%3f|[?&])(?:sig|signature|code|token|access_token|refresh_token|client_secret)%3d"
            r"(?P<s1>(?:[a-z0-9._~+/-]|%(?!26)[0-9a-f]{2})+)"),
        ("%3d",),
    ),
    # Everything else labelled: k=v, k: v, "k": "v", 'k': 'v', k => v, HTTP headers, env
    # vars, ini files, query strings, connection strings (AccountKey=, SharedAccessKey=).
    (
        _rx(rf"""(?:{_LABEL})(?:\\?["'])?[ \t]*{_SEP}[ \t]*
            (?: (?:[|>][-+]?[ \t]*)?\r?\n[ \t]*["']?{_NOT_A_VALUE}  # alone on the next line: "password:", "キー：", "key: |"
                (?P<s4>[^\s"':#][^\s"']{{3,}})(?<!:)["']?,?[ \t]*(?=\r?\n|$)
              | {_SCHEME}"""
            + _value("s1", "s2", "s3", "colon") + ")"),
        ("",),
    ),
]
# Fallback should lowercasing ever change a line's length (see _lower): match the
# original with IGNORECASE, slower but correct.
_LABEL_RULES_I: list[re.Pattern[str]] = []  # compiled on first use (_ignorecase): rarely needed, slow to build


def _ignorecase(i: int) -> re.Pattern[str]:
    if not _LABEL_RULES_I:
        _LABEL_RULES_I.extend(re.compile(p.pattern, p.flags | re.IGNORECASE) for p, _ in _LABEL_RULES)
    return _LABEL_RULES_I[i]

# Cheap prefilter: every label ends with one of these words, followed by a separator
# (or, for --flags, a space). Case-sensitive and lookaround-free, so `re` scans the
# lowercased text fast; the label rules then read only the lines it picked.
_WORDS = r"p(?:assw(?:or)?d|assphrase|wd)|s(?:ecret|ig(?:nature)?)|token|auth(?:orization)?|key[12]?|code"
_WORDS_JA = r"キー|パスワード|シークレット|トークン|暗証番号|秘密鍵"
_PREFILTER = re.compile(rf"(?:{_WORDS})(?:\\?[\"'])?[ \t]*(?:=>|[:=：＝]|%3d)")
_FLAG_PREFILTER = re.compile(rf"--[a-z0-9_-]*?(?:{_WORDS})[ \t=]")
_JA_PREFILTERS = [re.compile(rf"{w}(?:\\?[\"'])?[ \t]*[:=：＝]") for w in _WORDS_JA.split("|")]  # literal prefixes: fast
_NAME_PREFILTER = re.compile(r"name[\"']?[ \t]*[:=]")
_COMMAND_NEEDLES = (" -p", " -u", "\t-p", "\t-u", "curl", "wget", "configure", "--key", "machine", "password ", "value=", "wandb", "</")
_COMMAND_RX = re.compile("|".join(re.escape(n) for n in _COMMAND_NEEDLES))

# redact_obj: a dict key that *is* a secret name, e.g. {"primaryKey": "..."} parsed
# from `az ml online-endpoint get-credentials`; its str value is masked whole.
_SECRET_KEY = _rx(rf"[A-Za-z0-9_.-]*?(?:{_LABEL})")
_VALUE_OK = re.compile(_NOT_A_VALUE)
_SECRET_NAME = re.compile(r"password\d?|[a-z0-9_.-]*(?:secret|token|passw(?:or)?d|pwd|_pass|_key|apikey|accountkey|primarykey|secondarykey|key[12])")

Spans = list[tuple[int, int]]


_SHAPE = _SHAPE_RULES
_LABELS = [(p, i, need) for i, (p, need) in enumerate(_LABEL_RULES)]


# The rest of a secret wrapped onto the next line (a terminal or a log viewer cut a long
# line): one token of key/JWT characters, alone on its line, with a digit and a letter.
_CONTINUATION = re.compile(
    r"\r?\n[ \t]*(?P<t>(?=[A-Za-z0-9+/=_.~-]*[0-9])(?=[A-Za-z0-9+/=_.~-]*[A-Za-z])[A-Za-z0-9+/=_.~-]{6,})"
    r"[\"',]{0,2}[ \t]*(?=\r?\n|$)"
)
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_WRAP_WIDTH = 60  # a line this long that ends inside a secret may have been wrapped


def _wrapped_tail(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span of the next line if the secret text[start:end] ends a long line and seems to continue there."""
    if end - start < 16 or end - (text.rfind("\n", 0, start) + 1) < _WRAP_WIDTH:
        return None
    m = _CONTINUATION.match(text, end)
    if m is None or _GUID.fullmatch(m["t"]):
        return None
    return m.span("t")


def _masked(pattern: re.Pattern[str] | _Lazy, text: str, groups: tuple[int, ...],
            haystack: str | None = None, spans: Spans | None = None) -> str:
    """Match `pattern` on `haystack` (default: `text`; else a same-length lowercase copy)
    within `spans` (default: all), and replace the secret groups' spans in `text` by MARK."""
    hay = text if haystack is None else haystack
    out, pos = [], 0
    for lo, hi in spans if spans is not None else [(0, len(hay))]:
        for m in pattern.finditer(hay, lo, hi):
            for g in groups:
                start, end = m.span(g)
                if start < pos or _ENV_REF.fullmatch(text, start, end):  # $DB_PASSWORD is a reference
                    continue
                out += (text[pos:start], MARK)
                pos = end
                tail = _wrapped_tail(text, start, end)
                while tail is not None:
                    out += (text[pos:tail[0]], MARK)
                    pos = tail[1]
                    tail = _wrapped_tail(text, tail[0] - 16 if tail[1] - tail[0] >= _WRAP_WIDTH else tail[0], tail[1]) \
                        if tail[1] - tail[0] >= _WRAP_WIDTH else None
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
    """Spans of the lines of `low` (and the line after each) that may hold a labelled secret."""
    prefilters = [_PREFILTER]
    if "--" in low:
        prefilters.append(_FLAG_PREFILTER)
    if "name" in low:
        prefilters.append(_NAME_PREFILTER)
    if not low.isascii():
        prefilters += _JA_PREFILTERS
    spans: Spans = []
    for prefilter in prefilters:
        m = prefilter.search(low)
        while m:
            lo, hi = _line_of(low, m.start())
            m = prefilter.search(low, hi)
            if hi < len(low):  # and the next line: a value may sit alone on it
                hi = _line_of(low, hi + 1)[1]
            spans.append((lo, hi))
    return _merged(spans + _lines_with(low, _COMMAND_NEEDLES))


def _might_hold_label(low: str) -> bool:
    """_label_lines for a short text: whether any label rule could apply anywhere in it."""
    return bool(
        _PREFILTER.search(low)
        or ("--" in low and _FLAG_PREFILTER.search(low))
        or ("name" in low and _NAME_PREFILTER.search(low))
        or (not low.isascii() and any(p.search(low) for p in _JA_PREFILTERS))
        or _COMMAND_RX.search(low)
    )


def _lower(text: str) -> str | None:
    """`text` lowercased with offsets unchanged, or None if that is not possible."""
    low = text.lower()
    if len(low) != len(text):  # "İ" (U+0130) is the one char whose lowercase is two chars
        low = text.replace("\u0130", "I").lower()
    return low if len(low) == len(text) else None


def _redact_labels(lines: str) -> str:
    low = _lower(lines)
    for rule, i, need in _LABELS:
        if any(n in (low if low is not None else lines.lower()) for n in need):  # needs are lowercase; "" is in every text
            groups = rule.secret
            masked = _masked(rule, lines, groups, haystack=low) if low is not None else _masked(_ignorecase(i), lines, groups)
            if masked is not lines:
                lines, low = masked, _lower(masked)
    return lines


_SHORT = 4096
_ANY_ANCHOR = re.compile("|".join(re.escape(a) for _, anchors in _SHAPE[2:] for a in anchors))


def redact(text: str) -> str:
    """Return `text` with every secret value replaced by [REDACTED]; other text is unchanged."""
    if not text:
        return text
    for pattern, anchors in _SHAPE[:2]:  # PEM blocks span lines
        if anchors[0] in text:
            text = _masked(pattern, text, pattern.secret)
    if len(text) <= _SHORT:  # a printed line: one regex call says which shape rules apply
        found = set(_ANY_ANCHOR.findall(text))
        if found:
            for pattern, anchors in _SHAPE[2:]:
                if not found.isdisjoint(anchors):
                    text = _masked(pattern, text, pattern.secret)
    else:
        for pattern, anchors in _SHAPE[2:]:
            spans = _lines_with(text, anchors)
            if spans:
                text = _masked(pattern, text, pattern.secret, spans=spans)
    low = _lower(text)
    if low is None:
        spans = [(0, len(text))]
    elif len(low) <= _SHORT:  # one span or none: a few searches decide
        spans = [(0, len(low))] if _might_hold_label(low) else []
    else:
        spans = _label_lines(low)
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
        # {"name": "password", "value": "…"}: ACR credentials, Kubernetes env, app settings
        named = isinstance(obj.get("name"), str) and _SECRET_NAME.fullmatch(obj["name"].lower()) is not None
        return {
            k: _mask_value(redact(v))
            if isinstance(k, str) and isinstance(v, str) and (_SECRET_KEY.fullmatch(k.lower()) or (named and k == "value"))
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
