"""The documented checks for one Ground Truth manifest line, reported with Rekognition's own codes.

Follows the seed: priority errors (S3 L5870-5881) stop the checks of their line; bounding-box
problems drop one annotation; warnings make the line ignored (valid but unused).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.manifests.codes import (
    MAX_BOXES_PER_IMAGE,
    MAX_LABEL_NAME_CHARS,
    MIN_BOX_PIXELS,
    PRIORITY,
    RESIZE_ABOVE_PX,
    TYPES,
)

# s3://bucket/key: bucket names are 3-63 characters (legacy us-east-1 buckets allow more, and
# capitals); the key names an object, not a folder.
S3_REF = re.compile(r"s3://([A-Za-z0-9][A-Za-z0-9._-]{1,254})/(\S.*)", re.DOTALL)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_BOX_KEYS = ("left", "top", "width", "height")
_NUMBERS = (int, float)  # compared with type(): True and False are not numbers here


@dataclass(frozen=True)
class Problem:
    code: str
    level: str  # line, attribute, metadata, annotation
    detail: str


@dataclass
class LineResult:
    """What Rekognition would make of one line."""

    status: str = "valid"  # valid, invalid or ignored
    problems: list[Problem] = field(default_factory=list)
    labels: dict[str, set[str]] = field(default_factory=dict)  # model type -> labels this line brings

    def add(self, code: str, level: str, detail: str) -> None:
        self.problems.append(Problem(code, level, detail))


class _Stop(Exception):
    """A priority error: Rekognition stops validating the line here."""


def check_source_ref(obj: dict) -> tuple[Problem | None, str | None]:
    """The source-ref problem of a line if any, and the image's bucket."""
    if "source-ref" not in obj:
        near = [k for k in obj if isinstance(k, str) and k.replace("_", "-").lower() in ("source-ref", "sourceref", "source")]
        hint = f" (found {near[0]!r}; the key is spelled source-ref)" if near else ""
        return Problem("ERROR_MISSING_SOURCE_REF", "line", f"no source-ref key{hint}"), None
    ref = obj["source-ref"]
    if not isinstance(ref, str):
        return Problem("ERROR_INVALID_SOURCE_REF_FORMAT", "line", f"source-ref is a {_kind(ref)}, not an s3:// string"), None
    m = S3_REF.fullmatch(ref)
    if m is None or ref.endswith("/"):
        return Problem("ERROR_INVALID_SOURCE_REF_FORMAT", "line", f"source-ref {ref[:120]!r} is not s3://bucket/key"), None
    return None, m.group(1)


def check_labels(obj: dict) -> LineResult:
    """Label attributes and their -metadata: schema, class map, confidences, boxes, names."""
    result = LineResult()
    meta_keys = [k for k, v in obj.items() if k.endswith("-metadata") and k != "cl-metadata"]
    try:
        if not meta_keys:
            if set(obj) == {"source-ref"}:
                result.add("WARNING_UNANNOTATED_RECORD", "line", "the line has only a source-ref: the image has no label")
                result.status = "ignored"
                return result
            others = ", ".join(sorted(k for k in obj if k != "source-ref"))[:120]
            _stop(result, "ERROR_NO_LABEL_ATTRIBUTES", "line", f"no <attribute>-metadata key next to {others}")
        states = [_attribute(obj, key, result) for key in meta_keys]
    except _Stop:
        result.status = "invalid"
        return result
    if "ok" in states:
        result.status = "valid"
    elif "invalid" in states or "unsupported" in states:
        result.status = "invalid"
        if "invalid" not in states:  # as in the seed's example (S3 L7131-7136)
            result.add("ERROR_NO_VALID_LABEL_ATTRIBUTES", "line", "no label attribute of a supported type")
    else:
        result.status = "ignored"
        result.add("WARNING_NO_ANNOTATIONS", "line", "human-annotated line without bounding boxes: valid but unused")
    return result


def _attribute(obj: dict, meta_key: str, result: LineResult) -> str:
    """Check one label attribute and its metadata: ok, invalid, unsupported or ignored."""
    name = meta_key[: -len("-metadata")]
    if name not in obj:
        _stop(result, "ERROR_NO_LABEL_ATTRIBUTES", "line", f"{meta_key} has no {name!r} label attribute")
    meta = obj[meta_key]
    if not isinstance(meta, dict):
        _stop(result, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "metadata", f"{meta_key} is a {_kind(meta)}, not an object")
    kind = meta.get("type")
    if not isinstance(kind, str) or not kind:
        _stop(result, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "metadata", f"{meta_key}.type is missing")
    if kind not in TYPES:
        result.add("ERROR_UNSUPPORTED_USE_CASE_TYPE", "metadata",
                   f"{meta_key}.type is {kind[:80]!r}; use groundtruth/image-classification or groundtruth/object-detection")
        return "unsupported"
    if meta.get("human-annotated") not in ("yes", "no"):
        _stop(result, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "metadata", f"{meta_key}.human-annotated must be \"yes\" or \"no\"")
    date = meta.get("creation-date")
    if not isinstance(date, str) or not _DATE.match(date):
        _stop(result, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "metadata", f"{meta_key}.creation-date is missing or not a date")
    if "job-name" in meta and not isinstance(meta["job-name"], str):
        _stop(result, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "metadata", f"{meta_key}.job-name is not a string")
    if TYPES[kind] == "classification":
        return _classification(obj, name, meta_key, meta, result)
    return _detection(obj, name, meta_key, meta, result)


def _classification(obj: dict, name: str, meta_key: str, meta: dict, result: LineResult) -> str:
    if not _number(obj[name]):
        _stop(result, "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "attribute", f"{name} is a {_kind(obj[name])}; image-level labels are a number")
    label = meta.get("class-name")
    if not isinstance(label, str) or not label.strip():
        _stop(result, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "metadata", f"{meta_key}.class-name is missing or empty")
    confidence = meta.get("confidence")
    if not _number(confidence) or not 0 <= confidence <= 1:
        _stop(result, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "metadata", f"{meta_key}.confidence is missing or not between 0 and 1")
    if len(label) > MAX_LABEL_NAME_CHARS:
        result.add("ERROR_INVALID_LABEL_NAME_LENGTH", "metadata", f"class-name has {len(label)} characters (max {MAX_LABEL_NAME_CHARS})")
        return "invalid"
    result.labels.setdefault("classification", set()).add(label)
    return "ok"


def _detection(obj: dict, name: str, meta_key: str, meta: dict, result: LineResult) -> str:
    attr = obj[name]
    if not isinstance(attr, dict):
        _stop(result, "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "attribute", f"{name} is a {_kind(attr)}, not an object")
    size = attr.get("image_size")
    first = size[0] if isinstance(size, list) and size else None
    if not isinstance(first, dict) or not all(_number(first.get(k)) and first[k] > 0 for k in ("width", "height")):
        _stop(result, "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "attribute", f"{name}.image_size must be [{{\"width\", \"height\", \"depth\"}}]")
    boxes = attr.get("annotations")
    if not isinstance(boxes, list):
        _stop(result, "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "attribute", f"{name}.annotations is missing or not a list")
    for i, box in enumerate(boxes):
        if (type(box) is not dict or not _integer(box.get("class_id")) or type(box.get("left")) not in _NUMBERS
                or type(box.get("top")) not in _NUMBERS or type(box.get("width")) not in _NUMBERS
                or type(box.get("height")) not in _NUMBERS):
            _stop(result, "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "attribute",
                  f"{name}.annotations[{i}] needs class_id, top, left, width and height numbers")
    class_map, objects = meta.get("class-map"), meta.get("objects")
    if not isinstance(class_map, dict) or not isinstance(objects, list):
        _stop(result, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "metadata", f"{meta_key} needs a class-map object and an objects list")
    missing = [i for i in range(len(boxes)) if i >= len(objects) or not isinstance(objects[i], dict) or "confidence" not in objects[i]]
    if missing:
        _stop(result, "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE", "metadata",
              f"{len(missing)} of {len(boxes)} boxes have no {meta_key}.objects[].confidence (first: annotations[{missing[0]}])")
    unmapped = sorted({_class_key(b) for b in boxes} - set(class_map))
    if unmapped:
        _stop(result, "ERROR_MISSING_CLASS_MAP_ID", "metadata", f"class_id {', '.join(unmapped[:5])} not in {meta_key}.class-map")
    if not all(isinstance(v, str) and v.strip() for v in class_map.values()):
        _stop(result, "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "metadata", f"{meta_key}.class-map values must be label names")
    long_names = [v for v in class_map.values() if len(v) > MAX_LABEL_NAME_CHARS]
    if long_names:
        result.add("ERROR_INVALID_LABEL_NAME_LENGTH", "metadata", f"a class-map label has {len(long_names[0])} characters (max {MAX_LABEL_NAME_CHARS})")
        return "invalid"
    if not boxes:
        result.add("WARNING_NO_ATTRIBUTE_ANNOTATIONS", "attribute", f"{name}.annotations is empty")
        return "ignored"
    if len(boxes) > MAX_BOXES_PER_IMAGE:
        result.add("ERROR_TOO_MANY_BOUNDING_BOXES", "attribute", f"{len(boxes)} bounding boxes (max {MAX_BOXES_PER_IMAGE})")
        return "invalid"
    width, height = first["width"], first["height"]
    scale = min(1.0, RESIZE_ABOVE_PX / max(width, height))
    labels: set[str] = set()
    for i, box in enumerate(boxes):
        left, top, w, h = (box[k] for k in _BOX_KEYS)
        if left < 0 or top < 0 or w < 0 or h < 0 or left + w > width or top + h > height:
            result.add("ERROR_INVALID_BOUNDING_BOX", "annotation",
                       f"annotations[{i}] left={left} top={top} width={w} height={h} is outside the {width}x{height} image")
        elif w * scale <= MIN_BOX_PIXELS or h * scale <= MIN_BOX_PIXELS:
            resized = f" ({w * scale:.1f}x{h * scale:.1f} after the resize to {RESIZE_ABOVE_PX} px)" if scale < 1 else ""
            result.add("ERROR_BOUNDING_BOX_TOO_SMALL", "annotation", f"annotations[{i}] is {w}x{h} px{resized}; boxes must be larger than 1x1")
        else:
            labels.add(class_map[_class_key(box)])
    if not labels:
        result.add("ERROR_NO_VALID_ANNOTATIONS", "attribute", f"none of the {len(boxes)} boxes in {name} is valid")
        return "invalid"
    result.labels.setdefault("detection", set()).update(labels)
    return "ok"


def _stop(result: LineResult, code: str, level: str, detail: str) -> None:
    assert code in PRIORITY
    result.add(code, level, detail)
    raise _Stop(code)


def _class_key(box: dict) -> str:
    """class-map keys are strings: class_id 1 (or 1.0) is looked up as "1"."""
    return str(int(box["class_id"]))


def _number(value: Any) -> bool:
    """A JSON number (not a boolean). Lines are parsed without NaN and Infinity, so it is finite or huge."""
    return type(value) in _NUMBERS


def _integer(value: Any) -> bool:
    return type(value) is int or type(value) is float and value.is_integer()


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")
