"""The redaction table: one row per way a secret reaches us, with what must go and what must stay.

Every value is fabricated (obviously fake, real shape). A row is (text, must_go, must_stay):
each string in must_go must be absent from the redacted text, each in must_stay present.
"""

from __future__ import annotations

import base64

import pytest

from bot.redact import MARK, redact


def _fill(prefix: str, n: int, alphabet: str = "0123456789") -> str:
    return prefix + (alphabet * n)[: n - len(prefix)]


def _b64url(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


PW = "Fake-Passw0rd-42"
PW_HASH = "fake#pass/w0rd@x"  # "#", "/" and "@" inside one password
PW_WORDS = "correct horse battery"
ACR_PW = _fill("FakeAcrPasswordForTests+", 52, "Ab3=/")
ENTRA_NEW = "Tst8Q~" + _fill("FakeClientSecretForUnitTests.", 34, "0_~")
ENTRA_OLD = "Z5r.Dk[x=:G7_H-@M?wFake]eJzvYbKq1*8"  # pre-2021 shape: no Q~ marker
AWS_ID = "AKIAFAKETEST0000EXMP"
AWS_SECRET = _fill("fAkE/tEsT+SeCrEt", 40, "Ab0")
AWS_SESSION = "IQoJb3JpZ2luX2VjEFAKE" + _fill("TestSessionToken", 120, "Ab0+/") + "=="
JWT = ".".join([
    _b64url('{"alg":"RS256","typ":"JWT","kid":"test-key-000"}'),
    _b64url('{"aud":"https://ml.azure.com","sub":"fake-test-user-0000","exp":4102444800}'),
    _b64url("fake-signature-bytes-for-unit-tests-only-0000"),
])
STORAGE_KEY = _fill("FakeStorageKeyForUnitTestsOnly+/", 86, "AbCd0123+/") + "=="
CV_KEY = "f00dfeed00000000000000000000cafe"
SAS_SIG = "FAKEsig0TestOnly1234567890abcdefABCDEF%2B%2F0%3D"
SAS_SIG_ENC = "FAKEsig0TestOnly1234567890abcdef%252B0%253D"
GH_PAT = "ghp_" + _fill("FakeGitHubTokenForTests", 36)
GH_SERVER = "ghs_" + _fill("FakeGitHubAppTokenTests", 36)
GL_PAT = "glpat-" + _fill("FakeGitLab0Token", 20, "xY9")
GL_DEPLOY = "gldt-" + _fill("FakeGitLabDeploy", 20, "q7")
GL_RUNNER = "glrt-" + _fill("FakeRunnerToken", 20, "z3")
HF = "hf_" + _fill("FakeHuggingFaceTokenForTests", 34, "abcXYZ")
HF_ORG = "api_org_" + _fill("FakeHuggingFaceOrgToken", 34, "qrsQRS")
OPENAI = "sk-" + _fill("FakeOpenAIKey0TestOnly", 48, "aB3")
OPENAI_PROJ = "sk-proj-" + _fill("FakeOpenAIProjectKey0Tests", 74, "Zz9_-") + "T3BlbkFJ" + _fill("tail", 74, "q1")
NPM = "npm_" + _fill("FakeNpmTokenForTests", 36, "k8")
DATABRICKS = "dapi" + "0123456789abcdef0123456789abcdef"
GOOGLE = "AIza" + _fill("SyFakeGoogleKeyForTests_", 35, "x-9")
AWS_A3T = "A3TXFAKETEST0000EXMP"
AWS_ABIA = "ABIAFAKETEST0000EXMP"
AWS_ACCA = "ACCAFAKETEST0000EXMP"
ADO_PAT = "fakeado0pat0test0abcdefghijklmnopqrstuvwxyz234567abcd"[:52]
DOCKER_AUTH = base64.b64encode(b"fakeuser:" + PW.encode()).decode()
KEY_HEX = "0123456789abcdef0123456789abcdef"  # a 32-hex key when labelled

GUID = "0f6a3b2c-1d4e-4f5a-8b9c-0d1e2f3a4b5c"
GUID2 = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
SUB = "00000000-1111-2222-3333-444444444444"
SHA40 = "3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
DIGEST32 = "92a029f831ce58d2ed011c3c42d35acb"
DIGEST64 = "5d41402abc4b2a76b9719d911017c592ae2b3c7d8e9f00112233445566778899"
ARN = "arn:aws:rekognition:us-east-1:123456789012:project/my_project/version/v1/1627045542080"
REQ = "6f1c2a7e-2b1d-4c3e-9f8a-0b1c2d3e4f5a"


def row(text: str, go: str | tuple[str, ...], stay: str | tuple[str, ...] = (), id: str = "") -> pytest.param:
    go = (go,) if isinstance(go, str) else go
    stay = (stay,) if isinstance(stay, str) else stay
    return pytest.param(text, go, stay, id=id or None)


TABLE = [
    # --- short and positional flags --------------------------------------------------------
    row(f"docker login -u ci -p {PW} myreg.azurecr.io", PW, ("docker login -u ci -p", "myreg.azurecr.io"), "docker-login-p"),
    row(f"docker login --username ci --password {PW} myreg.azurecr.io", PW, "myreg.azurecr.io", "docker-login-password"),
    row(f"+ docker login myreg.azurecr.io -u 00000000-0000-0000-0000-000000000000 -p '{PW_WORDS}'", PW_WORDS,
        "00000000-0000-0000-0000-000000000000", "docker-login-p-quoted"),
    row(f"podman login -u ci -p={PW} quay.io", PW, "quay.io", "podman-login"),
    row(f"helm registry login myreg.azurecr.io -u ci -p {PW}", PW, "helm registry login myreg.azurecr.io", "helm-registry-login"),
    row(f"az acr login -n myreg -u myreg -p {ACR_PW}", ACR_PW, "-n myreg -u myreg", "az-acr-login-p"),
    row(f"az login --service-principal -u {GUID} -p {ENTRA_NEW} --tenant {SUB}", ENTRA_NEW, (GUID, f"--tenant {SUB}"), "az-login-sp"),
    row(f"az login --service-principal -u {GUID} -p {ENTRA_OLD} --tenant {SUB}", (ENTRA_OLD, "eJzvYbKq1", "G7_H"), (GUID, SUB), "az-login-old-secret"),
    row(f"az login -u ops@contoso.com -p {PW}", PW, "ops@contoso.com", "az-login-user"),
    row(f"mysql -h db.contoso.com -u root -p{PW} triage", PW, ("db.contoso.com", "triage"), "mysql-attached"),
    row(f"mysqldump -uroot -p{PW} --databases cv", PW, "--databases cv", "mysqldump"),
    row("mysql -h db.contoso.com -u root -p triage", (), "-p triage", "mysql-prompt-stays"),
    row(f"sshpass -p '{PW}' ssh azureuser@10.0.0.4", PW, "ssh azureuser@10.0.0.4", "sshpass-quoted"),
    row(f"sshpass -p{PW} scp model.onnx azureuser@10.0.0.4:/tmp", PW, "model.onnx", "sshpass-attached"),
    row(f"curl -u admin:{PW} https://registry.contoso.com/v2/_catalog", PW, ("admin:", "registry.contoso.com/v2/_catalog"), "curl-u"),
    row(f"curl --user admin:{PW_HASH} https://registry.contoso.com/", PW_HASH, "registry.contoso.com", "curl-user-hash"),
    row(f'curl -s -u "admin:{PW_WORDS}" https://x.contoso.com/api', PW_WORDS, "https://x.contoso.com/api", "curl-u-quoted"),
    row("curl -u $USER:$PASS https://x.contoso.com/api", (), "$USER:$PASS", "curl-env-ref-stays"),
    row(f"aws configure set aws_secret_access_key {AWS_SECRET}", AWS_SECRET, "aws_secret_access_key", "aws-configure-secret"),
    row(f"aws configure set aws_session_token {AWS_SESSION}", AWS_SESSION, "aws_session_token", "aws-configure-session"),
    row(f"aws configure set aws_access_key_id {AWS_ID}", AWS_ID[4:], "aws_access_key_id AKIA", "aws-configure-key-id"),
    row("aws configure set region us-east-1", (), "region us-east-1", "aws-configure-region-stays"),
    row(f"kubectl create secret docker-registry acr --docker-server=myreg.azurecr.io --docker-username=ci --docker-password={PW}",
        PW, "--docker-username=ci", "kubectl-docker-password"),
    row(f"kubectl create secret generic db --from-literal=password={PW}", PW, "--from-literal=password=", "kubectl-from-literal"),
    row("docker run -p 8080:80 -p 5001:5001 myreg.azurecr.io/score:1", (), ("-p 8080:80", "-p 5001:5001"), "docker-run-ports-stay"),
    row("ssh -p 2222 azureuser@10.0.0.4", (), "-p 2222", "ssh-port-stays"),
    row("python -u train.py --epochs 3", (), "python -u train.py --epochs 3", "python-u-stays"),
    row("mysql -P 3306 -u root -pS3cretPw triage", "S3cretPw", "-P 3306", "mysql-port-stays"),
    row(f"az ml online-endpoint invoke -n ep --key {KEY_HEX}", KEY_HEX, "-n ep", "az-flag-key"),
    row(f"--client-secret={ENTRA_OLD} --tenant {SUB}", ENTRA_OLD, SUB, "flag-old-entra-secret"),

    row(f"PGPASSWORD={PW} psql -h db.contoso.com -U ci", PW, "psql -h db.contoso.com -U ci", "env-prefix-then-command"),
    row(f"machine api.contoso.com login ci password {PW}", PW, "machine api.contoso.com login ci password", "netrc-line"),
    row(f"machine api.contoso.com\n  login ci\n  password {PW}\n", PW, ("login ci", "password "), "netrc-fields"),
    row("Password incorrect", (), "Password incorrect", "password-prose-two-words-stays"),
    row("wandb login 0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567", "wandb login",
        "wandb-login"),
    row(f'<add key="ClearTextPassword" value="{PW}" />', PW, 'key="ClearTextPassword"', "nuget-config"),
    row('<add key="Timeout" value="30" />', (), 'value="30"', "xml-setting-stays"),

    row(f"python train.py --db_password {PW} --epochs 3", PW, "--epochs 3", "flag-with-underscores"),
    row(f"--hf_token={HF}", HF[3:], "--hf_token=", "flag-underscore-equals"),

    # --- credentials in JSON and YAML ----------------------------------------------------------
    row('{\n  "passwords": [\n    {\n      "name": "password",\n      "value": "' + ACR_PW + '"\n    },\n'
        '    {\n      "name": "password2",\n      "value": "' + ACR_PW[::-1] + '"\n    }\n  ],\n  "username": "myreg"\n}',
        (ACR_PW, ACR_PW[::-1]), ('"username": "myreg"', '"name": "password2"'), "acr-credential-show"),
    row(f'{{"name": "password", "value": "{ACR_PW}"}}', ACR_PW, '"name": "password"', "acr-credential-compact"),
    row(f'{{"auths": {{"myreg.azurecr.io": {{"auth": "{DOCKER_AUTH}"}}}}}}', DOCKER_AUTH, "myreg.azurecr.io", "docker-config-auth"),
    row(f'    "auth": "{DOCKER_AUTH}",', DOCKER_AUTH, '"auth": ', "docker-config-auth-line"),
    row(f'{{"identitytoken": "{JWT}"}}', JWT, "identitytoken", "docker-identitytoken"),
    row(f'{{"primaryKey": "{KEY_HEX}", "secondaryKey": "{KEY_HEX[::-1]}"}}', (KEY_HEX, KEY_HEX[::-1]), "primaryKey", "aml-get-credentials"),
    row(f"primaryKey: {KEY_HEX}", KEY_HEX, "primaryKey:", "primary-key-yaml"),
    row(f"secondary_key = {KEY_HEX}", KEY_HEX, "secondary_key", "secondary-key-ini"),
    row(f'{{"key1": "{CV_KEY}", "key2": "{CV_KEY[::-1]}"}}', (CV_KEY, CV_KEY[::-1]), '"key1"', "cognitive-keys-list"),
    row(f"  password: {PW_WORDS}", PW_WORDS, "password:", "yaml-password-words"),
    row(f"  password: {PW_HASH}", PW_HASH, "password:", "yaml-password-hash"),
    row(f"password: {PW} # rotated monthly", PW, ("password:", "# rotated monthly"), "yaml-password-comment"),
    row("  password: hunter", "hunter", "password:", "yaml-password-no-digit"),
    row(f"  db_password: '{PW_WORDS}'", PW_WORDS, "db_password:", "yaml-password-single-quoted"),
    row(f'  admin_password: "{PW_WORDS}"', PW_WORDS, "admin_password:", "yaml-password-double-quoted"),
    row(f"- password: {PW}", PW, "- password:", "yaml-list-password"),
    row(f"password = {PW_WORDS}", PW_WORDS, "password =", "ini-password-words"),
    row(f"  passphrase: {PW_WORDS}", PW_WORDS, "passphrase:", "yaml-passphrase"),
    row(f"- name: AZURE_CLIENT_SECRET\n  value: {ENTRA_OLD}", ENTRA_OLD, "- name: AZURE_CLIENT_SECRET", "k8s-env-secret"),
    row(f"- name: DB_PASSWORD\n  value: \"{PW_WORDS}\"", PW_WORDS, "- name: DB_PASSWORD", "k8s-env-password"),
    row("- name: DB_HOST\n  value: db.contoso.com", (), "value: db.contoso.com", "k8s-env-host-stays"),
    row("- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef:\n      name: db", (), "secretKeyRef", "k8s-secret-ref-stays"),
    row(f'{{"name": "OPENAI_API_KEY", "value": "{OPENAI}"}}', OPENAI, "OPENAI_API_KEY", "env-json-name-value"),
    row(f"client_secret: {ENTRA_OLD}", (ENTRA_OLD, "eJzvYbKq1"), "client_secret:", "yaml-client-secret-old"),
    row(f'"clientSecret": "{ENTRA_NEW}"', ENTRA_NEW, '"clientSecret"', "json-client-secret"),
    row(f"storage_account_key: {STORAGE_KEY}", STORAGE_KEY, "storage_account_key", "yaml-storage-key"),
    row(f'"connectionString": "DefaultEndpointsProtocol=https;AccountName=cvstore;AccountKey={STORAGE_KEY};EndpointSuffix=core.windows.net"',
        STORAGE_KEY, ("AccountName=cvstore", "EndpointSuffix=core.windows.net"), "json-connection-string"),
    row(f"<ClientSecret>{ENTRA_OLD}</ClientSecret><TenantId>{SUB}</TenantId>", ENTRA_OLD, f"<TenantId>{SUB}</TenantId>", "xml-element-secret"),
    row(f"<connectionString>Endpoint=sb://x.servicebus.windows.net/;SharedAccessKey={KEY_HEX}</connectionString>", KEY_HEX,
        "<connectionString>Endpoint=sb://x.servicebus.windows.net/", "xml-element-connection-string"),
    row(f"'password' => '{PW}',", PW, "'password' => '", "php-array"),
    row(f"AZURE_OPENAI_KEY => '{KEY_HEX}'", KEY_HEX, "AZURE_OPENAI_KEY => '", "env-key-fat-arrow"),
    row(f'{{\\"パスワード\\": \\"{PW}\\"}}', PW, "パスワード", "ja-label-escaped-json"),
    row(f"DB_PASS：{PW}", PW, "DB_PASS：", "env-pass-fullwidth-colon"),
    row('  password: "${DB_PASSWORD}"', (), "${DB_PASSWORD}", "yaml-placeholder-stays"),
    row("  password: <your-password>", (), "<your-password>", "yaml-angle-placeholder-stays"),
    row("  password: ********", (), "********", "yaml-stars-stay"),
    row("  secretName: cv-credentials", (), "cv-credentials", "secret-name-stays"),
    row('  "auth_mode": "key"', (), '"auth_mode": "key"', "auth-mode-stays"),
    row("  auth_mode: aml_token", (), "aml_token", "auth-mode-yaml-stays"),
    row('{"tokenType": "Bearer", "expiresOn": "2024-05-01T10:00:00Z"}', (), '"tokenType": "Bearer"', "token-type-stays"),

    # --- environment dumps ----------------------------------------------------------------------
    row(f"AZURE_CLIENT_SECRET={ENTRA_OLD}", (ENTRA_OLD, "eJzvYbKq1"), "AZURE_CLIENT_SECRET=", "env-client-secret-old"),
    row(f"export AZURE_OPENAI_KEY={KEY_HEX}", KEY_HEX, "export AZURE_OPENAI_KEY=", "env-openai-key"),
    row(f"CUSTOM_VISION_TRAINING_KEY={CV_KEY}", CV_KEY, "CUSTOM_VISION_TRAINING_KEY", "env-cv-key"),
    row(f"SMTP_PASS={PW}", PW, "SMTP_PASS=", "env-pass"),
    row(f"REDIS_PASS={PW_HASH}", PW_HASH, "REDIS_PASS=", "env-pass-hash"),
    row(f"MYSQL_PWD={PW}", PW, "MYSQL_PWD=", "env-pwd"),
    row(f"DB_PASSWORD={PW}", PW, "DB_PASSWORD=", "env-password"),
    row(f"WANDB_API_KEY={KEY_HEX}{KEY_HEX[:8]}", KEY_HEX, "WANDB_API_KEY=", "env-wandb"),
    row(f"HF_TOKEN={HF}", HF[3:], "HF_TOKEN=", "env-hf-token"),
    row(f"MLFLOW_TRACKING_TOKEN={PW}", PW, "MLFLOW_TRACKING_TOKEN", "env-tracking-token"),
    row(f"DATABRICKS_TOKEN={DATABRICKS}", DATABRICKS[4:], "DATABRICKS_TOKEN=", "env-databricks"),
    row(f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", AWS_SECRET, "AWS_SECRET_ACCESS_KEY=", "env-aws-secret"),
    row(f"AWS_SESSION_TOKEN={AWS_SESSION}", AWS_SESSION, "AWS_SESSION_TOKEN=", "env-aws-session"),
    row(f"APP_SECRET={PW}", PW, "APP_SECRET=", "env-app-secret"),
    row(f"declare -x SLACK_SIGNING_SECRET=\"{KEY_HEX}\"", KEY_HEX, "declare -x SLACK_SIGNING_SECRET", "env-declare"),
    row(f"$env:AZURE_CLIENT_SECRET = \"{ENTRA_NEW}\"", ENTRA_NEW, "$env:AZURE_CLIENT_SECRET", "env-powershell"),
    row(f"set STORAGE_KEY={STORAGE_KEY}", STORAGE_KEY, "set STORAGE_KEY=", "env-cmd-set"),
    row(f'"Env": ["PATH=/usr/bin", "OPENAI_API_KEY={OPENAI}", "LANG=C.UTF-8"]', OPENAI, ("PATH=/usr/bin", "LANG=C.UTF-8"), "docker-inspect-env"),
    row(f"      AZURE_OPENAI_KEY:  {KEY_HEX}", KEY_HEX, "AZURE_OPENAI_KEY:", "kubectl-describe-env"),
    row("      SSH_KEY:  <set to the key 'id' in secret 'ssh'>", (), "<set to the key 'id' in secret 'ssh'>", "kubectl-describe-ref-stays"),
    row("KMS_KEY=arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", (),
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "env-kms-arn-stays"),
    row("SSH_KEY=~/.ssh/id_ed25519", (), "~/.ssh/id_ed25519", "env-key-path-stays"),
    row("AZUREML_RUN_ID=cv_train_1714550000_0f6a3b2c", (), "cv_train_1714550000_0f6a3b2c", "env-run-id-stays"),
    row("PWD=/home/azureuser/cloudfiles/code", (), "PWD=/home/azureuser/cloudfiles/code", "env-pwd-dir-stays"),
    row("TOKENIZERS_PARALLELISM=false", (), "TOKENIZERS_PARALLELISM=false", "env-tokenizers-stays"),
    row("MAX_TOKENS=4096", (), "MAX_TOKENS=4096", "env-max-tokens-stays"),
    row("PARTITION_KEY_COLUMN=customer_id", (), "customer_id", "env-partition-key-stays"),

    # --- encodings ---------------------------------------------------------------------------
    row('{"url": "https://cvstore.blob.core.windows.net/c/b.jpg?sv=2022-11-02\\u0026se=2030-01-01T00%3A00%3A00Z'
        f'\\u0026sr=b\\u0026sp=r\\u0026sig={SAS_SIG}"}}', SAS_SIG, ("sv=2022-11-02", "se=2030-01-01T00%3A00%3A00Z", "sp=r"), "sas-json-escaped"),
    row("https://login.contoso.com/cb?next=https%3A%2F%2Fcvstore.blob.core.windows.net%2Fc%2Fb.jpg%3Fsv%3D2022-11-02"
        f"%26se%3D2030-01-01%26sp%3Drl%26sig%3D{SAS_SIG_ENC}%26sr%3Db", SAS_SIG_ENC, ("%26se%3D2030-01-01", "%26sp%3Drl", "%26sr%3Db"),
        "sas-percent-encoded"),
    row(f"GET /c/b.jpg?sv=2022-11-02&se=2030-01-01T00:00:00Z&sp=racwdl&sig={SAS_SIG} 403", SAS_SIG,
        ("se=2030-01-01T00:00:00Z", "sp=racwdl", " 403"), "sas-plain"),
    row(f"キー：{CV_KEY}", CV_KEY, "キー：", "ja-key-fullwidth-colon"),
    row(f"主キー: {KEY_HEX}", KEY_HEX, "主キー: ", "ja-primary-key"),
    row(f"パスワード: {PW}", PW, "パスワード: ", "ja-password"),
    row(f"パスワード：{PW}（先月変更）", PW, ("パスワード：", "（先月変更）"), "ja-password-fullwidth-paren"),
    row(f"アクセスキー＝{STORAGE_KEY}", STORAGE_KEY, "アクセスキー＝", "ja-access-key-fullwidth-equals"),
    row(f"トークン: {OPENAI}", OPENAI, "トークン: ", "ja-token"),
    row(f"キー：{CV_KEY}のプロジェクト ID：{GUID} で失敗しました", CV_KEY, (f"のプロジェクト ID：{GUID} で失敗しました",), "ja-key-then-id"),
    row(f"password={PW}、プロジェクト {GUID}、イテレーション {GUID2}", PW, (f"、プロジェクト {GUID}、イテレーション {GUID2}",), "ja-ideographic-comma"),
    row(f"api_key={KEY_HEX}　リソース {SUB}", KEY_HEX, f"　リソース {SUB}", "ja-ideographic-space"),
    row("キー: なし", (), "キー: なし", "ja-key-none-stays"),
    row("学習に失敗しました。トークンの有効期限が切れています。", (), "トークンの有効期限が切れています", "ja-prose-stays"),
    row(f"Authorization：Bearer {JWT}", JWT, "Authorization：Bearer ", "fullwidth-colon-header"),
    row(f"password＝{PW}", PW, "password＝", "fullwidth-equals"),
    row(f'"password": "{PW}\\u0026more"', PW, '"password": ', "json-escaped-value"),

    # --- wrapped secrets ----------------------------------------------------------------------
    row(f"2024-05-01T10:00:00Z stderr F export AZURE_CLIENT_SECRET={ENTRA_NEW[:20]}\n{ENTRA_NEW[20:]}\nnext line",
        (ENTRA_NEW[:20], ENTRA_NEW[20:]), ("AZURE_CLIENT_SECRET=", "next line"), "wrapped-env-secret"),
    row(f"2024-05-01T10:00:00Z INFO  azureml.core: Authorization: Bearer {JWT[:60]}\n{JWT[60:]}\nINFO done",
        (JWT[:60], JWT[60:]), ("Authorization: Bearer", "INFO done"), "wrapped-jwt-bearer"),
    row(f"2024-05-01T10:00:00Z INFO token refreshed for ml.azure.com {JWT[:70]}\n{JWT[70:]}", (JWT[:70], JWT[70:]),
        "token refreshed for ml.azure.com", "wrapped-bare-jwt"),
    row(f"2024-05-01T10:00:00Z WARNING storage key in use: AccountKey={STORAGE_KEY[:40]}\n{STORAGE_KEY[40:]}",
        (STORAGE_KEY[:40], STORAGE_KEY[40:]), "AccountKey=", "wrapped-account-key"),
    row(f"password:\n  {PW}\nuser: ci", PW, ("password:", "user: ci"), "value-on-next-line"),
    row(f"client_secret: |\n  {ENTRA_OLD}\ntenant: {SUB}", ENTRA_OLD, ("client_secret: |", SUB), "yaml-block-scalar"),
    row(f"キー：\n{CV_KEY}\nエンドポイント: https://cv.cognitiveservices.azure.com/", CV_KEY,
        ("キー：", "エンドポイント: https://cv.cognitiveservices.azure.com/"), "ja-value-next-line"),
    row("password:\n  dbuser: ci", (), "dbuser: ci", "next-line-key-stays"),
    row(f"AZURE_CLIENT_SECRET={PW}\n{GUID}", PW, GUID, "guid-after-masked-short-line-stays"),
    row("\n".join(["2024-05-01T10:00:00Z stderr F -----BEGIN RSA PRIVATE KEY-----",
                   *[f"2024-05-01T10:00:00Z stderr F {_fill(f'MIIEpFAKE{i}', 64, 'TestKey0+/')}" for i in range(3)],
                   "2024-05-01T10:00:00Z stderr F -----END RSA PRIVATE KEY-----", "2024-05-01T10:00:01Z stderr F loaded"]),
        tuple(_fill(f"MIIEpFAKE{i}", 64, "TestKey0+/") for i in range(3)), ("-----END RSA PRIVATE KEY-----", "loaded"), "pem-log-prefix"),
    row("\n".join(["pod/score-7f9 | -----BEGIN PRIVATE KEY-----",
                   *[f"pod/score-7f9 | {_fill(f'MIIEvFAKE{i}', 64, 'TestKey0+/')}" for i in range(3)],
                   "[log truncated]"]),
        tuple(_fill(f"MIIEvFAKE{i}", 64, "TestKey0+/") for i in range(3)), ("-----BEGIN PRIVATE KEY-----", "[log truncated]"),
        "pem-log-prefix-truncated"),

    # --- tokens as URL users; passwords with # / @ -------------------------------------------
    row(f"git clone https://{GH_PAT}@github.com/contoso/cv.git", GH_PAT[4:], "@github.com/contoso/cv.git", "url-user-github"),
    row(f"git clone https://{ADO_PAT}@dev.azure.com/contoso/cv/_git/cv", ADO_PAT, "@dev.azure.com/contoso/cv/_git/cv", "url-user-ado-pat"),
    row(f"pip install --index-url https://{OPENAI}@pkgs.contoso.com/simple torch", OPENAI, "@pkgs.contoso.com/simple torch", "url-user-token"),
    row("https://azureuser@10.0.0.4/share and git@github.com:contoso/cv.git", (), ("https://azureuser@10.0.0.4/share", "git@github.com:contoso/cv.git"),
        "url-user-name-stays"),
    row(f"postgresql://triage:{PW_HASH}@meta-db.internal:5432/triage", PW_HASH, ("postgresql://triage:", "@meta-db.internal:5432/triage"), "url-password-hash-slash-at"),
    row("mongodb://ci:p@ss/w#rd@mongo.contoso.com:27017/db", "p@ss/w#rd", "@mongo.contoso.com:27017/db", "url-password-specials"),
    row(f"https://ci:{PW}@registry.npmjs.org/@types%2fnode", PW, "@registry.npmjs.org/@types%2fnode", "url-password-npm-scope"),
    row(f"redis://:{PW}@cache.contoso.com:6380", PW, "@cache.contoso.com:6380", "url-password-no-user"),
    row(f"https://oauth2:{GL_PAT}@gitlab.com/contoso/cv.git", GL_PAT[6:], "@gitlab.com/contoso/cv.git", "url-gitlab-oauth2"),
    row("see https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints#container-cannot-be-scheduled",
        (), "how-to-troubleshoot-online-endpoints#container-cannot-be-scheduled", "url-fragment-stays"),
    row("http://localhost:5001/score (port 5001)", (), "http://localhost:5001/score", "url-port-stays"),

    # --- well-known token shapes ------------------------------------------------------------
    row(f"token {GH_PAT} rejected", GH_PAT[4:], ("ghp_", "rejected"), "github-pat"),
    row(f"GITHUB_TOKEN: {GH_SERVER}", GH_SERVER[4:], "GITHUB_TOKEN", "github-app"),
    row(f"using {GL_PAT} for the registry", GL_PAT[6:], ("glpat-", "for the registry"), "gitlab-pat"),
    row(f"deploy token {GL_DEPLOY} ok", GL_DEPLOY[5:], "deploy token gldt-", "gitlab-deploy"),
    row(f"runner registered with {GL_RUNNER}", GL_RUNNER[5:], "runner registered", "gitlab-runner"),
    row(f"login({HF}) failed: 401", HF[3:], ("login(hf_", "failed: 401"), "huggingface"),
    row(f"org token {HF_ORG} expired", HF_ORG[8:], "expired", "huggingface-org"),
    row(f"openai.AuthenticationError: Incorrect API key provided: {OPENAI}.", OPENAI[3:], "Incorrect API key provided", "openai-legacy"),
    row(f"client = OpenAI(api_key='{OPENAI_PROJ}')", OPENAI_PROJ[8:], "OpenAI(api_key=", "openai-project"),
    row(f"//registry.npmjs.org/:_authToken={NPM}", NPM[4:], "//registry.npmjs.org/:_authToken=", "npm-authtoken"),
    row(f"npm token {NPM} created", NPM[4:], "created", "npm-bare"),
    row(f"databricks configure --token with {DATABRICKS}", DATABRICKS[4:], "databricks configure", "databricks-bare"),
    row(f"maps key {GOOGLE} used", GOOGLE[4:], "used", "google-api-key"),
    row(f"aws_access_key_id {AWS_A3T}", AWS_A3T[4:], "aws_access_key_id", "aws-a3t"),
    row(f"key id {AWS_ABIA} and {AWS_ACCA}", (AWS_ABIA[4:], AWS_ACCA[4:]), "key id", "aws-abia-acca"),
    row(f"{AWS_ID},{AWS_SECRET}", (AWS_ID[4:], AWS_SECRET), (), "aws-credentials-csv"),
    row(f"client secret {ENTRA_NEW} expires 2025-06-01", ENTRA_NEW, "expires 2025-06-01", "entra-new-bare"),
    row(f"Authorization: Bearer {JWT}", JWT, "Authorization: Bearer", "jwt-bearer"),
    row(f"id_token={JWT}&state=abc", JWT, "&state=abc", "jwt-form"),
    row(f"Ocp-Apim-Subscription-Key: {KEY_HEX}", KEY_HEX, "Ocp-Apim-Subscription-Key", "apim-header"),
    row(f"Training-Key: {CV_KEY}", CV_KEY, "Training-Key", "cv-training-key-header"),
    row(f"x-functions-key: {KEY_HEX}", KEY_HEX, "x-functions-key", "functions-key-header"),
    row(f'{{"Credentials": {{"AccessKeyId": "{AWS_ID}", "SecretAccessKey": "{AWS_SECRET}", "SessionToken": "{AWS_SESSION}"}}}}',
        (AWS_ID[4:], AWS_SECRET, AWS_SESSION), '"SessionToken"', "sts-assume-role-json"),
    row(f"https://b.s3.amazonaws.com/k?X-Amz-Credential={AWS_ID}%2F20240501&X-Amz-Security-Token={AWS_SESSION}"
        "&X-Amz-Signature=0123456789abcdef0123456789abcdef&X-Amz-Expires=3600", (AWS_ID[4:], AWS_SESSION, "0123456789abcdef0123456789abcdef"),
        "X-Amz-Expires=3600", "s3-presigned-url"),
    row("UserId: AROAFAKETEST0000EXMP:botocore-session-1714550000", (), "AROAFAKETEST0000EXMP", "aws-role-id-stays"),
    row("task-runner-0000000000000000000001 started", (), "task-runner-0000000000000000000001", "task-id-stays"),
    row("disk-0f6a3b2c1d4e4f5a8b9c0d1e2f3a4b5c attached", (), "disk-0f6a3b2c1d4e4f5a8b9c0d1e2f3a4b5c", "disk-id-stays"),

    # --- what must survive -------------------------------------------------------------------
    row(f"Custom Vision project {GUID} iteration {GUID2} failed", (), (GUID, GUID2), "guids"),
    row(f"x-ms-request-id: {REQ}", (), REQ, "ms-request-id"),
    row(f"x-ms-client-request-id={REQ}", (), REQ, "ms-client-request-id"),
    row(f"x-amzn-RequestId: {REQ}", (), REQ, "amzn-request-id"),
    row(f'{{"requestId": "{REQ}", "correlationId": "{GUID}"}}', (), (REQ, GUID), "json-request-ids"),
    row(f"Pulling image myreg.azurecr.io/azureml/azureml_{DIGEST32}:latest", (), DIGEST32, "aml-image-digest"),
    row(f"image: myreg.azurecr.io/azureml/azureml_{DIGEST32}", (), DIGEST32, "aml-image-yaml"),
    row(f"Digest: sha256:{DIGEST64}", (), DIGEST64, "sha256-digest"),
    row(f"commit {SHA40} (HEAD -> main)", (), SHA40, "git-sha"),
    row(f"GIT_COMMIT={SHA40}", (), SHA40, "git-sha-env"),
    row(f"Merge: {SHA40[:7]} {SHA40[7:14]}", (), (SHA40[:7], SHA40[7:14]), "git-short-shas"),
    row(f"se=2030-01-01T00%3A00%3A00Z&sp=rl&sig={SAS_SIG}", SAS_SIG, ("se=2030-01-01T00%3A00%3A00Z", "sp=rl"), "sas-se-sp"),
    row(ARN, (), ARN, "rekognition-arn"),
    row(f"deploying to /subscriptions/{SUB}/resourceGroups/rg-cv/providers/Microsoft.MachineLearningServices/wor…", (),
        f"/subscriptions/{SUB}/resourceGroups/rg-cv/providers/", "cut-resource-path-stays"),
    row(f"token refreshed {OPENAI[:30]}…", OPENAI[3:30], "token refreshed sk-", "cut-known-prefix"),
    row("Principal: arn:aws:iam::123456789012:role/RekognitionTrainer", (), "arn:aws:iam::123456789012:role/RekognitionTrainer", "iam-arn"),
    row(f"/subscriptions/{SUB}/resourceGroups/rg-cv/providers/Microsoft.CognitiveServices/accounts/cv-train",
        (), f"/subscriptions/{SUB}/resourceGroups/rg-cv/providers/Microsoft.CognitiveServices/accounts/cv-train", "resource-id"),
    row(f"subscription: {SUB}", (), SUB, "subscription-label"),
    row(f"Tracking id: {GUID}, Correlation id: {GUID2}, Timestamp: 2024-05-01 10:00:00Z", (), (GUID, GUID2), "aad-tracking-ids"),
    row("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent is the client secret value.", (),
        "AADSTS7000215", "aadsts-stays"),
    row("Failed to get token: ManagedIdentityCredential authentication unavailable", (), "ManagedIdentityCredential", "token-prose-stays"),
    row("Bearer authentication failed for endpoint cv-scoring (HTTP 401)", (), "cv-scoring", "bearer-prose-stays"),
    row("password reset required for user triage-bot", (), "triage-bot", "password-prose-stays"),
    row("client_secret: ********", (), "********", "stars-stay"),
    row("password=${DB_PASSWORD} token={{ slack_token }}", (), ("${DB_PASSWORD}", "{{ slack_token }}"), "templates-stay"),
    row("request: max_tokens=256 temperature=0.2", (), "max_tokens=256", "max-tokens-stays"),
    row("OOMKilled: container exited with code 137", (), "code 137", "exit-code-stays"),
    row(f"ERROR_MANIFEST_SIZE_TOO_LARGE in {ARN}", (), ARN, "error-code-and-arn"),
    row("Liveness probe failed: HTTP probe failed with statuscode: 502", (), "statuscode: 502", "probe-stays"),
    row(f"job cv_train_{SHA40[:8]} run {GUID} step 12/40 loss=0.123", (), (GUID, f"cv_train_{SHA40[:8]}"), "job-ids"),
    row(f"model_version_arn: {ARN}", (), ARN, "arn-label"),
    row("endpoint: cv-scoring deployment: blue instance_type: Standard_DS3_v2", (), "Standard_DS3_v2", "aml-names"),
]


@pytest.mark.parametrize("text,go,stay", TABLE)
def test_redaction_table(text: str, go: tuple[str, ...], stay: tuple[str, ...]) -> None:
    out = redact(text)
    for secret in go:
        assert secret not in out, f"{secret!r} leaked in {out!r}"
    for kept in stay:
        assert kept in out, f"{kept!r} lost in {out!r}"
    if go:
        assert MARK in out
    else:
        assert out == text, "nothing secret here, so nothing may change"
    assert redact(out) == out  # idempotent


def test_table_is_large_enough() -> None:
    assert len(TABLE) >= 150


# --- redact before truncation: evidence lines are cut at 400 characters by the matcher ----------

CUT_SECRETS = [
    AWS_ID,
    "password=" + PW,
    "AccountKey=" + STORAGE_KEY,
    ENTRA_NEW,
    GL_PAT,
    JWT,
]


@pytest.mark.parametrize("secret", CUT_SECRETS, ids=lambda s: s[:12])
@pytest.mark.parametrize("visible", [6, 12, 20])
def test_secret_cut_by_the_evidence_limit_is_still_masked(tmp_path, secret, visible):
    """The matcher keeps 399 characters and an ellipsis; a secret straddling that cut must not leak its head.

    Labelled values and known prefixes are recognised in the cut text. An unlabelled key with no
    prefix (an 84-char Azure key) cut to a few characters cannot be: the matcher must redact
    before it cuts (bot/playbooks/matcher.py, not this module's to change).
    """
    import json
    import subprocess
    import sys
    from pathlib import Path

    lead = "ResourceNotReady: User container has crashed or terminated "
    line = lead + "x" * (399 - visible - len(lead) - 1) + " " + secret + " and the rest of a long line"
    log = tmp_path / "long.log"
    log.write_text(line + "\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "bot", "diagnose", "--json", str(log)], capture_output=True, text=True,
                       env={"PYTHONPATH": str(Path(__file__).resolve().parent.parent), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert r.returncode == 0, r.stderr
    texts = [e["text"] for m in json.loads(r.stdout)["matches"] for e in m["evidence"]]
    assert texts and all(t.endswith("…") for t in texts)
    value = secret.split("=", 1)[-1]
    shown = value[: max(0, visible - (len(secret) - len(value)))]
    for t in texts:
        assert len(shown) < 4 or shown not in t, f"{shown!r} leaked in {t[-60:]!r}"


def test_redact_obj_masks_the_value_of_a_secret_name_value_pair():
    from bot.redact import redact_obj

    doc = {"passwords": [{"name": "password", "value": ACR_PW}, {"name": "password2", "value": ACR_PW[::-1]}], "username": "myreg",
           "env": [{"name": "AZURE_CLIENT_SECRET", "value": ENTRA_OLD}, {"name": "DB_HOST", "value": "db.contoso.com"}]}
    out = redact_obj(doc)
    assert [p["value"] for p in out["passwords"]] == [MARK, MARK]
    assert out["env"][0]["value"] == MARK and out["env"][1]["value"] == "db.contoso.com"
    assert out["username"] == "myreg" and out["passwords"][1]["name"] == "password2"
