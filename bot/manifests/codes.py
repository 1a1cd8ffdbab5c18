"""Rekognition Custom Labels manifest codes and limits, as documented (seed 003, catalog §6-§8)."""

from __future__ import annotations

# Terminal manifest content errors (manifest_summary.json `errors[]`, catalog §6.6) and
# dataset-phase terminal file errors (DescribeDataset, catalog §6.3): the training or import fails.
TERMINAL = frozenset({
    "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST",
    "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS",
    "ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET",
    "ERROR_INVALID_IMAGES_S3_BUCKET_OWNER",
    "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT",
    "ERROR_MANIFEST_TOO_FEW_LABELS",
    "ERROR_MANIFEST_TOO_MANY_LABELS",
    "ERROR_INSUFFICIENT_LABEL_OVERLAP",
    "ERROR_MANIFEST_TOO_FEW_USABLE_LABELS",
    "ERROR_INSUFFICIENT_USABLE_LABEL_OVERLAP",
    "ERROR_FAILED_IMAGES_S3_COPY",
    "ERROR_TOO_MANY_RECORDS_IN_ERROR",
    "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
    "ERROR_MANIFEST_SIZE_TOO_LARGE",
    "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM",
    "ERROR_INVALID_PERMISSIONS_MANIFEST_S3_BUCKET",
    "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE",
})

# JSON-line errors that stop the validation of their line (S3 L5870-5881).
PRIORITY = frozenset({
    "ERROR_MISSING_SOURCE_REF",
    "ERROR_INVALID_SOURCE_REF_FORMAT",
    "ERROR_NO_LABEL_ATTRIBUTES",
    "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT",
    "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT",
    "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE",
    "ERROR_MISSING_CLASS_MAP_ID",
    "ERROR_INVALID_JSON_LINE",
})

# The seed's priority list spells one code without its prefix (catalog §9 item 5).
ALIASES = {"MISSING_SOURCE_REF": "ERROR_MISSING_SOURCE_REF"}

# Conditions the seed documents without a code: the image is silently removed from a dataset
# (catalog §6.3b) or the manifest is rejected (§6.5). The lint reports them under these names.
JSON_LINE_TOO_LONG = "JSON_LINE_TOO_LONG"
DUPLICATE_SOURCE_REF = "DUPLICATE_SOURCE_REF"
MANIFEST_EMPTY = "MANIFEST_EMPTY"
TOO_MANY_LABELS_PER_IMAGE = "TOO_MANY_LABELS_PER_IMAGE"
TEST_IMAGES_IN_TRAINING = "TEST_IMAGES_IN_TRAINING"
UNCODED_PLAYBOOKS = {
    JSON_LINE_TOO_LONG: "rekognition.dataset.terminal_content_error",
    DUPLICATE_SOURCE_REF: "rekognition.dataset.terminal_content_error",
    MANIFEST_EMPTY: "rekognition.training.manifest_empty",
}

# Limits (catalog §8). "1 GB" is read as 1 GiB; the seed does not say which.
INVALID_SHARE_LIMIT = 0.20
MAX_MANIFEST_BYTES = 1 << 30
MAX_JSON_LINE_CHARS = 100_000
MAX_LABEL_NAME_CHARS = 256
MAX_BOXES_PER_IMAGE = 50
MAX_LABELS_PER_IMAGE = 50
MAX_UNIQUE_LABELS = 250
MIN_UNIQUE_LABELS = {"classification": 2, "detection": 1}
MAX_ROWS = 250_000  # detection; classification's default, 500,000 after a quota increase
MAX_ROWS_CLASSIFICATION_RAISED = 500_000
MAX_ROWS_SMALL_REGIONS = {"training": 28_000, "testing": 7_000}  # ap-south-1, eu-west-2
MIN_LABEL_OVERLAP = 0.50
MIN_BOX_PIXELS = 1  # width and height must be greater than 1 px
RESIZE_ABOVE_PX = 1280  # images with a side above this are resized for training

TYPES = {
    "groundtruth/image-classification": "classification",
    "groundtruth/object-detection": "detection",
}

# English glosses of the documented messages (catalog §6), used when the lint reports a code.
MESSAGES = {
    "ERROR_MISSING_SOURCE_REF": "The source reference key is missing.",
    "ERROR_INVALID_SOURCE_REF_FORMAT": "The source reference value format is invalid.",
    "ERROR_NO_LABEL_ATTRIBUTES": "No label attributes were found.",
    "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT": "The format of the label attribute is invalid.",
    "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT": "The label attribute metadata format is invalid.",
    "ERROR_NO_VALID_LABEL_ATTRIBUTES": "No valid label attributes found.",
    "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE": "One or more bounding boxes are missing a confidence value.",
    "ERROR_MISSING_CLASS_MAP_ID": "One or more class IDs are missing from the class map.",
    "ERROR_INVALID_JSON_LINE": "The JSON line format is invalid.",
    "ERROR_INVALID_BOUNDING_BOX": "The bounding box has off-frame values.",
    "ERROR_NO_VALID_ANNOTATIONS": "No valid annotations were found.",
    "ERROR_BOUNDING_BOX_TOO_SMALL": "The height and width of the bounding box is too small.",
    "ERROR_TOO_MANY_BOUNDING_BOXES": "The number of bounding boxes exceeds the allowed maximum.",
    "ERROR_UNSUPPORTED_USE_CASE_TYPE": "The use case type of the label attribute metadata is unsupported. Check the type field.",
    "ERROR_INVALID_LABEL_NAME_LENGTH": "The label name is too long; the maximum is 256 characters.",
    "WARNING_UNANNOTATED_RECORD": "Record is unannotated.",
    "WARNING_NO_ANNOTATIONS": "No annotations were found.",
    "WARNING_NO_ATTRIBUTE_ANNOTATIONS": "No attribute annotations were found.",
    "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST": "The manifest file contains too many invalid rows.",
    "ERROR_TOO_MANY_RECORDS_IN_ERROR": "The manifest file has too many terminal errors.",
    "ERROR_IMAGES_IN_MULTIPLE_S3_BUCKETS": "The manifest file contains images from multiple S3 buckets.",
    "ERROR_MANIFEST_TOO_FEW_LABELS": "The manifest file has too few labels.",
    "ERROR_MANIFEST_TOO_FEW_USABLE_LABELS": "The manifest file has too few usable labels.",
    "ERROR_MANIFEST_TOO_MANY_LABELS": "The manifest file has too many labels.",
    "ERROR_INSUFFICIENT_LABEL_OVERLAP": "Less than 50% label overlap between the training and test manifest files.",
    "ERROR_MANIFEST_SIZE_TOO_LARGE": "The manifest file size exceeds the maximum supported size.",
    "ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM": "The manifest file has too many rows.",
    JSON_LINE_TOO_LONG: "The JSON line is too long; the maximum is 100,000 characters (no error code: the image is removed).",
    DUPLICATE_SOURCE_REF: "The source-ref already appears on an earlier line; an image may be referenced once per dataset (no error code: the image is removed).",
    MANIFEST_EMPTY: "The manifest file is empty.",
    TOO_MANY_LABELS_PER_IMAGE: "More than 50 labels on one image (quota; no documented error code).",
    TEST_IMAGES_IN_TRAINING: "The same image is in the training and the test manifest; the datasets must not overlap (no documented error code).",
}

# Checks the lint cannot make offline, and why.
NOT_CHECKED = {
    "ERROR_INVALID_IMAGE": "needs the image (format PNG/JPEG, 15 MB, aspect ratio 20:1)",
    "ERROR_INVALID_IMAGE_DIMENSION": "needs the image (64 to 4,096 px per side)",
    "ERROR_INVALID_PERMISSIONS_IMAGES_S3_BUCKET": "needs AWS access to the image bucket",
    "ERROR_INVALID_IMAGES_S3_BUCKET_OWNER": "needs AWS access (bucket owner IDs)",
    "ERROR_FAILED_IMAGES_S3_COPY": "needs AWS access to the images",
    "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_AUTOSPLIT": "depends on the split Rekognition makes",
}


def canonical(code: str) -> str:
    """The documented spelling of a code."""
    return ALIASES.get(code, code)


def playbook_id(code: str) -> str:
    """The playbook that explains a code (`rekognition.<CODE>` for documented codes)."""
    return UNCODED_PLAYBOOKS.get(code, f"rekognition.{canonical(code)}")


def is_warning(code: str) -> bool:
    return code.startswith("WARNING_")
