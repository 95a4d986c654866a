"""Command line interface: ``napari-semia train / synthesize / from-labels / info /
demo / generate``.

All of them drive the same core API as the napari widget. Input errors print one
line, ``error: <message>``, and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .dataset_cli import (
    EXIT_INTERRUPTED,
    add_generate_command,
    at_least,
    given_path,
    run_generate,
    seed_number,
    warn_unused_plane,
)
from .errors import SemiaInputError, is_out_of_memory
from .io import written_as_result, written_by_napari_semia
from .stop_signals import exit_status_after, handling_stop_signals, signal_name
from .terminal import progress_interval

EXIT_INPUT_ERROR = 2
PLUGIN_NAME = "napari-semia"
#: Dock widget opened by ``demo --gui`` when napari.yaml cannot be read; the
#: manifest's first widget wins otherwise.
FALLBACK_WIDGET_NAME = "Semantic Image Analogy"
DEFAULT_DEMO_DIR = "semia-demo"


# ---------------------------------------------------------------- parsing
_positive_int = at_least(1)


def _add_training_options(parser: argparse.ArgumentParser, default_preset: str,
                          resumable: bool = False) -> None:
    # (Not from .device: torch took 1.2 s of --help.)
    from .config import DEVICE_CHOICES, MAX_WORKING_SIZE, PRESETS

    parser.add_argument(
        "--preset", choices=list(PRESETS), default=default_preset,
        help=f"training preset (default: {default_preset})",
    )
    parser.add_argument("--steps", type=_positive_int,
                        help="training iterations (overrides the preset)"
                             + ("; with --resume, this many more" if resumable else ""))
    parser.add_argument(
        "--size", type=at_least(16, MAX_WORKING_SIZE),
        help="longest side of the working resolution in px, 16 to 4096 (overrides the preset)",
    )
    parser.add_argument(
        "--device", default="auto",
        help=f"torch device: {', '.join(DEVICE_CHOICES)} or cuda:N (default: auto)",
    )
    parser.add_argument("--seed", type=seed_number, help="random seed, 0 or more (overrides the preset)")


def _add_overwrite_option(command) -> None:
    command.add_argument(
        "--overwrite", action="store_true",
        help="replace files of the results' names in OUT_DIR that are not napari-semia results "
             "(an earlier version's results are not marked as such); without it, a result is "
             "written as NAME_result beside such a file. The command's own input files are never "
             "replaced")


def _add_target_options(command) -> None:
    """The target files, their results' folder, --overwrite and --device: what
    ``synthesize`` and ``from-labels`` share."""
    command.add_argument("targets", nargs="+", type=given_path, metavar="TARGET",
                         help="target label map file(s)")
    command.add_argument("-o", "--output-dir", required=True, type=given_path, metavar="OUT_DIR",
                         help="directory for the results")
    _add_overwrite_option(command)
    command.add_argument("--device", default="auto", help="torch device (default: auto)")


def _add_synthesis_seed_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed", type=seed_number, metavar="N",
        help="seed of the full-resolution stage's random search (default: 0). A seed gives the same "
             "result every run; another one picks some other source patches, which shows how much a "
             "result owes to chance")


def _add_plane_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plane", type=at_least(0), metavar="N",
        help="of files that are z-stacks or time series (TIFFs whose metadata names a Z or T "
             "axis, or plain TIFFs of more than 16 planes), use plane N, counting from 0 in the "
             "file's axis order (ImageJ's time series of z-stacks: N = time point x planes per "
             "stack + z); other files are read whole")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .samples import SAMPLE_NAMES

    parser = argparse.ArgumentParser(
        prog="napari-semia",
        description=(
            "Semantic Image Analogy: learn the appearance of one image from its "
            "label map, then synthesize it in new layouts."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train a model on an image and its label map",
        description="Train a model on IMAGE and its label map LABELS and save it.",
    )
    train.add_argument("image", type=given_path, metavar="IMAGE", help="source image file (PNG, TIFF, ...)")
    train.add_argument("labels", type=given_path, metavar="LABELS",
                       help="label map file: integer ids or an RGB colour-coded map")
    train.add_argument("-o", "--output", required=True, type=given_path, metavar="MODEL",
                       help="model file to write (.semia)")
    train.add_argument("--resume", type=given_path, metavar="MODEL",
                       help="continue training this model file (its working size and network are kept)")
    _add_training_options(train, "default", resumable=True)
    _add_plane_option(train)

    synth = commands.add_parser(
        "synthesize", help="synthesize images for target label maps",
        description=("Synthesize one image per TARGET label map with a trained model, at the "
                     "source's full resolution (or, with --preview, the fast working-size result "
                     "upsampled)."),
    )
    synth.add_argument("model", type=given_path, metavar="MODEL", help="model file (.semia)")
    _add_target_options(synth)
    synth.add_argument("--preview", action="store_true",
                       help="fast preview: the working-size result upsampled (bicubic) instead of "
                            "the full-resolution result made of the source's own detail. Values "
                            "far beyond the source's 0.5-99.5th percentile range (bright spots in "
                            "16-bit data) are clipped near that range's ends in a preview; the "
                            "full-resolution result keeps them")
    _add_synthesis_seed_option(synth)
    _add_plane_option(synth)

    labels_only = commands.add_parser(
        "from-labels", help="rebuild target layouts from the source's patches, with no model",
        description=("Rebuild each TARGET layout at full resolution from the source IMAGE's own "
                     "patches, guided by the label maps alone: seconds, no training. A trained "
                     "model ('train', then 'synthesize') also draws new shapes, rather than "
                     "copying the nearest region of their class."),
    )
    labels_only.add_argument("image", type=given_path, metavar="IMAGE",
                             help="source image file (PNG, TIFF, ...)")
    labels_only.add_argument("labels", type=given_path, metavar="LABELS",
                             help="its label map file: integer ids or an RGB colour-coded map")
    _add_target_options(labels_only)
    _add_synthesis_seed_option(labels_only)
    _add_plane_option(labels_only)

    info = commands.add_parser(
        "info", help="tell what a model file holds and how it was trained",
        description=("Print what MODEL holds (classes, source, working size, network) and how it "
                     "was trained (each run's steps, seed, device, threads and versions), with the "
                     "file's SHA-256, which a dataset's dataset.json names too."),
    )
    info.add_argument("model", type=given_path, metavar="MODEL", help="model file (.semia)")
    info.add_argument("--json", action="store_true", help="print it as JSON, for scripts")

    demo = commands.add_parser(
        "demo", help="run a built-in sample case",
        description=(
            "Train on a built-in sample (made offline from scikit-image data) and "
            "write the source, labels, edited target and result, or open it in napari."
        ),
    )
    demo.add_argument("--sample", choices=SAMPLE_NAMES, default=SAMPLE_NAMES[0],
                      help=f"sample case (default: {SAMPLE_NAMES[0]})")
    demo.add_argument("--out", default=DEFAULT_DEMO_DIR, type=given_path, metavar="DIR",
                      help=f"output directory (default: ./{DEFAULT_DEMO_DIR})")
    demo.add_argument("--gui", action="store_true",
                      help="open napari with the sample's layers and the plugin widget instead")
    _add_training_options(demo, "quick")
    add_generate_command(commands)
    return parser


# ---------------------------------------------------------------- training
def _config_from_args(args):
    from .config import preset

    config = preset(args.preset)
    changes = {name: getattr(args, name) for name in ("steps", "size", "seed")}
    return config.replace(**{k: v for k, v in changes.items() if v is not None})


@contextmanager
def _stop_on_signals(trainer):
    """The first stop signal (Ctrl-C, SIGTERM, SIGHUP: ``stop_signals``) asks the
    trainer to stop after the current step, so the model trained so far is saved; a
    second one aborts. Yields the list of the signals received."""

    def handler(signum):
        if trainer.stop_requested:
            raise KeyboardInterrupt
        what = "" if signum == signal.SIGINT else f"{signal_name(signum)}: "
        again = "Ctrl-C again" if signum == signal.SIGINT else "a second signal"
        try:
            print(f"\n{what}Stopping after the current step to save the model ({again} to abort)...",
                  file=sys.stderr)
        except Exception:  # (a closed terminal; or stderr busy in the bar's write: "reentrant call")
            pass
        trainer.stop()

    with handling_stop_signals(handler) as received:
        yield received


#: tqdm's default bar without its own time left: tqdm divides by the mean rate,
#: but the coarse steps of the first part of a run are two to three times
#: faster than the fine ones after, so it promised half the real wait there.
#: The trainer's estimate (``TrainingProgress.eta_s``) knows both phases.
TRAINING_BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}{postfix}]"


def training_postfix(progress) -> dict[str, str]:
    """The progress bar's postfix: the time left (not on the last update: a run
    stopped early read 'left=00:00' with most of its steps not done), then the
    latest losses."""
    from tqdm import tqdm

    postfix = {} if progress.finished else {"left": tqdm.format_interval(progress.eta_s)}
    postfix.update({k: f"{v:.3g}" for k, v in progress.losses.items()})
    return postfix


@contextmanager
def _fraction_bar(description: str):
    """A progress bar on stderr for a stage that reports fractions done (the
    full-resolution stage: a minute and more for a large image, silent before);
    yields the callback that moves it."""
    from tqdm import tqdm

    with tqdm(total=100, desc=description, dynamic_ncols=True, mininterval=progress_interval(sys.stderr),
              bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]") as bar:
        def report(fraction: float) -> None:
            done = min(100, max(bar.n, round(100 * fraction)))
            bar.update(done - bar.n)

        yield report
        bar.update(100 - bar.n)


def _describe_known(info, given) -> str:
    """``info.describe()`` for the trained model's source info, the parts a resumed
    model kept (the file, ``given``, does not tell them: a PNG has no pixel size)
    said to be the model's: they read as the file's (found by a new user)."""
    from .source_info import SourceInfo

    given = given if given is not None else SourceInfo()
    from_file = SourceInfo(info.channel_names if given.channel_names == info.channel_names else (),
                           info.pixel_size if given.pixel_size == info.pixel_size else None,
                           info.unit)
    kept = SourceInfo(info.channel_names if not from_file.channel_names else (),
                      info.pixel_size if from_file.pixel_size is None else None, info.unit)
    parts = [from_file.describe()] if from_file.has_metadata else []
    if kept.has_metadata:
        parts.append(f"{kept.describe()}, kept from the model")
    return "; ".join(parts)


@contextmanager
def _naming_source_files(image_path, labels_path, resume_path=None):
    """Problems of the source pair, prefixed with its files: the checks word them
    "the source labels", "the image", and with the two files swapped "the source
    labels are ... a photo" named no file (an audit of messages). A model that
    cannot be continued is named with the way out."""
    from .errors import IncompatibleModelError

    try:
        yield
    except IncompatibleModelError as error:
        raise IncompatibleModelError(f"{Path(resume_path).name}: {error} Leave out --resume to train a new "
                                     f"model.") from None
    except SemiaInputError as error:
        if image_path is None:
            raise
        named = f"{Path(image_path).name} with labels {Path(labels_path).name}"
        raise SemiaInputError(f"{named}: {error}") from None


def _train(image, labels, config, device, resume=None, source_info=None, files=(None, None, None)):
    """Train with a tqdm progress bar (losses in the postfix); returns the model and
    the signal that stopped it early, if one did (Ctrl-C, SIGTERM, SIGHUP).
    ``source_info``: the source file's channel names and pixel size, for the model;
    ``files``: the image, labels and resumed model's paths, for messages."""
    from tqdm import tqdm

    from .device import describe_device, resolve_device
    from .trainer import SemiaTrainer

    device = resolve_device(device)  # (its problem is no problem of the files: not named with them)
    with _naming_source_files(*files):
        trainer = SemiaTrainer(image, labels, config=config, device=device, resume=resume,
                               source_info=source_info, warn=False)
    warning = trainer.input_note
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    # The trainer's own config: a resumed model keeps its working size and network.
    steps = f"{config.steps} step{'' if config.steps == 1 else 's'}"
    more = f" more (after {resume.steps_done})" if resume is not None else ""
    from .training_data import working_shape

    # The working size itself: 'at 256 px' for a 96 x 96 image read as a promise of 256 px.
    rows, cols = working_shape(trainer.source_shape, trainer.config.size)
    print(f"Training {steps}{more} at {rows} × {cols} px on {describe_device(trainer.device)}.",
          file=sys.stderr)
    # How the files were read: a z-stack TIFF (5, H, W) reads as 5 channels, silently
    # (found by a user); this line shows it.
    classes = trainer.codec.num_classes
    rows, cols = trainer.source_shape
    info = trainer.source_info
    # (Named channels are no RGB colour, three of them included.)
    what = (f"an image of {len(info.channel_names)} channels" if info.is_channels
            else trainer.normalizer.description)
    known = f" ({_describe_known(info, source_info)})" if info.has_metadata else ""
    print(f"Source: {what}{known}, {rows} × {cols}, {np.asarray(image).dtype}; "
          f"{classes} class{'es' if classes != 1 else ''}.", file=sys.stderr)
    last = None
    with _stop_on_signals(trainer) as received, tqdm(total=config.steps, unit="step", dynamic_ncols=True,
                                           bar_format=TRAINING_BAR_FORMAT,
                                           mininterval=progress_interval(sys.stderr)) as bar:
        for progress in trainer.run():
            last = progress
            if progress.note:
                bar.write(f"warning: {progress.note}", file=sys.stderr)
            bar.update(progress.step - bar.n)
            bar.set_postfix(training_postfix(progress), refresh=False)
    if last is not None and last.diverged:
        print(f"warning: {last.diverged}", file=sys.stderr)
    elif last is not None and last.stopped and trainer.model.steps_done > 0:
        print(f"Stopped at step {last.step} of {last.total_steps}; keeping the model trained so far.",
              file=sys.stderr)
    # (Stopped by a signal: a run that diverged stops too, and is no interruption.)
    return trainer.model, (received[0] if received else None)


def _cmd_train(args) -> int:
    from .io import check_writable_folder, file_source_info, read_image_file, read_label_file

    output = Path(args.output)
    if output.is_dir():
        raise SemiaInputError(f"The model path {output} is a folder: give a file name, e.g. "
                              f"{output / 'model.semia'}.")
    check_writable_folder(output.parent)  # before training, not after it
    for given, what in ((args.image, "image"), (args.labels, "labels")):
        # (The source was replaced by the model: a new user.)
        if _InputFiles([given]).is_input(output):
            raise SemiaInputError(f"The model path {output} is the {what} file: give the model a name of "
                                  f"its own, e.g. {output.with_suffix('.semia')}.")
    replaces = output.is_file()
    if replaces and not _is_model_file(output):
        # (A typo, -o notes.md, replaced the file with a model without a word; results
        # never replace a file this package did not write either.)
        raise SemiaInputError(f"{output} is there and is no napari-semia model: give the model another "
                              f"name, or move that file away first.")
    image = read_image_file(args.image, plane=args.plane)
    labels = read_label_file(args.labels, plane=args.plane)
    _warn_erased_pixels(args.labels)
    warn_unused_plane(args.plane, [args.image, args.labels])
    _check_turned_photo(image, labels, args.image)
    _note_source_file(image, args.image)
    config = _config_from_args(args)
    resume = None
    if args.resume:
        from .model import SemiaModel

        resume = SemiaModel.load(args.resume, device=args.device)
        # (Compared as the working sizes they give: an image smaller than its --size
        # trains at its own size, and --size 96 of a 96-px image was called unused.)
        from .training_data import working_shape

        kept = resume.working_shape
        if args.size is not None and working_shape(resume.source_shape, args.size) != kept:
            print(f"warning: --size {args.size} is not used when resuming: the model keeps its working "
                  f"size, {kept[0]} × {kept[1]} px.", file=sys.stderr)
    if resume is not None:
        _note_other_source(resume, image, labels, args)
    info = file_source_info(args.image, image)
    model, stopped_by = _train(image, labels, config, args.device, resume=resume, source_info=info,
                               files=(args.image, args.labels, args.resume))
    if model.steps_done == 0:
        # Stopped before its first step: an untrained generator is no model to keep.
        print("Stopped before the first step; no model was saved.", file=sys.stderr)
        return exit_status_after(stopped_by) if stopped_by is not None else EXIT_INTERRUPTED
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(output))
    print(f"Saved model to {output}{' (replacing the model that was there)' if replaces else ''}")
    # Interrupted, as any command a signal stops: a script tells a stopped run from a
    # finished one (both exited 0; found by a new user). The model is saved all the same.
    return exit_status_after(stopped_by) if stopped_by is not None else 0


def _is_model_file(path: Path) -> bool:
    """Whether ``path`` reads as a napari-semia model (a newer version's too)."""
    from .errors import ModelFileError, NewerModelFileError
    from .model import SemiaModel
    from .model_file import read_model_file

    try:
        read_model_file(path, SemiaModel)  # (on the CPU)
    except NewerModelFileError:
        return True
    except (ModelFileError, OSError):
        return False
    return True


def _note_other_source(resume, image, labels, args) -> None:
    """Say when --resume continues a model of another image or labels: it learns these
    from here on, and its results take this image's type (an 8-bit export given for
    the 16-bit original turned a model's results into 8-bit ones without a word;
    found by a new user)."""
    if resume.was_trained_on(image, labels) is not False or not resume.can_continue_on(image, labels):
        return
    note = (f"{Path(args.resume).name} was trained on another image or labels: continuing it, it learns "
            f"{Path(args.image).name} and {Path(args.labels).name} from here on.")
    before = resume.full_image.dtype if resume.full_image is not None else None
    now = np.asarray(image).dtype
    if before is not None and before != now:
        note += f" Its results will be {now} like this image, not {before} like the one it was trained on."
    print(f"warning: {note}", file=sys.stderr)


def _note_source_file(image, image_path) -> None:
    """Say what a source may hide: transparency, a grey image stored as colour or as
    min-is-white."""
    from .intensity import grey_as_colour_note, transparency_note
    from .io import ALPHA_SUFFIXES, min_is_white_note

    inverted = min_is_white_note(image_path)
    if inverted:
        print(f"warning: {inverted}", file=sys.stderr)

    if Path(image_path).suffix.lower() in ALPHA_SUFFIXES:
        note = transparency_note(image, Path(image_path).name)
        if note:
            print(f"warning: {note}", file=sys.stderr)
    note = grey_as_colour_note(image, Path(image_path).name, "save one of its channels as a grey image")
    if note:
        print(f"note: {note}", file=sys.stderr)


def _check_turned_photo(image, labels, image_path) -> None:
    """Refuse labels of the photo's size turned, naming its EXIF orientation tag: the
    size message alone left a phone photographer puzzled (600 x 400 against 400 x 600)."""
    from .io import exif_rotation_note

    note = exif_rotation_note(image_path)
    if note is None:
        return
    if image.shape[:2] != labels.shape[:2] and image.shape[:2] == labels.shape[1::-1]:
        raise SemiaInputError(f"The image is {image.shape[0]} × {image.shape[1]} pixels and the labels "
                              f"{labels.shape[0]} × {labels.shape[1]}: {note}")
    # A turn that keeps the size (180°, or a square photo) trained on labels lying across
    # the photo without a word (found by a new user); the widget says it at Train too.
    print(f"warning: {note}", file=sys.stderr)


def _cmd_synthesize(args) -> int:
    from .io import check_writable_folder, image_suffix, write_image_file
    from .model import SemiaModel
    from .validation import MODEL_SOURCE, validate_target

    check_writable_folder(args.output_dir)
    model = SemiaModel.load(args.model, device=args.device)
    # Check every target first, so a bad one fails before any work is done.
    targets = _read_targets(args.targets, args.plane, model.codec)
    warn_unused_plane(args.plane, args.targets)
    for path, target in targets:
        try:
            validate_target(target, model.source_shape, model.codec, source=MODEL_SOURCE)
        except SemiaInputError as error:
            hint = _planes_read_as_colours(path, target, model) or _palette_hint(path, target,
                                                                                 model.codec.is_colour)
            raise SemiaInputError(f"{path.name}: {error}{hint}") from None
    _note_ids_targets(targets, model.codec)
    if args.preview and args.seed is not None:
        print("warning: --seed is not used with --preview: only the full-resolution stage searches at "
              "random.", file=sys.stderr)
    if not args.preview and not model.can_refine:
        print(f"{Path(args.model).name} was saved by an earlier napari-semia without its full-size "
              "source: writing upsampled results (train again for full resolution).")
    out_dir = Path(args.output_dir)
    refine = not args.preview and model.can_refine
    inputs = _InputFiles([args.model, *args.targets], overwrite=args.overwrite)
    made_by = _made_by("synthesize", {"model": args.model}, args.plane, model.device)
    made_by["result"] = ("full resolution" if refine else "preview (upsampled)" if args.preview
                         else "upsampled (the model file has no full-size source)")
    for (target_path, target), name in zip(targets, _output_stems((path for path, _ in targets), args.plane)):
        if refine:
            with _fraction_bar(name) as report:
                result = model.synthesize(target, progress=report, seed=args.seed)
        else:
            result = model.synthesize(target, refine=False)
        info = model.source_info
        path = inputs.spared(out_dir / (name + image_suffix(result, info)))
        provenance = {**made_by, "target": target_path.name, "seed": (args.seed or 0) if refine else None}
        written = write_image_file(path, result, info, result=True, provenance=provenance)
        print(f"Wrote {written}{inputs.why_renamed(path)}")
    return 0


def _warn_erased_pixels(path) -> None:
    from .io import erased_pixels_note

    note = erased_pixels_note(path)
    if note:
        print(f"warning: {note}", file=sys.stderr)


def _note_ids_targets(targets, codec) -> None:
    """One line, once every target is accepted, for the maps of ids checked against
    colour-coded labels: which colour each id stands for (a line per target said the
    same a hundred times; a review)."""
    names = [path.name for path, target in targets if np.ndim(target) == 2]
    if names and codec.palette is not None:
        from .labels import listed_names

        print(f"note: {codec.ids_note(listed_names(names, 'target'))}", file=sys.stderr)


def _read_targets(paths, plane: int | None, codec) -> list[tuple[Path, np.ndarray]]:
    """The target files as read for ``codec``, with what their reading notes said."""
    from .io import read_target_file

    targets = []
    for path in paths:
        target, note = read_target_file(path, plane, codec)
        if note:
            print(f"warning: {note}", file=sys.stderr)
        _warn_erased_pixels(path)
        targets.append((Path(path), target))
    return targets


def _made_by(command: str, inputs: dict, plane: int | None, device) -> dict:
    """What a command's results record of how they were made (``io.read_provenance``):
    the inputs' names and SHA-256, the plane, device and versions."""
    import torch

    from . import __version__
    from .io import file_sha256

    record: dict = {"command": command}
    for role, path in inputs.items():
        record[role] = Path(path).name
        record[f"{role}_sha256"] = file_sha256(path)
    if plane is not None:
        record["plane"] = plane
    record.update(device=str(device), torch=torch.__version__, napari_semia=__version__)
    return record


def _palette_hint(path: Path, target, colour_labels: bool) -> str:
    """For a target in indexed colours read otherwise than the labels it is checked
    against: its palette's colours for labels of ids, or its indices for colour-coded
    ones. Fiji's label images with a lookup table, saved as PNG, were refused with
    "paint the target with those ids", which the file held (found by a new user)."""
    from .io import palette_kind

    kind = palette_kind(path)
    if kind is None or (np.ndim(target) == 3) == colour_labels:
        return ""
    if kind == "TIFF":
        return (f" ({path.name} is an indexed-colour TIFF, read as its indices, while the source labels "
                f"were colours: save it as an RGB image, or the source labels as an indexed TIFF too.)")
    return (f" ({path.name} is an indexed-colour {kind}, read as its colours, as napari reads it, while the "
            f"source labels were ids: save it as a TIFF (read as its indices) or a grey image of its ids.)")


def _planes_read_as_colours(path: Path, target, model) -> str:
    """For a TIFF of three or four planes read as one colour-coded map, for a model of
    ids: what it was read as, and what to do (`generate --layouts` reads the same file
    as three layouts; `synthesize` refused it with a message about colours only;
    found by a new user). '' otherwise."""
    if (model.codec.palette is not None or np.ndim(target) != 3
            or path.suffix.lower() not in (".tif", ".tiff")):
        return ""
    import tifffile

    try:
        with tifffile.TiffFile(str(path)) as tif:
            shape = tif.series[0].shape
    except Exception:
        return ""
    if len(shape) != 3 or shape[0] not in (3, 4):
        return ""
    return (f" (The file holds {shape[0]} planes with no z or time axis named, so it is read as one "
            f"colour-coded map. To synthesize several layouts, give each its own file, or save the "
            f"stack with ImageJ axes ZYX and choose one with --plane.)")


class _InputFiles:
    """A command's input files, which its results must not overwrite: a target's
    result written into the target's own folder replaced the layout painted, and a
    target named like the source labels replaced those (found by a new user). Nor
    any other file this package did not write: an edited copy of the labels, named
    as they are, replaced the model's own source labels in their folder (a pass
    on untidy folders)."""

    def __init__(self, paths, overwrite: bool = False) -> None:
        """``overwrite``: other files may be replaced (``--overwrite``); inputs never."""
        self.overwrite = overwrite
        self.paths = {Path(path).resolve() for path in paths}
        # And by file identity: on a case-insensitive disk (macOS, a USB stick) 'T.png'
        # is the input 'T.PNG', which resolving does not tell (a review).
        self.files = {_file_identity(path) for path in paths} - {None}
        self.written: set[Path] = set()  # (resolved; a renamed result may take a later one's name)
        self.renamed: dict[Path, Path] = {}

    def is_input(self, path: Path) -> bool:
        return path.resolve() in self.paths or _file_identity(path) in self.files

    def is_kept(self, path: Path) -> bool:
        """Whether a result must not replace ``path``: an input, a result of this run,
        a folder (--overwrite or not: writing failed after the synthesis), or a file
        there that this package did not write (an earlier result it may)."""
        return (self.is_input(path) or path.resolve() in self.written or path.is_dir()
                or (not self.overwrite and os.path.lexists(path) and not written_as_result(path)))

    def spared(self, path: Path) -> Path:
        """``path``, or where that is kept (``is_kept``), the first free
        ``<stem>_result[_N]`` beside it."""
        chosen, number = path.with_name(_fitting_name(path.stem, "", path.suffix)), 0
        while self.is_kept(chosen):
            number += 1
            tail = "_result" if number == 1 else f"_result_{number}"
            chosen = path.with_name(_fitting_name(path.stem, tail, path.suffix))
        self.written.add(chosen.resolve())
        if chosen != path:
            self.renamed[chosen] = path
        return chosen

    def why_renamed(self, path: Path) -> str:
        kept = self.renamed.get(path)
        if kept is None:
            return ""
        if self.is_input(kept):
            why = "that is one of this command's input files"
        elif kept.resolve() in self.written:
            why = "that is another result's name"
        elif kept.is_dir():
            why = "a folder of that name is there"
        else:
            why = ("a file of that name is there that is not a napari-semia result (an earlier "
                   "version's results are not marked as such); --overwrite replaces it")
        return f" (not {kept.name}: {why})"


#: The longest file name most file systems take, in bytes.
NAME_MAX = 255


def _fitting_name(stem: str, tail: str, suffix: str) -> str:
    """``stem + tail + suffix``, the stem shortened where the name would pass
    ``NAME_MAX`` bytes: a target of a 251-byte name had its result refused as too
    long only after the synthesis, as ``<name>_result`` (a pass on untidy paths)."""
    room = NAME_MAX - len(os.fsencode(tail + suffix))
    encoded = os.fsencode(stem)
    if len(encoded) > room:
        stem = encoded[:room].decode("utf-8", errors="ignore") if room > 0 else ""
    return stem + tail + suffix


def _file_identity(path) -> tuple[int, int] | None:
    """The (device, inode) of an existing file, else None."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _output_stems(paths, plane: int | None = None) -> list[str]:
    """The targets' file stems, made unique (``a/target.png`` and ``b/target.png`` ->
    ``target``, ``target_2``): one output folder holds every result. A plane of a
    stack is named for it (``layouts_plane3``), so a loop over planes keeps each.
    Unique regardless of case: on a disk that ignores it (macOS, Windows, a USB
    stick), ``Cell`` and ``cell`` are one file, and the second result replaced the
    first (a pass on untidy paths)."""
    from .io import holds_planes

    stems, seen = [], set()
    for path in paths:
        # Not "x.ome": the results are no OME-TIFF, and QuPath and Fiji hand files of that
        # name to their OME reader (a pass over other tools' files).
        name = path.stem[:-4] if path.stem.lower().endswith(".ome") and len(path.stem) > 4 else path.stem
        stacked = plane is not None and holds_planes(path)
        base = f"{name}_plane{plane}" if stacked else name
        stem, number = base, 1
        while stem.casefold() in seen:
            number += 1
            stem = f"{base}_{number}"
        seen.add(stem.casefold())
        stems.append(stem)
    return stems


def _cmd_from_labels(args) -> int:
    from .device import resolve_device
    from .io import (
        check_writable_folder,
        file_source_info,
        image_suffix,
        read_image_file,
        read_label_file,
        write_image_file,
    )
    from .labels_only import LabelsOnlySynthesizer
    from .validation import flat_image_warning, off_palette_warning, validate_target

    resolve_device(args.device)  # (a device this machine lacks was refused after every file was read)
    check_writable_folder(args.output_dir)
    image = read_image_file(args.image, plane=args.plane)
    info = file_source_info(args.image, image)
    labels = read_label_file(args.labels, plane=args.plane)
    _warn_erased_pixels(args.labels)
    _check_turned_photo(image, labels, args.image)
    _note_source_file(image, args.image)
    synthesizer = LabelsOnlySynthesizer(image, labels, device=args.device)
    with _naming_source_files(args.image, args.labels):
        synthesizer.check()
    # As train says them: a class lost in a blurred colour map is lost here too, and a
    # flat image gives flat results (a message audit: train warned, from-labels not).
    for note in (off_palette_warning(labels, synthesizer.codec), flat_image_warning(image)):
        if note:
            print(f"warning: {note}", file=sys.stderr)
    targets = _read_targets(args.targets, args.plane, synthesizer.codec)
    warn_unused_plane(args.plane, [args.image, args.labels, *args.targets])
    for path, target in targets:  # every target first: a bad one fails before any work is done
        try:
            validate_target(target, synthesizer.source_shape, synthesizer.codec)
        except SemiaInputError as error:
            hint = _palette_hint(path, target, synthesizer.codec.is_colour)
            raise SemiaInputError(f"{path.name}: {error}{hint}") from None
    _note_ids_targets(targets, synthesizer.codec)
    with _fraction_bar("source") as report:  # its patch pyramid, once for every target
        synthesizer.prepare(progress=report)
    out_dir = Path(args.output_dir)
    inputs = _InputFiles([args.image, args.labels, *args.targets], overwrite=args.overwrite)
    made_by = _made_by("from-labels", {"image": args.image, "labels": args.labels}, args.plane,
                       synthesizer.prepare().device)
    for (target_path, target), name in zip(targets, _output_stems((path for path, _ in targets), args.plane)):
        with _fraction_bar(name) as report:
            result = synthesizer.synthesize(target, progress=report, seed=args.seed)
        path = inputs.spared(out_dir / (name + image_suffix(result, info)))
        provenance = {**made_by, "result": "full resolution, from the label maps alone",
                      "target": target_path.name, "seed": args.seed or 0}
        written = write_image_file(path, result, info, result=True, provenance=provenance)
        print(f"Wrote {written}{inputs.why_renamed(path)}")
    return 0


# ---------------------------------------------------------------- info
def model_record(path) -> dict:
    """What ``info`` tells of the model file at ``path``, as plain data."""
    from .io import file_sha256
    from .model import SemiaModel

    path = Path(path)
    model = SemiaModel.load(path, device="cpu")
    normalizer = model.normalizer
    record = {
        "file": str(path), "sha256": file_sha256(path), "written_by": f"napari-semia {model.version}",
        "class_ids": list(model.class_ids),
        "palette": None if model.codec.palette is None else model.codec.palette.tolist(),
        "source_shape": list(model.source_shape),
        "source": {"layout": normalizer.layout, "channels": normalizer.channels,
                   "dtype": np.dtype(normalizer.dtype).name},
        "working_shape": list(model.working_shape), "steps_done": int(model.steps_done),
        "full_resolution": bool(model.can_refine), "config": model.config.to_dict(),
        "history": [dict(run) for run in model.history],
    }
    if not model.source_info.is_empty:
        record["source_info"] = model.source_info.to_dict()
    return record


def _describe_runs(history) -> list[str]:
    """A line per run; the steps of an earlier version, which kept no history, as
    one line of their own (how many runs made them is not known)."""
    lines, number = [], 0
    for position, run in enumerate(history):
        # (Unmarked as such when a version between the history and the mark continued the
        # file: the first entry, without a device, is the one it made up; a review.)
        if run.get("unrecorded_runs") or (position == 0 and "device" not in run and "planned" in run
                                          and run.get("steps", 0) > run["planned"]):
            lines.append(f"{run.get('steps', '?')} steps by an earlier version, which recorded no runs "
                         f"(the last: seed {run.get('seed', '?')}, {run.get('planned', '?')} steps planned)")
        else:
            number += 1
            lines.append(_describe_run(number, run))
    return lines


def _describe_run(number: int, run: dict) -> str:
    steps = f"{run.get('steps', '?')} of {run['planned']} steps" if "planned" in run else \
        f"{run.get('steps', '?')} steps"
    parts = [f"run {number}: {steps}", f"seed {run.get('seed', '?')}"]
    if run.get("device"):
        threads = run.get("threads")
        parts.append(f"on {run['device']}" + (f" ({threads} thread{'s' if threads != 1 else ''})"
                                              if threads else ""))
    versions = [f"{name} {run[key]}" for key, name in (("torch", "torch"), ("napari_semia", "napari-semia"))
                if run.get(key)]
    if versions:
        parts.append(", ".join(versions))
    text = ", ".join(parts)
    if "device" not in run and not versions:
        text += " (recorded by an earlier version: no more is known)"
    return text


def _cmd_info(args) -> int:
    import json

    from .source_info import SourceInfo

    record = model_record(args.model)
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    rows, cols = record["source_shape"]
    work_rows, work_cols = record["working_shape"]
    source = record["source"]
    kind = "grey" if source["layout"] == "gray" else f"{source['channels']} channels"
    known = SourceInfo.from_dict(record.get("source_info"))
    config = record["config"]
    lines = [
        f"{Path(args.model).name}: a napari-semia model, written by {record['written_by']}",
        f"  SHA-256: {record['sha256']}",
        f"  classes: {len(record['class_ids'])} ({', '.join(map(str, record['class_ids']))})"
        + (", colour-coded" if record["palette"] is not None else ""),
        f"  source: {rows} × {cols} px, {kind}, {source['dtype']}"
        + (f"; {known.describe()}" if known.has_metadata else ""),
        f"  network: working size {work_rows} × {work_cols} px, generator width {config['width']}, "
        f"{config['levels']} levels; results "
        + ("refined to full resolution" if record["full_resolution"] else "upsampled (no full-size source)"),
        f"  trained: {record['steps_done']} steps",
    ]
    lines += [f"    {line}" for line in _describe_runs(record["history"])]
    if not record["history"]:
        lines.append(f"    (an earlier version's file: last run's seed {config['seed']}, "
                     f"{config['steps']} steps planned)")
    print("\n".join(lines))
    return 0


# ---------------------------------------------------------------- demo
def _plugin_widget_name() -> str:
    """Display name of the first widget in the package's napari.yaml."""
    try:
        import importlib.resources

        import yaml

        text = importlib.resources.files("napari_semia").joinpath("napari.yaml").read_text(encoding="utf-8")
        widgets = yaml.safe_load(text)["contributions"]["widgets"]
        return str(widgets[0]["display_name"])
    except Exception:  # manifest missing or shaped differently: use the known name
        return FALLBACK_WIDGET_NAME


def _cmd_demo_gui(case, args) -> int:
    try:
        import napari
        import qtpy  # noqa: F401  (raises when no Qt binding is installed)
    except ImportError:
        raise SemiaInputError(
            'demo --gui needs napari with a Qt binding, which this installation lacks: '
            'install it with the "all" extra (from the repository folder: pip install -e ".[all]")'
        ) from None

    from ._qt.sample_data import sample_layers
    from .device import resolve_device

    # Refused here as without --gui (the widget took 'garbage' and showed 'auto').
    resolve_device(args.device)
    if args.out != DEFAULT_DEMO_DIR:
        print("warning: --out is not used with --gui: the widget saves what you choose.", file=sys.stderr)
    viewer = napari.Viewer(title=f"napari-semia demo: {case.title}")
    # The same layers as napari's File > Open Sample menu gives.
    for data, kwargs, layer_type in sample_layers(case):
        getattr(viewer, f"add_{layer_type}")(data, **kwargs)
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN_NAME, _plugin_widget_name())
    # The training options fill the widget's settings (they were ignored with --gui).
    settings = getattr(widget, "settings", None)
    if settings is not None:
        settings.apply_preset(args.preset)
        for name in ("steps", "size", "seed"):
            if getattr(args, name) is not None:
                setattr(settings, name, getattr(args, name))
        settings.device = args.device
    print(case.description)
    napari.run()
    return 0


#: What `demo` writes into its folder.
DEMO_FILES = ("source.png", "labels.png", "target.png", "result.png", "montage.png", "model.semia")


def _check_demo_folder(out_dir: Path, case) -> None:
    """Refuse a folder where the demo would replace what it did not write: `--out .`
    in a project folder replaced its model.semia and labels.png without a word (a
    pass on untidy folders). An earlier demo's folder (its model trained on its
    source.png, of any sample) is replaced, an earlier version's unmarked files
    too, but for a target.png edited since."""
    from .io import read_image_file, read_label_file
    from .model import SemiaModel

    def refuse(path: Path, what: str) -> None:
        raise SemiaInputError(f"{path} is {what}, which the demo would replace: give the demo a folder "
                              f"of its own, e.g. --out {out_dir / 'semia-demo'}.")

    model_path, source_path = out_dir / DEMO_FILES[-1], out_dir / DEMO_FILES[0]
    earlier_demo = False
    if os.path.lexists(model_path):
        try:
            model = SemiaModel.load(model_path, device="cpu")
        except SemiaInputError:
            refuse(model_path, "not a model file napari-semia can read")
        earlier_demo = bool(model.was_trained_on(case.image, case.labels))
        if not earlier_demo and source_path.is_file():
            try:
                earlier_demo = bool(model.is_source_image(read_image_file(source_path)))
            except SemiaInputError:
                pass
        if not earlier_demo:
            refuse(model_path, "a model of another image")
    for path in (out_dir / name for name in DEMO_FILES[:-1]):
        if not os.path.lexists(path) or written_by_napari_semia(path):
            continue
        if earlier_demo and path.is_file():
            if path.name != "target.png":
                continue  # (the demo's own copies and results)
            try:
                if np.array_equal(read_label_file(path), case.target):
                    continue  # (not edited since)
            except SemiaInputError:
                pass
        refuse(path, "not a file napari-semia wrote")


def _cmd_demo(args) -> int:
    from .figures import montage
    from .io import check_writable_folder, write_image_file
    from .samples import load_sample

    case = load_sample(args.sample)
    if args.gui:
        return _cmd_demo_gui(case, args)
    check_writable_folder(args.out)  # before training, not after it
    _check_demo_folder(Path(args.out), case)
    print(case.description)
    model, stopped_by = _train(case.image, case.labels, _config_from_args(args), args.device)
    if model.steps_done == 0:
        print("Stopped before the first step; nothing was written.", file=sys.stderr)
        return exit_status_after(stopped_by if stopped_by is not None else signal.SIGINT)
    result = model.synthesize(case.target)
    out_dir = Path(args.out)
    model.save(str(out_dir / "model.semia"))
    # Label maps are written as 8-bit id images, so they can be fed back to
    # ``napari-semia synthesize`` (after editing, for instance).
    write_image_file(out_dir / "source.png", case.image)  # (the names: DEMO_FILES)
    write_image_file(out_dir / "labels.png", case.labels.astype(np.uint8))
    write_image_file(out_dir / "target.png", case.target.astype(np.uint8))
    write_image_file(out_dir / "result.png", result)
    write_image_file(out_dir / "montage.png", montage([case.image, case.labels, case.target, result]))
    print("Wrote source.png, labels.png, target.png, result.png, montage.png and model.semia "
          f"to {out_dir.resolve()}")
    # Stopped early, the demo still shows the model trained so far, and says it was stopped.
    return exit_status_after(stopped_by) if stopped_by is not None else 0


# ---------------------------------------------------------------- main
_COMMANDS = {"train": _cmd_train, "synthesize": _cmd_synthesize, "from-labels": _cmd_from_labels,
             "info": _cmd_info, "demo": _cmd_demo, "generate": run_generate}


def _output_escape(error: UnicodeEncodeError):
    """Characters the output's encoding lacks, escaped (backslashreplace); a file name's
    undecodable bytes (surrogates) written as those bytes (surrogateescape)."""
    import codecs

    text = error.object[error.start:error.end]
    if all("\udc80" <= c <= "\udcff" for c in text):
        return bytes(ord(c) - 0xDC00 for c in text), error.end
    return codecs.backslashreplace_errors(error)


def _escape_what_output_cannot_encode() -> None:
    """A name the output's encoding lacks is written escaped, not a traceback: Windows
    writes redirected output in its code page, and 'Saved model to α-SMA.semia' ended
    the command after its work (a portability audit); a C locale's output took only
    ASCII. Undecodable names still go out as their bytes (a review)."""
    import codecs

    codecs.register_error("napari_semia_escape", _output_escape)
    for stream in (sys.stdout, sys.stderr):
        try:
            if getattr(stream, "errors", None) in ("strict", "surrogateescape"):
                stream.reconfigure(errors="napari_semia_escape")
        except (AttributeError, ValueError, OSError):
            pass


def _out_of_memory_advice(args) -> str:
    """What to try when a command ran out of memory: what it can change (a smaller
    working size to train; the CPU, with the machine's memory, where an accelerator ran
    out), else more memory (one sentence for every command advised a --size that
    synthesize lacks, and the CPU to a run on the CPU; a review)."""
    ways = []
    if getattr(args, "command", None) in ("train", "demo"):
        ways.append("a smaller --size")
    try:
        from .device import resolve_device

        on_accelerator = resolve_device(getattr(args, "device", "auto")).type != "cpu"
    except SemiaInputError:
        on_accelerator = False
    if on_accelerator:
        ways.append("the CPU (--device cpu), which has the machine's memory")
    if not ways:
        ways.append("fewer programs running at once, or a machine with more memory")
    return f"out of memory: try {' or '.join(ways)}."


def main(argv: list[str] | None = None) -> int:
    _escape_what_output_cannot_encode()
    args = None
    try:
        # Parsing imports torch (the device choices): a Ctrl-C then is an interrupt too.
        args = build_parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except SemiaInputError as error:  # includes ModelFileError
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (MemoryError, RuntimeError) as error:
        if not is_out_of_memory(error):
            raise
        # (A traceback; the dock said it in words.)
        print(f"error: {_out_of_memory_advice(args)}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except OSError as error:
        # What the system refused of a path given (a name over 255 bytes, a loop of
        # symbolic links) in its own words, as a message: a pass on untidy folders got
        # tracebacks from every command.
        name = str(error.filename or "")
        name = name if len(name) <= 80 else f"{name[:40]}…{name[-30:]}"
        print(f"error: {error.strerror or error}{': ' + name if name else ''}", file=sys.stderr)
        return EXIT_INPUT_ERROR


if __name__ == "__main__":
    sys.exit(main())
