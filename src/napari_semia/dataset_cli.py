"""``napari-semia generate``: a synthetic training set from a trained model.

Kept apart from ``cli.py``, which only registers the command. Heavy imports
(torch, dask) happen when the command runs, not when the parser is built.
"""

from __future__ import annotations

import argparse
import math
import sys

from .errors import SemiaInputError

EXIT_PAIRS_FAILED = 1
#: Every command's status after Ctrl-C (``cli`` uses it too): 128 + SIGINT.
EXIT_INTERRUPTED = 130


def _id_list(text: str) -> tuple[int, ...]:
    try:
        ids = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated class ids, got {text!r}") from None
    if not ids:
        raise argparse.ArgumentTypeError("expected at least one class id")
    return ids


def at_least(minimum: int, maximum: int | None = None):
    """An argparse type: an integer of at least ``minimum`` (and at most ``maximum``;
    also used by ``cli``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:  # (argparse named its own function: "invalid parse value: '1.5'")
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}, got {value}")
        return value

    return parse


#: The largest seed torch's and numpy's generators take (2**64 and more ended the
#: commands in an OverflowError traceback; a review).
MAX_SEED = 2**63 - 1
seed_number = at_least(0, MAX_SEED)


def given_path(text: str) -> str:
    """An argparse type: a path, not empty (``Path("")`` is the current folder, where an
    unset shell variable, ``-o "$OUT"``, spilled a dataset; also used by ``cli``)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path (an unset shell variable?)")
    return text


def warn_unused_plane(plane: int | None, paths) -> None:
    """Print a warning when ``--plane`` is given and no file in ``paths`` is a stack
    (also used by ``cli``)."""
    from .io import unused_plane_note

    note = unused_plane_note(plane, paths)
    if note:
        print(f"warning: {note}", file=sys.stderr)


def _strength(text: str) -> float:
    from .layout_sampler import MAX_STRENGTH

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= MAX_STRENGTH:  # NaN and infinity too, named here, not deep in the sampler
        raise argparse.ArgumentTypeError(f"must be a number from 0 to {MAX_STRENGTH:g}, got {text}")
    return value


def add_generate_command(commands) -> argparse.ArgumentParser:
    """Add ``generate`` to the ``napari-semia`` subcommands."""
    parser = commands.add_parser(
        "generate", help="make a synthetic training set: new layouts and their images",
        description=(
            "Make COUNT (image, label map) pairs with a trained model: new layouts sampled "
            "from the source's (objects moved, rotated, scaled, flipped, dropped, duplicated; "
            "optional elastic warp) or given ones, and the model's image for each. Writes "
            "DATASET/images/, DATASET/labels/, DATASET/manifest.csv and DATASET/dataset.json (its "
            "settings); running the same "
            "command again completes an interrupted run."
        ),
    )
    parser.add_argument("model", type=given_path, metavar="MODEL", help="model file (.semia)")
    parser.add_argument("-o", "--output", required=True, type=given_path, metavar="DATASET",
                        help="output folder")
    parser.add_argument("--count", type=at_least(1), metavar="N",
                        help="number of pairs (default: as many as --layouts gives; required without it)")
    parser.add_argument("--seed", type=seed_number, help="layout seed (default 0; not used with --layouts)")
    parser.add_argument("--layouts", type=given_path, metavar="DIR_OR_STACK",
                        help="use these label maps (a folder of files, or one stack file) "
                             "instead of sampling")
    parser.add_argument("--labels", type=given_path, metavar="FILE",
                        help="the source's full-size label map to sample from (default: the model's own "
                             "full-size copy)")
    parser.add_argument("--plane", type=at_least(0), metavar="N",
                        help="of a --labels file that is a z-stack or time series (a TIFF whose metadata "
                             "names a Z or T axis, or a plain TIFF of more than 16 planes), use plane "
                             "N, counting from 0")
    parser.add_argument("--working-size", action="store_true",
                        help="write pairs at the model's working size instead of the source's full size "
                             "(faster: the network's own output, with its flaws; see docs/dataset.md)")
    where = parser.add_argument_group("where it runs")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="address of a running Dask scheduler, e.g. tcp://HOST:8786 "
                            "(default: this machine)")
    where.add_argument("--workers", type=at_least(0), default=0, metavar="N",
                       help="without --scheduler: 0 = in this process (default), N = a local Dask cluster "
                            "of N worker processes")
    where.add_argument("--gather", action="store_true",
                       help="workers send the pairs back to be written here, instead of writing them "
                            "into DATASET themselves (needs no shared file system)")
    where.add_argument("--retries", type=at_least(0), default=None,
                       help="extra attempts for a pair whose task fails on a Dask worker (default 2)")
    where.add_argument("--device", default="auto", help="torch device (default: auto)")
    sampler = parser.add_argument_group("layout sampler")
    sampler.add_argument("--objects", type=_id_list, metavar="IDS",
                         help="class ids of the objects to move, e.g. 2,3 (default: all but the background)")
    sampler.add_argument("--background", type=_id_list, metavar="IDS",
                         help="class ids of the background (default: the largest class by area)")
    sampler.add_argument("--strength", type=_strength, default=1.0,
                         help="how far layouts depart from the source: "
                              "0 = not at all, 1 = default, 2 = twice, at most 3")
    sampler.add_argument("--allow-overlap", action="store_true", help="let moved objects cover others")
    sampler.add_argument("--move-border-objects", action="store_true",
                         help="also move objects that touch the image border")
    sampler.add_argument("--keep-surroundings", action="store_true",
                         help="move and copy objects only onto the background class around them in "
                              "the source (nuclei stay inside cells)")
    sampler.add_argument("--no-elastic", action="store_true", help="no elastic warp of the whole layout")
    return parser


def _sampler_settings(args):
    from .layout_sampler import LayoutSamplerSettings

    choices = {"elastic_strength": 0.0} if args.no_elastic else {}
    settings = LayoutSamplerSettings(
        object_ids=args.objects,
        background_ids=args.background,
        allow_overlap=args.allow_overlap,
        move_border_objects=args.move_border_objects,
        keep_surroundings=args.keep_surroundings,
        **choices,
    )
    return settings.scaled(args.strength)


def _generate(args, source_labels):
    from .dataset import generate

    return generate(
        args.model, args.output, args.count, args.seed if args.seed is not None else 0,
        layouts=args.layouts,
        source_labels=source_labels,
        sampler_settings=_sampler_settings(args),
        full_resolution=not args.working_size,
        scheduler=args.scheduler,
        workers=args.workers,
        gather=args.gather,
        device=args.device,
        **({} if args.retries is None else {"retries": args.retries}),  # (None: generate's default)
    )


def run_generate(args) -> int:
    """Run ``napari-semia generate``; input errors raise SemiaInputError."""
    if args.count is None and args.layouts is None:
        raise SemiaInputError("Give --count N (and/or --layouts DIR).")
    # Options that do nothing where the run goes are said to do nothing.
    if args.scheduler and args.workers:
        print("warning: --workers is not used with --scheduler: the scheduler's workers make the pairs.",
              file=sys.stderr)
    for given, option in ((args.gather, "--gather"), (args.retries is not None, "--retries")):
        if given and not (args.scheduler or args.workers):
            print(f"warning: {option} is not used in this process (it is for --workers N or --scheduler).",
                  file=sys.stderr)
    if args.layouts is not None:
        # (They ran without a word, as if they had shaped the given layouts; found by a new user.)
        unused = [flag for flag, given in (
            ("--seed", args.seed is not None), ("--objects", args.objects is not None),
            ("--background", args.background is not None), ("--strength", args.strength != 1.0),
            ("--allow-overlap", args.allow_overlap), ("--move-border-objects", args.move_border_objects),
            ("--keep-surroundings", args.keep_surroundings), ("--no-elastic", args.no_elastic),
            ("--labels", args.labels is not None)) if given]
        if unused:
            print(f"warning: {', '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used with "
                  "--layouts: they shape and place sampled layouts.", file=sys.stderr)
    source_labels = None
    if args.labels:
        from .io import read_label_file

        source_labels = read_label_file(args.labels, plane=args.plane)
        warn_unused_plane(args.plane, [args.labels])
    elif args.plane is not None:
        print(f"warning: --plane {args.plane} is not used: it picks a plane of --labels.", file=sys.stderr)
    from .stop_signals import exit_status_after, handling_stop_signals, interrupt_once

    # SIGTERM (a batch system's time limit) and SIGHUP end the run as Ctrl-C does: the
    # manifest rewritten, the workers closed, and what was kept said; they ended it
    # without a word (a pass as a cluster user).
    with handling_stop_signals(interrupt_once()) as received:
        try:
            summary = _generate(args, source_labels)
        except KeyboardInterrupt as interruption:
            from .dataset import InterruptionReported

            if not isinstance(interruption, InterruptionReported):
                print("Interrupted. The pairs made so far are kept: run the same command again to "
                      "complete the set.", file=sys.stderr)
            return exit_status_after(received[0]) if received else EXIT_INTERRUPTED
    rate = summary.written / summary.elapsed_s if summary.elapsed_s > 0 else 0.0
    if summary.written or not summary.skipped or summary.failures:
        print(
            f"Wrote {summary.written} pair(s) to {summary.out_dir} in {summary.elapsed_s:.1f} s "
            f"({rate:.2f} pairs/s); {summary.skipped} were already there.",
            file=sys.stderr,
        )
    else:
        print(f"Wrote nothing: the {summary.skipped} pair(s) were already in {summary.out_dir}.",
              file=sys.stderr)
    if summary.failures:
        from .dataset_manifest import index_ranges

        # Pairs that failed for one reason on one line (a worker that left took
        # every pair it held: nine lines said the same).
        by_reason: dict[str, list[int]] = {}
        for index, error in sorted(summary.failures.items()):
            by_reason.setdefault(error, []).append(index)
        for error, indices in by_reason.items():
            pairs = f"pair {indices[0]}" if len(indices) == 1 else f"pairs {index_ranges(indices)}"
            print(f"{pairs} failed: {error}", file=sys.stderr)
        print(f"error: {len(summary.failures)} pair(s) failed; run the same command again to retry them.",
              file=sys.stderr)
        return EXIT_PAIRS_FAILED
    return 0
