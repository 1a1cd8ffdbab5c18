"""Leak rate of the redactor over a grid: 41 secret labels × 7 value shapes × 14 syntaxes.

    python bench/redact_coverage.py            # totals and per-syntax counts
    python bench/redact_coverage.py --show 20  # and the first 20 leaking lines

A line leaks when the value (or its first 12 characters) is still in the redacted text. The
table test (tests/test_redact_table.py) pins behaviour; this grid measures breadth.
"""

from __future__ import annotations

import argparse

LABELS = [
    "password", "passwd", "pwd", "db_password", "secret", "client_secret", "clientSecret", "api_key", "apiKey", "api-key",
    "access_token", "accessToken", "token", "auth_token", "refresh_token", "AccountKey", "SharedAccessKey", "sig",
    "subscription_key", "Ocp-Apim-Subscription-Key", "X-API-Key", "x-functions-key", "private_key", "primaryKey", "secondary_key",
    "DB_PASS", "AZURE_OPENAI_KEY", "HF_TOKEN", "SLACK_SIGNING_SECRET", "aws_secret_access_key", "training_key", "prediction-key",
    "sas_token", "storage_key", "master_key", "signing_key", "webhook_secret", "passphrase", "パスワード", "キー", "アクセスキー",
]  # fmt: skip
VALUES = [
    "Fake-Passw0rd-42", "fake#pass/w0rd@x", "0123456789abcdef0123456789abcdef", "Z5r.Dk[x=:G7_H-@M?wFake]eJzvYbKq1*8",
    "FakeStorageKeyForUnitTestsOnly+/AbCd0123+/AbCd0123+/AbCd0123+/AbCd0123+/AbCd0123+/AbCd01==", "hunter2", "correcthorse",
]  # fmt: skip
SYNTAXES = [
    "{k}={v}", "{k}: {v}", '"{k}": "{v}"', "{k} = '{v}'", "--{k} {v}", "--{k}={v}", "https://h/p?{k}={v}&x=1", "  {k}: {v}",
    'export {k}="{v}"', "{k}：{v}", '{{\\"{k}\\": \\"{v}\\"}}', "{k} => '{v}'", "<{k}>{v}</{k}>", "{k}\t{v}",
]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show", type=int, default=0)
    args = ap.parse_args()
    from bot.redact import redact

    leaks: list[str] = []
    total = 0
    for syntax in SYNTAXES:
        n = t = 0
        for k in LABELS:
            if syntax.startswith("--") and not k.isascii():
                continue
            for v in VALUES:
                line = "2024-05-01T10:00:00Z INFO " + syntax.format(k=k, v=v) + " done"
                out = redact(line)
                t += 1
                if v in out or (len(v) > 12 and v[:12] in out):
                    n += 1
                    leaks.append(line)
        total += t
        print(f"{n:5} / {t:4}  {syntax!r}")
    print(f"{len(leaks)} of {total} lines leak ({100 * len(leaks) / total:.1f}%)")
    for line in leaks[: args.show]:
        print("  " + line)


if __name__ == "__main__":
    main()
