"""A small stand-in playbook library, so provider tests check our wiring, not the shipped YAML's wording.

Use the `standin_library` fixture: `diagnose_text` and the by-ID lookups then see only these.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

STANDINS = {
    "customvision.training_failed": {"patterns": ['"status"\\s*:\\s*"Failed"']},
    "customvision.insufficient_training_images": {"codes": ["BadRequestTrainingValidationFailed"]},
    "rekognition.status.TRAINING_FAILED": {"statuses": ["TRAINING_FAILED"]},
    "rekognition.model.COPYING_FAILED": {"statuses": ["COPYING_FAILED"]},
    "rekognition.ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST": {"codes": ["ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST"]},
    "rekognition.ERROR_INVALID_SOURCE_REF_FORMAT": {"codes": ["ERROR_INVALID_SOURCE_REF_FORMAT"]},
    "rekognition.ERROR_MISSING_CLASS_MAP_ID": {"codes": ["ERROR_MISSING_CLASS_MAP_ID"]},
    "rekognition.ERROR_BOUNDING_BOX_TOO_SMALL": {"codes": ["ERROR_BOUNDING_BOX_TOO_SMALL"]},
}


def write_standins(root: Path) -> Path:
    for pid, match in STANDINS.items():
        service, rest = pid.split(".", 1)
        d = root / service
        d.mkdir(parents=True, exist_ok=True)
        doc = {
            "id": pid,
            "service": service,
            "severity": "error",
            "retryable": False,
            "title": {"en": f"stand-in {pid}", "ja": f"代役 {pid}"},
            "summary": {"en": "test stand-in", "ja": "テスト用"},
            "match": match,
            "steps": [{"en": f"first step of {pid}", "ja": "手順"}],
            "source": [{"url": "https://example.invalid/test"}],
            "examples": [{"text": "unused"}],
        }
        (d / f"{rest}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return root


@pytest.fixture
def standin_library(tmp_path, monkeypatch):
    from bot import diagnosis
    from bot.playbooks import load_all

    library = tuple(load_all(write_standins(tmp_path / "standin-playbooks")))
    monkeypatch.setattr(diagnosis, "cached", lambda directory=None: library)
    monkeypatch.setattr(diagnosis, "_ENGINES", {})
    monkeypatch.setattr(diagnosis, "_RELATED", {})
    return library
