"""Tests for bot.redact: secrets are masked, support context survives, ordinary text is untouched."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from bot.redact import MARK, redact, redact_obj

# --- fabricated secrets: real shapes (length, alphabet), obviously test values --------


def _fill(prefix: str, n: int, alphabet: str = "0123456789") -> str:
    """`prefix` padded to exactly n chars with a repeating, clearly fake tail."""
    tail = (alphabet * n)[: n - len(prefix)]
    return prefix + tail


def _b64url(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


STORAGE_KEY = _fill("FakeStorageKeyForUnitTestsOnly+/", 86, "AbCd0123+/") + "=="  # 64 bytes b64
SB_KEY = _fill("FakeServiceBusKeyTestOnly", 43, "aB3+") + "="  # 32 bytes b64
SAS_SIG = "FAKEsig0TestOnly1234567890abcdefABCDEF%2B%2F0%3D"
CV_KEY = "f00dfeed00000000000000000000cafe"  # classic 32-hex Cognitive Services key
CV_PRED_KEY = "0000beef00000000000000000000d00d"
APIM_KEY = "abc00000000000000000000000000123"
CASK_KEY = _fill("FakeCognitiveServicesKeyTestOnly", 52, "Ab9") + "JQQJ99" + _fill("BACYeBjF", 26, "Zz0")
AML_KEY = "FakeAmlEndpointKeyTest0000000001"  # 32 alnum, `get-credentials` shape
ENTRA_SECRET = "Tst8Q~" + _fill("FakeClientSecretForUnitTests.", 34, "0_~")
AWS_KEY_ID = "AKIAFAKETEST0000EXMP"
AWS_TEMP_KEY_ID = "ASIAFAKETEST0000TEMP"
AWS_SECRET = _fill("fAkE/tEsT+SeCrEt", 40, "Ab0")
AWS_SECRET_2 = _fill("TestOnly/Secret+Two", 40, "Zy9")
AWS_SESSION = "IQoJb3JpZ2luX2VjEFAKE" + _fill("TestSessionToken", 300, "Ab0+/") + "=="
OPAQUE_TOKEN = "FakeOpaqueAccessToken0123456789abcdef"
BASIC_CRED = base64.b64encode(b"triage-bot:Fake-Passw0rd!").decode()
JWT = ".".join(
    [
        _b64url('{"alg":"RS256","typ":"JWT","kid":"test-key"}'),
        _b64url('{"aud":"https://management.azure.com","sub":"fake-test-user","exp":4102444800}'),
        _b64url("fake-signature-bytes-for-unit-tests-only"),
    ]
)
SLACK_BOT = "xoxb-111111111111-2222222222222-FakeSlackBotTokenForTest"
SLACK_USER = "xoxp-111111111111-222222222222-333333333333-0000fake0000test0000fake0000test"
SLACK_APP = "xapp-1-A0000000000-1111111111111-00fake00test00fake00test00fake00test00fake00test00fake00test0000"
SLACK_OLD = "xoxa-2-111111111111-222222222222-FakeWorkspaceToken0000"
SLACK_REFRESH = "xoxr-111111111111-FakeRefreshTokenForTest0000"
SLACK_LEGACY = "xoxs-111111111111-222222222222-FakeLegacyToken0000"
SLACK_HOOK_SECRET = "FAKEtestWEBHOOK000000000"
SLACK_SIGNING = "0000fake0000signing0000secret000"
GITHUB_PAT = "ghp_" + _fill("FakeGitHubTokenForTests", 36)
GITHUB_FINE = "github_pat_" + _fill("11FAKETEST0_FakeFineGrainedTokenForUnitTests", 82, "aZ0")
DB_PASSWORD = "Fake-Passw0rd"


# --- 1. lines with a secret: (line, secret that must vanish, context that must stay) ----

SECRET_LINES = [
    pytest.param(
        f"DefaultEndpointsProtocol=https;AccountName=cvtrainstore;AccountKey={STORAGE_KEY};EndpointSuffix=core.windows.net",
        STORAGE_KEY, "AccountName=cvtrainstore", id="storage-conn-account-key",
    ),
    pytest.param(
        f"Endpoint=sb://triage-test.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={SB_KEY}",
        SB_KEY, "SharedAccessKeyName=RootManageSharedAccessKey", id="servicebus-shared-access-key",
    ),
    pytest.param(
        "BlobEndpoint=https://cvtrainstore.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&srt=co"
        f"&sp=rl&se=2030-01-01T00:00:00Z&sig={SAS_SIG}",
        SAS_SIG, "SharedAccessSignature=sv=2022-11-02&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&sig=", id="storage-conn-sas",
    ),
    pytest.param(
        "Server=tcp:cv-meta.database.windows.net,1433;User ID=triage;Password=Fake Pass w0rd!;Encrypt=True;",
        "Fake Pass w0rd!", "User ID=triage", id="sql-conn-password-with-spaces",
    ),
    pytest.param(
        "2024-05-01T09:12:03Z ERROR upload failed: PUT https://cvtrainstore.blob.core.windows.net/images/cat_001.jpg"
        f"?sv=2021-08-06&st=2024-05-01T08%3A00%3A00Z&se=2024-05-01T10%3A00%3A00Z&sr=b&sp=rw&sig={SAS_SIG} -> 403",
        SAS_SIG, "sp=rw", id="sas-url",
    ),
    pytest.param(
        f"> POST /customvision/v3.3/training/projects/0f6a3b2c-1d4e-4f5a-8b9c-0d1e2f3a4b5c/train HTTP/1.1\r\n> Training-Key: {CV_KEY}",
        CV_KEY, "Training-Key:", id="custom-vision-training-key-header",
    ),
    pytest.param(
        f"curl -X POST https://westeurope.api.cognitive.microsoft.com/customvision/v3.0/Prediction/x/classify "
        f"-H 'Prediction-Key: {CV_PRED_KEY}' -H 'Content-Type: application/octet-stream'",
        CV_PRED_KEY, "Content-Type: application/octet-stream", id="custom-vision-prediction-key-curl",
    ),
    pytest.param(
        f"headers={{'Ocp-Apim-Subscription-Key': '{APIM_KEY}', 'x-ms-client-request-id': 'req-42'}}",
        APIM_KEY, "Ocp-Apim-Subscription-Key", id="ocp-apim-subscription-key",
    ),
    pytest.param(
        f'{{"primaryKey": "{AML_KEY}", "secondaryKey": null}}',
        AML_KEY, '"secondaryKey": null', id="azureml-endpoint-primary-key-json",
    ),
    pytest.param(
        f'{{"key1": "{CV_KEY}", "kind": "CustomVision.Training"}}',
        CV_KEY, "CustomVision.Training", id="cognitive-services-key1-json",
    ),
    pytest.param(
        f"INFO config loaded endpoint=https://cv.cognitiveservices.azure.com api_key={CV_KEY} retries=3",
        CV_KEY, "retries=3", id="api-key-kv",
    ),
    pytest.param(f"  apikey: {APIM_KEY}", APIM_KEY, "apikey:", id="apikey-yaml"),
    pytest.param(
        f"export CUSTOM_VISION_KEY={CASK_KEY}", CASK_KEY, "CUSTOM_VISION_KEY", id="azure-cask-key-env",
    ),
    pytest.param(
        f"az ml online-endpoint invoke: Authorization: Bearer {AML_KEY} (endpoint cv-scoring)",
        AML_KEY, "endpoint cv-scoring", id="azureml-endpoint-key-bearer",
    ),
    pytest.param(
        f"ClientSecretCredential for tenant 72f988bf-0000-4000-8000-000000000000 used secret {ENTRA_SECRET}.",
        ENTRA_SECRET, "72f988bf-0000-4000-8000-000000000000", id="entra-client-secret-unlabelled",
    ),
    pytest.param(
        f"AZURE_CLIENT_SECRET={ENTRA_SECRET}", ENTRA_SECRET, "AZURE_CLIENT_SECRET", id="azure-client-secret-env",
    ),
    pytest.param(
        f'{{"client_id": "00000000-1111-2222-3333-444444444444", "client_secret": "{DB_PASSWORD}x"}}',
        f"{DB_PASSWORD}x", "00000000-1111-2222-3333-444444444444", id="client-secret-json",
    ),
    pytest.param(
        f"aws_access_key_id = {AWS_KEY_ID}", AWS_KEY_ID, "aws_access_key_id", id="aws-key-id-ini",
    ),
    pytest.param(
        f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET, "aws_secret_access_key", id="aws-secret-ini",
    ),
    pytest.param(
        f"AWS_SECRET_ACCESS_KEY={AWS_SECRET} AWS_DEFAULT_REGION=us-east-1",
        AWS_SECRET, "AWS_DEFAULT_REGION=us-east-1", id="aws-secret-env",
    ),
    pytest.param(
        f'"Credentials": {{"AccessKeyId": "{AWS_TEMP_KEY_ID}", "SecretAccessKey": "{AWS_SECRET}", "Expiration": "2024-05-01T10:00:00Z"}}',
        AWS_SECRET, '"Expiration": "2024-05-01T10:00:00Z"', id="aws-sts-secret-json",
    ),
    pytest.param(
        f'"AccessKeyId": "{AWS_TEMP_KEY_ID}"', AWS_TEMP_KEY_ID, '"AccessKeyId"', id="aws-temp-key-id-json",
    ),
    pytest.param(
        f'"SessionToken": "{AWS_SESSION}"', AWS_SESSION, '"SessionToken"', id="aws-session-token-json",
    ),
    pytest.param(f"AWS_SESSION_TOKEN={AWS_SESSION}", AWS_SESSION, "AWS_SESSION_TOKEN", id="aws-session-token-env"),
    pytest.param(
        f"Access key ID,Secret access key\n{AWS_KEY_ID},{AWS_SECRET}\n", AWS_SECRET, "Access key ID,Secret access key\n",
        id="aws-credentials-csv",
    ),
    pytest.param(
        f"botocore.credentials: secret_key={AWS_SECRET} region=us-east-1",
        AWS_SECRET, "region=us-east-1", id="aws-secret-key-kv",
    ),
    pytest.param(
        "GET https://cv-ds.s3.amazonaws.com/train/manifest.json?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={AWS_TEMP_KEY_ID}%2F20240501%2Fus-east-1%2Fs3%2Faws4_request"
        f"&X-Amz-Security-Token={AWS_SESSION[:60]}&X-Amz-Signature=00ff00ff00ff00ff0000fake0000test",
        AWS_SESSION[:60], "X-Amz-Algorithm=AWS4-HMAC-SHA256", id="s3-presigned-url",
    ),
    pytest.param(
        f"> Authorization: Bearer {OPAQUE_TOKEN}", OPAQUE_TOKEN, "Authorization: Bearer", id="authorization-bearer",
    ),
    pytest.param(
        f"requests: Authorization: Basic {BASIC_CRED}", BASIC_CRED, "Authorization: Basic", id="authorization-basic",
    ),
    pytest.param(
        f"retrying scoring call with Bearer {OPAQUE_TOKEN} after 401", OPAQUE_TOKEN, "after 401", id="bare-bearer",
    ),
    pytest.param(
        f'{{"token_type": "Bearer", "expires_in": 3599, "access_token": "{JWT}"}}',
        JWT, '"token_type": "Bearer"', id="jwt-access-token-json",
    ),
    pytest.param(f"msal cache hit, id token {JWT} (tenant common)", JWT, "(tenant common)", id="jwt-bare"),
    pytest.param(f"SLACK_BOT_TOKEN={SLACK_BOT}", SLACK_BOT[5:], "SLACK_BOT_TOKEN", id="slack-bot-token-env"),
    pytest.param(f"slack_sdk: using user token {SLACK_USER}", SLACK_USER[5:], "user token", id="slack-user-token"),
    pytest.param(f"socket mode: app token {SLACK_APP} connected", SLACK_APP[5:], "connected", id="slack-app-token"),
    pytest.param(f"legacy workspace token {SLACK_OLD}", SLACK_OLD[5:], "legacy workspace", id="slack-xoxa"),
    pytest.param(f"rotated refresh token {SLACK_REFRESH}", SLACK_REFRESH[5:], "rotated", id="slack-xoxr"),
    pytest.param(f"session {SLACK_LEGACY} expired", SLACK_LEGACY[5:], "expired", id="slack-xoxs"),
    pytest.param(
        f"notify: POST https://hooks.slack.com/services/T0FAKE000/B0FAKE000/{SLACK_HOOK_SECRET} -> 200",
        SLACK_HOOK_SECRET, "hooks.slack.com/services/", id="slack-webhook-url",
    ),
    pytest.param(
        f"SLACK_SIGNING_SECRET={SLACK_SIGNING}", SLACK_SIGNING, "SLACK_SIGNING_SECRET", id="slack-signing-secret",
    ),
    pytest.param(
        f"connecting to postgresql://triage:{DB_PASSWORD}@meta-db.internal:5432/triage",
        DB_PASSWORD, "meta-db.internal:5432/triage", id="url-password",
    ),
    pytest.param(
        f"git clone https://x-access-token:{GITHUB_PAT}@github.com/contoso/cv-models.git",
        GITHUB_PAT[4:], "github.com/contoso/cv-models.git", id="github-token-in-url",
    ),
    pytest.param(f"GITHUB_TOKEN={GITHUB_FINE}", GITHUB_FINE[11:], "GITHUB_TOKEN", id="github-fine-grained-pat"),
    pytest.param(
        f"2024-05-01 09:00:01 DEBUG db connect host=meta-db user=triage password={DB_PASSWORD} sslmode=require",
        DB_PASSWORD, "sslmode=require", id="password-kv",
    ),
    pytest.param(f"  passwd: {DB_PASSWORD}", DB_PASSWORD, "passwd:", id="passwd-yaml"),
    pytest.param(f"Driver={{ODBC Driver 18}};Uid=triage;Pwd={DB_PASSWORD};", DB_PASSWORD, "Uid=triage", id="pwd-odbc"),
    pytest.param(
        f"oauth: refresh_token={OPAQUE_TOKEN}&grant_type=refresh_token",
        OPAQUE_TOKEN, "grant_type=refresh_token", id="refresh-token-form",
    ),
    pytest.param(f"access_token: {OPAQUE_TOKEN}", OPAQUE_TOKEN, "access_token:", id="access-token-yaml"),
    pytest.param(f"api-key: {CV_KEY}", CV_KEY, "api-key:", id="api-key-header"),
    pytest.param(f"token = '{OPAQUE_TOKEN}'", OPAQUE_TOKEN, "token = '", id="token-python"),
    pytest.param(f"secret: {DB_PASSWORD}", DB_PASSWORD, "secret:", id="secret-yaml"),
    pytest.param(
        f"az ad sp create-for-rbac ... --client-secret {ENTRA_SECRET[:-3]}xyz --tenant contoso",
        ENTRA_SECRET[:-3] + "xyz", "--tenant contoso", id="cli-flag-client-secret",
    ),
    pytest.param(
        f'"{{\\"client_secret\\": \\"{DB_PASSWORD}\\", \\"tenant\\": \\"contoso\\"}}"',
        DB_PASSWORD, "tenant", id="escaped-json-in-string",
    ),
    pytest.param(
        f"key1\tFull\t{STORAGE_KEY}", STORAGE_KEY, "Full", id="storage-key-tsv-unlabelled",
    ),
]


@pytest.mark.parametrize(("line", "secret", "context"), SECRET_LINES)
def test_secret_is_masked_and_context_kept(line: str, secret: str, context: str) -> None:
    assert secret in line and context in line  # the table itself is sane
    out = redact(line)
    assert secret not in out
    assert context in out
    assert MARK in out


def test_prefixes_that_say_what_was_masked_are_kept() -> None:
    assert redact(f"AccountKey={STORAGE_KEY};") == "AccountKey=[REDACTED];"
    assert redact(f"Authorization: Bearer {OPAQUE_TOKEN}") == "Authorization: Bearer [REDACTED]"
    assert redact(f"https://triage:{DB_PASSWORD}@db.internal") == "https://triage:[REDACTED]@db.internal"
    assert redact(SLACK_BOT) == "xoxb-[REDACTED]"
    assert redact(f"?sv=2021-08-06&sig={SAS_SIG}&se=x") == "?sv=2021-08-06&sig=[REDACTED]&se=x"
    assert redact(AWS_KEY_ID) == "AKIA[REDACTED]"


def test_fabricated_secrets_have_real_shapes() -> None:
    assert len(STORAGE_KEY) == 88 and STORAGE_KEY.endswith("==")
    assert len(CASK_KEY) == 84 and CASK_KEY[52:58] == "JQQJ99"
    assert len(ENTRA_SECRET) == 40 and ENTRA_SECRET[3:6] == "8Q~"
    assert len(AWS_KEY_ID) == len(AWS_TEMP_KEY_ID) == 20
    assert len(AWS_SECRET) == len(AWS_SECRET_2) == 40
    assert len(GITHUB_PAT) == 40
    assert JWT.count(".") == 2 and JWT.startswith("eyJ") and JWT.split(".")[1].startswith("eyJ")


# --- 2. ordinary lines support needs: must come back unchanged -----------------------

ORDINARY_LINES = [
    "Custom Vision project 0f6a3b2c-1d4e-4f5a-8b9c-0d1e2f3a4b5c iteration 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d failed",
    "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-cv/providers/"
    "Microsoft.CognitiveServices/accounts/cv-train-weu",
    "arn:aws:rekognition:us-east-1:123456789012:project/my_project/version/test_1/1627045542080",
    "Account: 123456789012 Region: us-east-1 Principal: arn:aws:iam::123456789012:role/RekognitionTrainer",
    "Pulling image testacr.azurecr.io/azureml/azureml_92a029f831ce58d2ed011c3c42d35acb:latest",
    "commit 3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a (HEAD -> main)",
    "Digest: sha256:5d41402abc4b2a76b9719d911017c592ae2b3c7d8e9f00112233445566778899",
    "x-ms-client-request-id: 6f1c2a7e-2b1d-4c3e-9f8a-0b1c2d3e4f5a",
    "x-amzn-RequestId: 1a2b3c4d-5e6f-4a1b-9c2d-3e4f5a6b7c8d",
    "2024-05-01T12:34:56.789Z INFO  Training started (iteration 3, 1,245 images, 12 tags)",
    "The token has expired; run `az login` and try again.",
    "Failed to acquire token: AADSTS7000215: Invalid client secret provided.",
    "Failed to get token: ManagedIdentityCredential authentication unavailable",
    "Press any key to continue, or check the key in the Azure portal (Keys and Endpoint).",
    "学習に失敗しました。トークンの有効期限が切れています。サポートに連絡してください。",
    "s3://cv-datasets-prod/train/images/cat_001.jpg",
    "https://cvtrainstore.blob.core.windows.net/images/cat_001.jpg",
    "https://cvtrainstore.blob.core.windows.net/images?restype=container&comp=list&sv=2021-08-06",
    '{"error": {"code": "Unauthorized", "message": "Access denied due to invalid subscription key or wrong API endpoint."}}',
    "AuthenticationFailed: Make sure the value of Authorization header is formed correctly including the signature.",
    '{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599}',
    "Bearer authentication failed for endpoint cv-scoring (HTTP 401)",
    "request: max_tokens=256 temperature=0.2 top_p=1",
    "Status: TRAINING_FAILED StatusMessage: The manifest file contains too many invalid data objects.",
    "Liveness probe failed: container exited with code 137 (OOMKilled)",
    "PWD=/home/azureuser/cloudfiles/code OLDPWD=/home/azureuser",
    "  secretName: cv-credentials",
    '"KeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"',
    "scoring URI: http://localhost:5001/score (port 5001)",
    "contact support@contoso.com with the request ID",
    "The Basic SKU does not support private endpoints; key1 and key2 can be regenerated in the portal.",
    "password reset required for user triage-bot",
    "client_secret: ********",
    "password=${DB_PASSWORD} token={{ slack_token }}",
    "Date: Wed, 01 May 2024 12:00:00 GMT",
]


@pytest.mark.parametrize("line", ORDINARY_LINES)
def test_ordinary_line_unchanged(line: str) -> None:
    assert redact(line) == line


# --- 3. private key blocks ------------------------------------------------------------

_PEM_BODY = [_fill(f"MIIEpAIBAAKCAQEAFAKE{i:02d}", 64, "TestKeyAbc0+/") for i in range(6)] + ["FAKEend0=="]


@pytest.mark.parametrize("kind", ["RSA ", "EC ", "OPENSSH ", "ENCRYPTED ", ""])
def test_private_key_block_multiline(kind: str) -> None:
    block = "\n".join([f"-----BEGIN {kind}PRIVATE KEY-----", *_PEM_BODY, f"-----END {kind}PRIVATE KEY-----"])
    text = f"2024-05-01 INFO loading signing key\n{block}\n2024-05-01 INFO key loaded for cv-train-weu\n"
    out = redact(text)
    for line in _PEM_BODY:
        assert line not in out
    assert f"-----BEGIN {kind}PRIVATE KEY-----" in out
    assert f"-----END {kind}PRIVATE KEY-----" in out
    assert "2024-05-01 INFO loading signing key\n" in out
    assert "\n2024-05-01 INFO key loaded for cv-train-weu\n" in out


def test_private_key_with_pem_headers() -> None:
    block = "\n".join(
        ["-----BEGIN RSA PRIVATE KEY-----", "Proc-Type: 4,ENCRYPTED", "DEK-Info: AES-128-CBC,00FAKE00TEST00",
         "", *_PEM_BODY, "-----END RSA PRIVATE KEY-----"]
    )
    out = redact(block)
    assert all(line not in out for line in _PEM_BODY)
    assert out == "-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----"


def test_private_key_escaped_newlines_in_json() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\\n" + "\\n".join(_PEM_BODY) + "\\n-----END PRIVATE KEY-----\\n"
    line = json.dumps({"type": "service_account", "private_key": "PLACEHOLDER"}).replace("PLACEHOLDER", pem)
    out = redact(line)
    assert all(body not in out for body in _PEM_BODY)
    assert '"type": "service_account"' in out
    assert "-----END PRIVATE KEY-----" in out


def test_truncated_private_key_block() -> None:
    text = "\n".join(["-----BEGIN OPENSSH PRIVATE KEY-----", *_PEM_BODY[:3], "[log truncated at 64 KiB]"])
    out = redact(text)
    assert all(line not in out for line in _PEM_BODY[:3])
    assert out.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert out.endswith("[log truncated at 64 KiB]")


# --- 4. redact_obj ----------------------------------------------------------------------


def test_redact_obj_nested_json() -> None:
    doc = {
        "endpoint": "cv-scoring",
        "credentials": {"primaryKey": AML_KEY, "secondaryKey": AML_KEY[::-1]},
        "env": [
            {"name": "AZURE_CLIENT_SECRET", "value": ENTRA_SECRET},
            {"name": "SUBSCRIPTION_ID", "value": "00000000-1111-2222-3333-444444444444"},
        ],
        "evidence": (f"Authorization: Bearer {OPAQUE_TOKEN}", "HTTP 401 from cv-scoring"),
        "connection": {"password": "hunter2", "host": "meta-db.internal", "port": 5432, "ssl": True},
        "token_type": "Bearer",
        "retries": [1, 2, None],
    }
    original = copy.deepcopy(doc)
    out = redact_obj(doc)

    assert doc == original  # input not mutated
    assert out is not doc
    dumped = json.dumps(out)
    for secret in (AML_KEY, AML_KEY[::-1], ENTRA_SECRET, OPAQUE_TOKEN, "hunter2"):
        assert secret not in dumped
    assert list(out) == list(doc)  # keys kept, in order
    assert out["credentials"] == {"primaryKey": MARK, "secondaryKey": MARK}
    assert out["env"][1] == {"name": "SUBSCRIPTION_ID", "value": "00000000-1111-2222-3333-444444444444"}
    assert out["evidence"] == ("Authorization: Bearer [REDACTED]", "HTTP 401 from cv-scoring")
    assert out["connection"] == {"password": MARK, "host": "meta-db.internal", "port": 5432, "ssl": True}
    assert out["token_type"] == "Bearer"
    assert out["retries"] == [1, 2, None]


def test_redact_obj_scalars() -> None:
    assert redact_obj(f"token={OPAQUE_TOKEN}") == "token=[REDACTED]"
    assert redact_obj(42) == 42
    assert redact_obj(None) is None


# --- 5. properties ----------------------------------------------------------------------


@pytest.mark.parametrize("line", [p.values[0] for p in SECRET_LINES] + ORDINARY_LINES)
def test_idempotent(line: str) -> None:
    once = redact(line)
    assert redact(once) == once


def test_empty_string() -> None:
    assert redact("") == ""


def test_large_text_without_secrets_is_unchanged() -> None:
    chunk = "\n".join(ORDINARY_LINES) + "\n"
    text = chunk * (5_000_000 // len(chunk.encode()) + 1)
    assert len(text.encode()) >= 5_000_000
    assert redact(text) == text


def test_two_different_secrets_on_one_line() -> None:
    line = f"aws_access_key_id={AWS_KEY_ID} aws_secret_access_key={AWS_SECRET_2} bucket=s3://cv-datasets-prod"
    out = redact(line)
    assert AWS_KEY_ID[4:] not in out and AWS_SECRET_2 not in out
    assert "bucket=s3://cv-datasets-prod" in out
    assert out.count(MARK) == 2

    line = f"upload ?sv=2021-08-06&sig={SAS_SIG} as {SLACK_BOT} for project 0f6a3b2c-1d4e-4f5a-8b9c-0d1e2f3a4b5c"
    out = redact(line)
    assert SAS_SIG not in out and SLACK_BOT[5:] not in out
    assert out.count(MARK) == 2 and "0f6a3b2c-1d4e-4f5a-8b9c-0d1e2f3a4b5c" in out


def test_secret_in_multiline_log_only_touches_its_line() -> None:
    log = f"line one\nAZURE_CLIENT_SECRET={ENTRA_SECRET}\nline three token has expired\n"
    assert redact(log) == "line one\nAZURE_CLIENT_SECRET=[REDACTED]\nline three token has expired\n"


def test_text_whose_lowercase_changes_length_still_redacted() -> None:
    # "İ".lower() is two chars; label offsets found on the lowercased text must still line up.
    line = f"İstanbul bölgesi: password={DB_PASSWORD} user=triage İ token={OPAQUE_TOKEN}"
    assert redact(line) == "İstanbul bölgesi: password=[REDACTED] user=triage İ token=[REDACTED]"


def test_ignorecase_fallback_agrees_with_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.redact as mod

    lines = [p.values[0] for p in SECRET_LINES] + ORDINARY_LINES
    fast = [redact(line) for line in lines]
    monkeypatch.setattr(mod, "_lower", lambda text: None)  # as if lowercasing could not keep offsets
    assert [redact(line) for line in lines] == fast
