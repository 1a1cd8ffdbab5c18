"""Builders for realistic Rekognition manifest lines (shapes from seed 003, catalog §7)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

BUCKET = "custom-labels-console-us-east-1-1111111111"


def ref(n: int, bucket: str = BUCKET) -> str:
    return f"s3://{bucket}/images/{n:06d}.jpg"


def classification(n: int, label: str = "Sunrise", attr: str = "sport", **meta: Any) -> dict:
    line = {
        "source-ref": ref(n),
        attr: 1,
        f"{attr}-metadata": {
            "confidence": 1,
            "job-name": f"labeling-job/{attr}",
            "class-name": label,
            "human-annotated": "yes",
            "creation-date": "2020-03-06T17:46:39.176",
            "type": "groundtruth/image-classification",
        },
    }
    line[f"{attr}-metadata"].update(meta)
    return line


def detection(n: int, boxes: list[dict] | None = None, class_map: dict | None = None,
              size: tuple[int, int] = (640, 480), confidences: int | None = None) -> dict:
    boxes = boxes if boxes is not None else [
        {"class_id": 1, "top": 251, "left": 399, "width": 155, "height": 101},
        {"class_id": 0, "top": 65, "left": 86, "width": 220, "height": 334},
    ]
    return {
        "source-ref": ref(n),
        "bounding-box": {"image_size": [{"width": size[0], "height": size[1], "depth": 3}], "annotations": boxes},
        "bounding-box-metadata": {
            "objects": [{"confidence": 1}] * (len(boxes) if confidences is None else confidences),
            "class-map": class_map if class_map is not None else {"0": "Echo", "1": "Echo Dot"},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2013-11-18T02:53:27",
            "job-name": "my job",
        },
    }


def with_errors(line: dict, *codes: str, where: tuple = (), key: str = "errors") -> dict:
    """The line with validation entries added at `where` (a key path; () is the line itself)."""
    line = copy.deepcopy(line)
    target = line
    for part in where:
        target = target[part]
    target.setdefault(key, []).extend({"code": c, "message": f"message of {c}"} for c in codes)
    return line


def write_lines(path: Path, lines: list[Any], newline: str = "\n") -> Path:
    text = newline.join(x if isinstance(x, str) else json.dumps(x) for x in lines) + newline
    path.write_bytes(text.encode("utf-8"))
    return path


SEED_SUMMARY = {  # the seed's example (S3 L5507-5555), normalized
    "errors": [],
    "statistics": {
        "training": {
            "use_case": "NOT_DETERMINED",
            "total_json_lines": 301,
            "valid_json_lines": 146,
            "invalid_json_lines": 155,
            "ignored_json_lines": 0,
            "errors": [{"code": "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST",
                        "message": "The manifest file contains too many invalid rows."}],
            "error_json_line_indices": [15, 16, 17, 22, 23, 24, 300],
        },
        "testing": {
            "use_case": "NOT_DETERMINED",
            "total_json_lines": 15,
            "valid_json_lines": 13,
            "invalid_json_lines": 2,
            "ignored_json_lines": 0,
            "errors": [],
            "error_json_line_indices": [13, 15],
        },
    },
}
