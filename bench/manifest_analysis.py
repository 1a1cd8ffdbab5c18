"""Generate a large Rekognition validation manifest, analyse it in a child process, print MB/s and peak memory.

    python bench/manifest_analysis.py                    # 1 GB, the documented maximum manifest size
    python bench/manifest_analysis.py --size-mb 100      # a quicker run
    python bench/manifest_analysis.py --keep /tmp/bench  # generate once, reuse on the next runs

The child runs what `triage diagnose FILE` runs (sniff the head, stream the analyser, build the
matches) and reports its own peak RSS (getrusage ru_maxrss), so the figure includes Python, the
imports and the playbook library, not only the analyser. It also prints the CPU time, which a
busy machine disturbs less than the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BUCKET = "s3://custom-labels-console-us-east-1-1111111111"
META = '"type": "groundtruth/{t}", "job-name": "labeling-job/{job}", "human-annotated": "yes", "creation-date": "2020-03-06T17:46:39.176"'
LABELS = ["Echo", "Echo Dot", "Sunrise", "Sunset", "football", "basketball", "comparator", "ir_led", "pot_resistor"]


def _ref(i: int) -> str:
    return f'"source-ref": "{BUCKET}/images/{i // 1000:05d}/{i:09d}.jpg"'


def classification(i: int, rng: random.Random, errors: str = "", line_errors: str = "") -> str:
    label = rng.choice(LABELS)
    meta = META.format(t="image-classification", job="sport")
    return (f'{{{_ref(i)}, "sport": {LABELS.index(label)}, "sport-metadata": {{"class-name": "{label}", '
            f'"confidence": {rng.random():.3f}, {meta}{errors}}}{line_errors}}}')


def box(rng: random.Random, cid: int, err: str = "") -> str:
    return (f'{{"class_id": {cid}, "top": {rng.randrange(400)}, "left": {rng.randrange(600)}, '
            f'"width": {rng.randrange(20, 300)}, "height": {rng.randrange(20, 300)}{err}}}')


def detection(i: int, rng: random.Random, bad_box: str = "", meta_err: str = "", line_err: str = "", n: int = 0) -> str:
    n = n or rng.randrange(1, 7)
    boxes = [box(rng, rng.randrange(2)) for _ in range(n)]
    if bad_box:
        boxes[0] = box(rng, 1, bad_box)
    objects = ", ".join(['{"confidence": 1}'] * n)
    meta = META.format(t="object-detection", job="bb")
    return (f'{{{_ref(i)}, "bounding-box": {{"image_size": [{{"width": 3000, "height": 2000, "depth": 3}}], '
            f'"annotations": [{", ".join(boxes)}]}}, "bounding-box-metadata": {{"objects": [{objects}], '
            f'"class-map": {{"0": "Echo", "1": "Echo Dot"}}, {meta}{meta_err}}}{line_err}}}')


def err(code: str, message: str, key: str = "errors") -> str:
    return f', "{key}": [{{"code": "{code}", "message": "{message}"}}]'


def bad_line(i: int, rng: random.Random) -> str:
    """One of several realistic error shapes, at the line, metadata and annotation levels."""
    pick = rng.randrange(8)
    if pick == 0:
        return detection(i, rng, bad_box=err("ERROR_BOUNDING_BOX_TOO_SMALL", "The height and width of the bounding box is too small."))
    if pick == 1:
        return detection(i, rng, bad_box=err("ERROR_INVALID_BOUNDING_BOX", "The bounding box has off-frame values."))
    if pick == 2:
        return classification(i, rng, line_errors=err("ERROR_INVALID_IMAGE", "The image is invalid. Check the S3 path and/or image properties."))
    if pick == 3:
        return detection(i, rng, meta_err=err("ERROR_MISSING_CLASS_MAP_ID", "One or more class IDs are missing from the class map."))
    if pick == 4:
        return detection(i, rng, n=55, line_err=err("ERROR_TOO_MANY_BOUNDING_BOXES", "The number of bounding boxes exceeds the allowed maximum."))
    if pick == 5:
        return '{"errors": [{"code": "ERROR_INVALID_JSON_LINE", "message": "The JSON line format is invalid."}]}'
    if pick == 6:
        return (classification(i, rng, errors=err("ERROR_UNSUPPORTED_USE_CASE_TYPE", "The use case type of the sport-metadata label attribute metadata is unsupported. Check the type field.", "cl-errors"))
                [:-1] + err("ERROR_NO_VALID_LABEL_ATTRIBUTES", "No valid label attributes found.", "cl-errors") + "}")
    return '{"source-ref": "https://bucket/images/x.jpg"' + err("ERROR_INVALID_SOURCE_REF_FORMAT", "The source reference value format is invalid.") + "}"


def warning_line(i: int, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f'{{{_ref(i)}{err("WARNING_UNANNOTATED_RECORD", "Record is unannotated.", "warnings")}}}'
    meta = META.format(t="object-detection", job="bb")
    return (f'{{{_ref(i)}, "bounding-box": {{"image_size": [{{"width": 640, "height": 480, "depth": 3}}], "annotations": []'
            f'{err("WARNING_NO_ATTRIBUTE_ANNOTATIONS", "No attribute annotations were found.", "warnings")}}}, '
            f'"bounding-box-metadata": {{"objects": [], "class-map": {{}}, {meta}}}'
            f'{err("WARNING_NO_ANNOTATIONS", "No annotations were found.", "warnings")}}}')


def generate(path: Path, size_mb: int, seed: int = 11) -> None:
    """About 2% lines with errors of 8 codes, 0.5% warnings; some valid lines carry empty errors arrays."""
    rng = random.Random(seed)
    target = size_mb * 1_000_000
    written = i = 0
    with path.open("w", encoding="utf-8") as f:
        while written < target:
            block = []
            for _ in range(5000):
                i += 1
                r = rng.random()
                if r < 0.02:
                    line = bad_line(i, rng)
                elif r < 0.025:
                    line = warning_line(i, rng)
                elif r < 0.5:
                    line = classification(i, rng, line_errors=', "errors": []' if r < 0.15 else "")
                else:
                    line = detection(i, rng, line_err=', "errors": []' if r > 0.85 else "")
                block.append(line)
            text = "\n".join(block) + "\n"
            f.write(text)
            written += len(text)


def _rss_now_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(path: str) -> None:
    from bot.commands.diagnose import diagnose_stream
    from bot.playbooks import cached

    cached()  # load the library outside the timed section, as a long-running bot would
    before = _rss_now_mb()
    start, cpu = time.perf_counter(), time.process_time()
    with open(path, "rb") as stream:
        result = diagnose_stream(stream)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    report = result.extra.get("manifest", {})
    print(json.dumps({
        "bytes": result.input_bytes, "lines": result.input_lines, "seconds": elapsed, "cpu_seconds": cpu,
        "rss_before_mb": before, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "kind": report.get("kind"), "invalid": report.get("invalid"), "ignored": report.get("ignored"),
        "codes": len(report.get("codes", [])), "matches": len(result.matches),
    }))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1000, help="manifest size in MB (default 1000)")
    ap.add_argument("--keep", metavar="DIR", help="keep the generated file in DIR and reuse it on later runs")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"training_manifest_with_validation-{args.size_mb}mb.json"
        if not path.exists():
            t = time.perf_counter()
            generate(path, args.size_mb)
            print(f"generated {path} in {time.perf_counter() - t:.0f} s")
        out = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(out.stderr)
        r = json.loads(out.stdout)
        mb = r["bytes"] / 1e6
        print(f"{mb:8.1f} MB  {r['lines']:>10,} lines  {r['seconds']:6.2f} s  {mb / r['seconds']:7.1f} MB/s  "
              f"(CPU {r['cpu_seconds']:.2f} s, {mb / r['cpu_seconds']:.0f} MB/s)  "
              f"peak RSS {r['peak_rss_mb']:6.1f} MB (before reading: {r['rss_before_mb']:.1f} MB)")
        print(f"  {r['kind']}: {r['invalid']:,} invalid, {r['ignored']:,} ignored, {r['codes']} codes, {r['matches']} matches")


if __name__ == "__main__":
    main()
