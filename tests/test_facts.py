"""Facts read from real texts: quoted, never invented, and filled into the steps."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.commands.diagnose import diagnose_text
from bot.playbooks import cached

CORPUS = Path(__file__).resolve().parent / "corpus"


def corpus_text(name: str) -> str:
    return yaml.safe_load((CORPUS / name).read_text(encoding="utf-8"))["text"]


def example_text(playbook_id: str, i: int = 0) -> str:
    return next(pb for pb in cached() if pb.id == playbook_id).examples[i].text


# (text, service, playbook, facts that must be read, a fragment of a filled step)
CASES = [
    (
        "(OutOfQuota) Not enough quota available for Standard_NC6s_v3 in SubscriptionId 6d2c0f7e-1b5a-4c1e-9d6e-2f1a7c3b9e40."
        " Current usage/limit: 4/10. Additional needed: 8 Please see troubleshooting guide, available here: https://aka.ms/oe-tsg#error-outofquota",
        "azureml-endpoint", "azureml.endpoint.ERR_1100",
        {"instance_type": "Standard_NC6s_v3", "usage": "4", "limit": "10", "needed": "8"},
        "Standard_NC6s_v3 uses 4 of its 10 cores in this region and the deployment needs 8 more",
    ),
    (
        corpus_text("azureml-job/aml-job-amllabs-8-dsv2-family-quota-0.yaml"), "azureml-job", "azureml.job.compute_quota",
        {"vm_family": "Standard DSv2", "limit": "0", "needed": "4"}, "the Standard DSv2 quota, limit 0 cores, 4 cores needed",
    ),
    (
        corpus_text("azureml-endpoint/aml-ep-examples-pr4008-no-module-azureml-ai.yaml"), "azureml-endpoint",
        "azureml.endpoint.ERR_2200.missing_package", {"module": "azureml.ai"}, "could not import azureml.ai",
    ),
    (
        corpus_text("azureml-job/aml-job-cliext-2346-jobfailed-no-tensorflow.yaml"), "azureml-job", "azureml.job.missing_package",
        {"module": "tensorflow", "job": "ml1_1599945715_8211f6ca", "workspace": "ml1"}, "The job could not import tensorflow",
    ),
    (
        corpus_text("azureml-job/aml-job-mlopstemplatev2-9-httpresponseerror-computes-read.yaml"), "azureml-job",
        "azureml.job.authorization_failed",
        {"principal": "0dae0dfa-9a0d-4999-9500-8a8656d419e2", "action": "Microsoft.MachineLearningServices/workspaces/computes/read",
         "workspace": "avadevitsmlsvc"},
        "--assignee 0dae0dfa-9a0d-4999-9500-8a8656d419e2",
    ),
    (
        corpus_text("azureml-endpoint/aml-ep-mlops-v2-120-probe-502.yaml"), "azureml-endpoint",
        "azureml.endpoint.ERR_2200.probe_misconfigured", {"status_code": "502"}, None,
    ),
    (
        corpus_text("azureml-endpoint/aml-ep-legacy-examples-1068-model-file-not-found.yaml"), "azureml-endpoint",
        "azureml.endpoint.ERR_2200.init_error",
        {"path": "/var/azureml-app/azureml-models/sklearn_creditcard_model/5/sklearn_creditcard_model.pkl"}, None,
    ),
    (
        corpus_text("azureml-job/aml-job-mlnotebooks-1029-streamaccess-notfound-pipeline.yaml"), "azureml-job",
        "azureml.job.data_access", {"path": "https://pipelinedata.blob.core.chinacloudapi.cn/sampledata/batchscoring/images/"}, None,
    ),
    (
        corpus_text("azureml-job/aml-job-sdk-10921-no-matching-distribution-azureml-samples.yaml"), "azureml-job",
        "azureml.job.image_build_failure", {"package": "azureml-samples"}, None,
    ),
    (
        example_text("azureml.job.out_of_memory"), "azureml-job", "azureml.job.out_of_memory",
        {"requested": "2.00 GiB", "available": "1.12 GiB"}, None,
    ),
    (
        corpus_text("azureml-job/aml-job-examples-2614-batch-job-user-process-42.yaml"), "azureml-job",
        "azureml.job.user_script_error", {"exit_code": "42"}, None,
    ),
]


@pytest.mark.parametrize("text,service,playbook,facts,step", CASES, ids=[c[2] for c in CASES])
def test_facts_are_read_from_real_text_and_fill_the_steps(text, service, playbook, facts, step):
    best = diagnose_text(text, service=service, top=1).matches[0]
    assert best.id == playbook
    for name, value in facts.items():
        assert best.facts.get(name) == value, f"{name}: read {best.facts.get(name)!r}"
    assert all(value in text for value in best.facts.values()), "every fact is a quote of the text"
    if step:
        assert any(step in s.text or step in (s.run or "") for s in best.steps), [s.text for s in best.steps]
    # The facts that name a ticket field prefill it when a ticket is drafted from this paste.
    from bot.playbooks.fields import FACT_TICKET_FIELDS

    prefill = {FACT_TICKET_FIELDS[n]: v for n, v in facts.items() if n in FACT_TICKET_FIELDS}
    if prefill:
        fields = _drafted_fields(text, service)
        assert {k: fields.get(k) for k in prefill} == prefill


def _drafted_fields(text: str, service: str) -> dict[str, str]:
    import io

    from bot.commands.ticket import diagnose_and_save, failure_from_diagnosis
    from bot.store import open_store

    store = open_store(None)
    diagnosis_id = diagnose_and_save(store, io.BytesIO(text.encode()), actor="U1", service=service, lang="en")
    return failure_from_diagnosis(store, diagnosis_id, "en").fields


def test_a_missing_fact_leaves_a_readable_placeholder():
    best = diagnose_text("ResourceNotReady: User container has crashed or terminated\nModuleNotFoundError: No module named", service="azureml-endpoint", top=1).matches[0]
    assert best.id == "azureml.endpoint.ERR_2200.missing_package" and "module" not in best.facts
    assert "could not import <module>" in best.steps[0].text
    assert "--endpoint-name <endpoint>" in best.steps[0].run


def test_facts_in_japanese_steps_and_json():
    text = "(OutOfQuota) Not enough quota available for Standard_DS3_v2. Current usage/limit: 8/10. Additional needed: 4"
    result = diagnose_text(text, service="azureml-endpoint", lang="ja", top=1)
    assert "上限 10 コアのうち 8 コアを使用中で、デプロイにはさらに 4 コア必要です" in result.matches[0].steps[0].text
    assert result.to_json()["matches"][0]["facts"] == {"instance_type": "Standard_DS3_v2", "usage": "8", "limit": "10", "needed": "4"}


def test_a_fact_that_holds_a_secret_is_dropped_not_shown():
    text = "az ml online-deployment get-logs -e my-endpoint\nModuleNotFoundError: No module named 'AKIAABCDEFGHIJKLMNOP'\n"
    best = diagnose_text(text, service="azureml-endpoint", top=1).matches[0]
    assert best.facts.get("endpoint") == "my-endpoint"
    assert "AKIAABCDEFGHIJKLMNOP" not in str(best.to_json())


def test_facts_prefill_the_ticket_fields_of_the_same_meaning():
    import io

    from bot.commands.ticket import diagnose_and_save, failure_from_diagnosis
    from bot.store import open_store

    text = (
        "az ml online-deployment create --endpoint-name credit-ep --name blue -f blue.yml\n"
        "(OutOfQuota) Not enough quota available for Standard_NC6s_v3 in SubscriptionId 6d2c0f7e-1b5a-4c1e-9d6e-2f1a7c3b9e40."
        " Current usage/limit: 4/10. Additional needed: 8\n"
    )
    store = open_store(None)
    diagnosis_id = diagnose_and_save(store, io.BytesIO(text.encode()), actor="U1", service="azureml-endpoint", lang="en")
    failure = failure_from_diagnosis(store, diagnosis_id, "en")
    assert failure.matches[0].id == "azureml.endpoint.ERR_1100"
    assert failure.fields["endpoint"] == "credit-ep" and failure.fields["deployment"] == "blue"
    assert failure.fields["instance_type"] == "Standard_NC6s_v3"
    assert failure.fields["quota_usage"] == "4/10 cores used, 8 more needed"
    assert failure.matches[0].evidence[0].role == "match" and failure.matches[0].evidence[-1].role == "context"
