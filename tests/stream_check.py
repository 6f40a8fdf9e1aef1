"""Checks the --json output of `pecore stream` (tests/test_stream_cli.sh).

usage: stream_check.py live OUT.jsonl FRAMES_PER_SCENE LABEL...
       stream_check.py counts OUT.jsonl FRAMES [MIN_DROPPED_FRACTION]
       stream_check.py field OUT.jsonl NAME        prints summary[NAME]
       stream_check.py pace FRAMES FPS FRAME_FILE REPORT   paced writer on stdout
Every line must parse as JSON; exit 1 with the reasons on a failure."""
import json
import sys
import time


def load(path):
    results, summary = [], None
    with open(path) as f:
        for no, line in enumerate(f, 1):
            try:
                obj = json.loads(line)
            except ValueError as e:
                sys.exit(f"{path}:{no}: not JSON ({e}): {line[:120]!r}")
            if "summary" in obj:
                summary = obj["summary"]
            else:
                results.append(obj)
    if summary is None:
        sys.exit(f"{path}: no summary line")
    return results, summary


def check_counts(results, s, frames, bad):
    if s["frames_in"] != frames:
        bad.append(f"frames_in {s['frames_in']}, the input had {frames}")
    if s["processed"] + s["dropped"] + s["failed"] != s["frames_in"]:
        bad.append(f"processed {s['processed']} + dropped {s['dropped']} + failed {s['failed']}"
                   f" != frames_in {s['frames_in']}")
    if s["failed"]:
        bad.append(f"{s['failed']} frames failed")
    if len(results) != s["processed"]:
        bad.append(f"{len(results)} result lines, summary says {s['processed']} processed")
    frames_seen = [r["frame"] for r in results]
    if frames_seen != sorted(set(frames_seen)):
        bad.append("results are not in frame order")
    for r in results:
        for key in ("frame", "t_ms", "latency_ms", "labels", "smoothed", "stable", "changed",
                    "scene_cut"):
            if key not in r:
                bad.append(f"frame {r.get('frame')}: no {key!r}")
                return
        if not r["latency_ms"] > 0 or not r["labels"]:
            bad.append(f"frame {r['frame']}: latency {r['latency_ms']}, labels {r['labels']}")
            return
    if not (s["latency_p50_ms"] <= s["latency_p99_ms"] <= s["latency_max_ms"]):
        bad.append(f"latency p50 {s['latency_p50_ms']} p99 {s['latency_p99_ms']} "
                   f"max {s['latency_max_ms']}")


def live(path, per_scene, labels):
    results, s = load(path)
    bad = []
    check_counts(results, s, per_scene * len(labels), bad)
    # Each scene's label becomes stable during the scene, and the stable
    # label changes at most once per scene cut.
    for i, label in enumerate(labels):
        mine = [r for r in results if i * per_scene <= r["frame"] < (i + 1) * per_scene]
        if not mine:
            bad.append(f"scene {i} ({label}): no results")
        elif mine[-1]["stable"] != label:
            bad.append(f"scene {i} ({label}): stable at its end is {mine[-1]['stable']}")
    stables = [r["stable"] for r in results if r["stable"] is not None]
    changes = sum(1 for a, b in zip(stables, stables[1:]) if a != b)
    if changes > len(labels) - 1:
        bad.append(f"the stable label changed {changes} times over {len(labels) - 1} cuts: "
                   f"{stables}")
    print(f"live: {s['frames_in']} frames in, {s['processed']} processed, {s['dropped']} "
          f"dropped, {changes} stable changes, {s['fps']} results/s, latency p50 "
          f"{s['latency_p50_ms']} ms", file=sys.stderr)
    return bad


def counts(path, frames, min_dropped):
    results, s = load(path)
    bad = []
    check_counts(results, s, frames, bad)
    if s["dropped"] < min_dropped * frames:
        bad.append(f"only {s['dropped']} of {frames} dropped")
    return bad


def pace(frames, fps, frame_file, report):
    """Writes the frame `frames` times at `fps`; reports how late it fell
    behind its schedule (a reader that stopped draining the pipe blocks it)."""
    data = open(frame_file, "rb").read()
    out = sys.stdout.buffer
    t0 = time.monotonic()
    worst = 0.0
    for i in range(frames):
        due = t0 + i / fps
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        a = time.monotonic()
        out.write(data)
        out.flush()
        worst = max(worst, time.monotonic() - a)
    elapsed = time.monotonic() - t0
    with open(report, "w") as f:
        json.dump({"elapsed_s": elapsed, "planned_s": frames / fps, "worst_write_s": worst}, f)


def main():
    mode = sys.argv[1]
    if mode == "pace":
        pace(int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5])
        return
    if mode == "field":
        print(load(sys.argv[2])[1][sys.argv[3]])
        return
    if mode == "live":
        bad = live(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    else:
        bad = counts(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 0)
    for b in bad:
        print("stream_check: " + b, file=sys.stderr)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
