"""Does scribbling where the model is unsure (``convpaint.suggest``) help?  A simulated user.

For every DSB 2018 image (foreground = mask > 0, two classes) both arms start from the
same round-0 scribbles (``convpaint.scribbles.generate_scribbles``).  Each round the user
adds ``--strokes`` strokes of ``--length`` px (brush ``--width`` px), drawn by the same
function :func:`draw_stroke` in both arms; only *where* they start differs:

* random: at a random unannotated pixel of a class (classes taken in turn);
* guided: in each box of ``suggest(n=--strokes)`` at its most uncertain unannotated pixel,
  the class taken from the ground truth there.

After each round the model is retrained and scored (mIoU of the argmax of
``predict_proba`` against the ground truth, over the whole image); the table reports
rounds 0, 1, 2, 4, 8 (mean, std and IQR over images) and the paired difference.

    python benchmarks/guided_annotation.py --images 20 --rounds 8 --extractors ilastik,vgg16

vgg16 runs with ``weights="random"`` (no pretrained weights offline): random filters.
The table goes to stdout and, with ``--doc``, between the markers of docs/guided-annotation.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "dsb2018_stage1_train"
DOC = ROOT / "docs" / "guided-annotation.md"
BEGIN, END = "<!-- guided-annotation table -->", "<!-- end guided-annotation table -->"
EXTRACTORS = {"ilastik": {}, "vgg16": {"weights": "random"}}
ARMS = ("random", "guided")
START = {"peak": "the most uncertain free pixel", "random": "a random free pixel"}


# -- the simulated user --------------------------------------------------------------------
def draw_stroke(
    truth: np.ndarray,
    ann: np.ndarray,
    seed: tuple[int, int],
    length: int,
    width: int,
    rng: np.random.Generator,
    tries: int = 8,
) -> int:
    """Paint one straight stroke through ``seed`` into ``ann`` (in place); return pixels painted.

    The stroke's class is ``truth[seed]`` (label = class + 1).  Of ``tries`` random
    directions the one running longest inside the seed's class region wins (a user follows
    the object); the line is ``length`` px centred on the seed, cut where it leaves the
    region, widened with a ``width`` x ``width`` brush clipped to the region; annotated
    pixels are kept.
    """
    h, w = truth.shape
    k = truth[seed]
    region = truth == k
    best: np.ndarray | None = None
    for _ in range(tries):
        theta = rng.uniform(0, np.pi)
        d = np.array([np.sin(theta), np.cos(theta)])
        halves = []
        for sign in (-1, 1):
            pts = []
            for t in range(1, length // 2 + 1):
                y, x = np.rint(np.array(seed) + sign * t * d).astype(int)
                if not (0 <= y < h and 0 <= x < w and region[y, x]):
                    break
                pts.append((y, x))
            halves.append(pts)
        line = np.array(halves[0][::-1] + [seed] + halves[1], dtype=np.intp)
        if best is None or len(line) > len(best):
            best = line
    assert best is not None
    r = np.arange(width) - width // 2
    brush = np.stack(np.meshgrid(r, r, indexing="ij"), -1).reshape(-1, 2)
    pts = (best[:, None, :] + brush[None]).reshape(-1, 2)
    ok = (pts[:, 0] >= 0) & (pts[:, 0] < h) & (pts[:, 1] >= 0) & (pts[:, 1] < w)
    pts = pts[ok]
    pts = pts[region[pts[:, 0], pts[:, 1]] & (ann[pts[:, 0], pts[:, 1]] == 0)]
    ann[pts[:, 0], pts[:, 1]] = k + 1
    return len(np.unique(pts[:, 0] * w + pts[:, 1]))


def random_seeds(truth, ann, count, rng, turn):
    """``count`` random unannotated pixels, classes in turn (``turn`` continues the cycle)."""
    classes = np.unique(truth)
    seeds = []
    for i in range(count):
        k = classes[(turn + i) % len(classes)]
        free = np.flatnonzero((truth == k).ravel() & (ann.ravel() == 0))
        if len(free) == 0:
            free = np.flatnonzero(ann.ravel() == 0)
        y, x = np.unravel_index(int(free[rng.integers(len(free))]), truth.shape)
        seeds.append((int(y), int(x)))
    return seeds


def guided_seeds(u, ann, boxes, count, rng, where="peak"):
    """One unannotated pixel per box (boxes reused if fewer than count): the most uncertain
    one (``where="peak"``) or a random one (``"random"``: the box alone guides)."""
    free_u = np.where(ann == 0, u, -1.0)
    seeds = []
    for i in range(count):
        b = boxes[i % len(boxes)].box
        window = free_u[b]
        if where == "peak" or not (window >= 0).any():
            flat = int(np.argmax(window))
        else:
            free = np.flatnonzero(window.ravel() >= 0)
            flat = int(free[rng.integers(len(free))])
        y, x = np.unravel_index(flat, window.shape)
        seed = (int(b[0].start + y), int(b[1].start + x))
        free_u[seed] = -1.0  # a second stroke in a box starts elsewhere
        seeds.append(seed)
    return seeds


# -- one image -----------------------------------------------------------------------------
def run_image(sample, extractor, args):
    """{arm: {round: miou}}, {arm: pixels annotated at the end}, fallbacks, seconds."""
    from convpaint import ConvpaintModel
    from convpaint.evaluation.metrics import mean_iou
    from convpaint.scribbles import generate_scribbles
    from convpaint.suggest import suggest, uncertainty

    image, truth, axes = sample.load("instance")
    ss = np.random.SeedSequence([args.seed, zlib.crc32(sample.name.encode())])
    s0, s_random, s_guided = (int(s.generate_state(1)[0]) for s in ss.spawn(3))
    start = generate_scribbles(
        truth, args.start_coverage, line_length=args.length, line_width=args.width, seed=s0
    )
    # one model per image: its feature cache serves both arms and every round
    model = ConvpaintModel(extractor, seed=args.seed, progress=False, **EXTRACTORS[extractor])
    t0 = time.perf_counter()

    def fit(ann):
        model.train(image, ann, axes=axes)
        proba = model.predict_proba(image, axes=axes)
        pred = model.classes_[np.argmax(proba, axis=0)].astype(np.int64) - 1
        return proba, mean_iou(truth, pred)

    proba0, miou0 = fit(start)
    scores = {arm: {0: miou0} for arm in ARMS}
    pixels, fallbacks = {}, 0
    for arm, s in zip(ARMS, (s_random, s_guided), strict=True):
        rng = np.random.default_rng(s)
        ann, proba = start.copy(), proba0
        for r in range(1, args.rounds + 1):
            if arm == "random":
                seeds = random_seeds(truth, ann, args.strokes, rng, turn=(r - 1) * args.strokes)
            else:
                u = uncertainty(proba)
                boxes = suggest(
                    None, None, args.strokes, annotations=ann, proba=proba, box=args.box
                )
                if boxes:
                    seeds = guided_seeds(u, ann, boxes, args.strokes, rng, args.seed_in_box)
                else:  # the model is certain everywhere: nothing to suggest
                    fallbacks += 1
                    seeds = random_seeds(truth, ann, args.strokes, rng, turn=(r - 1) * args.strokes)
            for seed in seeds:
                draw_stroke(truth, ann, seed, args.length, args.width, rng)
            proba, scores[arm][r] = fit(ann)
        pixels[arm] = int(np.count_nonzero(ann))
    return scores, pixels, fallbacks, time.perf_counter() - t0


# -- report --------------------------------------------------------------------------------
def stats(values):
    v = np.asarray(values, float)
    q1, q3 = np.percentile(v, [25, 75])
    return f"{v.mean():.3f} ± {v.std():.3f} [{q1:.3f}–{q3:.3f}]"


def table(results, rounds, modalities):
    shown = [r for r in (0, 1, 2, 4, 8, 16) if r <= rounds]
    if rounds not in shown:
        shown.append(rounds)
    lines = [
        "| extractor | arm | " + " | ".join(f"round {r}" for r in shown) + " | px at end |",
        "|---|---|" + "---|" * (len(shown) + 1),
    ]
    for ext, rows in results.items():
        for arm in ARMS:
            cells = [stats([row["scores"][arm][r] for row in rows]) for r in shown]
            px = np.mean([row["pixels"][arm] for row in rows])
            lines.append(f"| {ext} | {arm} | " + " | ".join(cells) + f" | {px:.0f} |")
        diffs = []
        for r in shown:
            d = np.array([row["scores"]["guided"][r] - row["scores"]["random"][r] for row in rows])
            wins = int(np.sum(d > 0))
            diffs.append(f"{d.mean():+.3f} ± {d.std():.3f} ({wins}/{len(d)} better)")
        lines.append(f"| {ext} | guided − random | " + " | ".join(diffs) + " | |")
    lines.append("")
    lines.append(f"Per modality, round {rounds}, guided − random (mean ± std, images better):")
    lines.append("")
    lines.append("| extractor | " + " | ".join(modalities) + " |")
    lines.append("|---|" + "---|" * len(modalities))
    for ext, rows in results.items():
        cells = []
        for m in modalities:
            d = np.array(
                [
                    row["scores"]["guided"][rounds] - row["scores"]["random"][rounds]
                    for row in rows
                    if row["modality"] == m
                ]
            )
            cells.append(f"{d.mean():+.3f} ± {d.std():.3f} ({int(np.sum(d > 0))}/{len(d)})")
        lines.append(f"| {ext} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_doc(text: str, command: str, variant: str = "") -> None:
    """Replace the table between the markers (``variant``: a second pair of markers)."""
    from convpaint.io import atomic_write

    begin, end = (
        (BEGIN, END)
        if not variant
        else (BEGIN[:-4] + f": {variant} -->", END[:-4] + f": {variant} -->")
    )
    doc = DOC.read_text()
    if begin not in doc or end not in doc:
        raise SystemExit(f"{DOC} lacks the markers {begin!r} / {end!r}")
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    body = f"{begin}\n\nCommand: `{command}`\n\n{text}\n\n{end}"
    with atomic_write(DOC) as tmp:
        Path(tmp).write_text(head + body + tail)


def command_line(parser: argparse.ArgumentParser, args, extractors: list[str]) -> str:
    """The command that reproduces this run: the main options always, others if changed."""
    parts = [f"--images {args.images} --rounds {args.rounds} --extractors {','.join(extractors)}"]
    for action in parser._actions:
        dest = action.dest
        if dest in ("help", "images", "rounds", "extractors", "doc", "data"):
            continue
        value = getattr(args, dest)
        if value != action.default:
            parts.append(f"{action.option_strings[0]} {value}")
    return "python benchmarks/guided_annotation.py " + " ".join(parts) + " --doc"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=20, help="images, half fluorescence, half H&E")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--extractors", default="ilastik,vgg16")
    p.add_argument("--strokes", type=int, default=3, help="strokes per round (= suggested boxes)")
    p.add_argument("--length", type=int, default=20, help="stroke length in px")
    p.add_argument("--width", type=int, default=3, help="brush width in px")
    p.add_argument("--box", type=int, default=None, help="box edge (default: suggest's)")
    p.add_argument("--start-coverage", type=float, default=0.002, help="round-0 fraction")
    p.add_argument(
        "--seed-in-box",
        choices=("peak", "random"),
        default="peak",
        help="guided strokes start at the box's most uncertain free pixel or a random one",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--doc", action="store_true", help=f"write the table into {DOC.name}")
    args = p.parse_args(argv)
    extractors = [e.strip() for e in args.extractors.split(",") if e.strip()]
    bad = set(extractors) - set(EXTRACTORS)
    if bad or not extractors:
        p.error(f"--extractors: choose from {sorted(EXTRACTORS)}, got {args.extractors!r}")
    if args.images < 2 or args.rounds < 1 or args.strokes < 1:
        p.error("--images >= 2, --rounds >= 1 and --strokes >= 1")
    if not args.data.is_dir():
        print(f"no data at {args.data} (../shared/data): nothing to run", file=sys.stderr)
        return 1
    from convpaint.evaluation.datasets import open_dataset

    n_he = args.images // 2
    spec = f"fluorescence_gray:{args.images - n_he},HE_histology_rgb:{n_he}"
    dataset = open_dataset(args.data, spec)
    modalities = sorted({s.modality for s in dataset})
    results: dict[str, list] = {}
    started = time.perf_counter()
    for ext in extractors:
        rows = results.setdefault(ext, [])
        for sample in dataset:
            scores, pixels, fallbacks, secs = run_image(sample, ext, args)
            rows.append({"scores": scores, "pixels": pixels, "modality": sample.modality})
            last = {a: round(scores[a][args.rounds], 3) for a in ARMS}
            extra = f", {fallbacks} rounds without suggestions" if fallbacks else ""
            print(
                f"{ext} {sample.name} ({sample.modality}): {last} in {secs:.1f} s{extra}",
                file=sys.stderr,
                flush=True,
            )
    wall = time.perf_counter() - started
    text = table(results, args.rounds, modalities)
    text += (
        f"\n\nmIoU: mean ± std [IQR] over {len(dataset)} images ({spec}); "
        f"{args.strokes} strokes of {args.length} px (brush {args.width} px) per round in both "
        f"arms; guided strokes start at {START[args.seed_in_box]} of each box; "
        f"round 0: {args.start_coverage:.1%} scribbles. Wall time {wall / 60:.1f} min "
        f"on {os.cpu_count()} CPUs."
    )
    print(text)
    if args.doc:
        command = command_line(p, args, extractors)
        variant = "" if args.seed_in_box == "peak" else f"{args.seed_in_box} seed in box"
        write_doc(text, command, variant)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
