"""Reading images and label maps from files, and writing results.

Used by the CLI; napari has its own readers. Errors (missing file, unreadable
format) become :class:`SemiaInputError` so the user sees one line, not a
traceback.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
from pathlib import Path

import numpy as np

from . import __version__
from .atomic_files import PARTIAL_MARKER, written_atomically
from .errors import OutputWriteError, SemiaInputError
from .intensity import MAX_CHANNELS, is_opaque_alpha
from .source_info import OME_LENGTH_UNITS, SourceInfo, unit_name

_TIFF_SUFFIXES = (".tif", ".tiff")
#: Written into every image file this package writes (a PNG's 'Software' text, a
#: TIFF's Software tag; `written_by_napari_semia`).
WRITER = f"napari-semia {__version__}"
#: The Software of a command's result (synthesize, from-labels): what a later result
#: may replace (`written_as_result`). Not a demo's labels or a dataset's pairs, which
#: the plain mark let a result of the same name replace (a review).
RESULT_WRITER = f"{WRITER} (result)"
#: Where a result says what made it (``write_image_file``'s ``provenance``, JSON):
#: a PNG's 'Comment' text, a TIFF's DocumentName tag. The Software mark alone told
#: a model's result from a preview or a result of the labels alone in no way, nor
#: which model (a reproducibility pass).
_PROVENANCE_PNG_KEY = "Comment"
_PROVENANCE_TIFF_TAG = 269
#: A plain TIFF's pages narrower than this may be an (H, W, C) image's rows.
_MIN_PLANE_WIDTH = 64
#: Axes that make a TIFF a stack of planes: z, time, or 'P' (see ``_tiff_axes``).
_STACK_AXES = "ZTP"
_JPEG_SUFFIXES = (".jpg", ".jpeg")
#: Formats whose last channel of two or four is transparency (a TIFF's may be a stain).
ALPHA_SUFFIXES = (".png", ".webp", ".gif", ".apng")
#: Names of image files, read or written here.
IMAGE_SUFFIXES = (*_TIFF_SUFFIXES, *_JPEG_SUFFIXES, ".png", ".bmp", ".webp", ".gif")


def _read_failure(error: Exception) -> str:
    """Why a file could not be read, in a line. imageio answers a damaged file
    or an unknown format with plugins to pip-install, which are no help here."""
    plain = "it is not an image in a format this plugin reads (PNG, TIFF, JPEG, BMP, ...) or is damaged"
    text = str(error).strip()
    if not text or "Could not find a backend" in text:
        return plain + "."
    return f"{plain} (the reader said: {text.splitlines()[0]})."


def _read(path, what: str) -> np.ndarray:
    import skimage.io

    path = Path(path)
    if path.is_dir():  # ("does not exist" for a folder misled a new user)
        raise SemiaInputError(f"The {what} file {str(path)!r} is a folder: give the file itself.")
    if not path.is_file():
        raise SemiaInputError(f"The {what} file {str(path)!r} does not exist.")
    tifffile_log = logging.getLogger("tifffile")
    level = tifffile_log.level
    # A damaged TIFF makes tifffile log a line of its internals before ours.
    tifffile_log.setLevel(logging.CRITICAL)
    try:
        signature = file_signature(path)
        if is_cmyk_jpeg(path):  # (by its content, whatever its name)
            array = _read_cmyk_jpeg(path)
        elif path.suffix.lower() in _TIFF_SUFFIXES and signature not in ("TIFF", None):
            # A PNG or JPEG named .tif: read as what it is (it was refused as "not a TIFF
            # file"; a new user). scikit-image chooses its reader by the name.
            import imageio.v3 as iio

            array = np.asarray(iio.imread(str(path), extension=f".{signature.lower()}"))
        elif path.suffix.lower() in _TIFF_SUFFIXES:
            import tifffile

            # As stored, its axes as the metadata names them: scikit-image's reader
            # moves a first axis of 3 or 4 last, an ImageJ channel stack's included.
            array = np.asarray(tifffile.imread(str(path)))
        elif png_reads_as_8_bit(path):
            array = _read_16_bit_png(path)
        else:
            array = np.asarray(skimage.io.imread(str(path)))
    except Exception as error:  # any reader failure means the same to the user
        raise SemiaInputError(f"Cannot read the {what} file {str(path)!r}: {_read_failure(error)}") from None
    finally:
        tifffile_log.setLevel(level)
    if array.size == 0 or array.dtype == object:
        # tifffile reads a damaged TIFF as an empty array, after a log line.
        raise SemiaInputError(
            f"Cannot read the {what} file {str(path)!r}: it holds no image (is it damaged?).")
    # Single-plane stacks (1, H, W) or (H, W, 1) are plain 2D images.
    while array.ndim > 2 and 1 in array.shape:
        array = np.squeeze(array, axis=array.shape.index(1))
    return array


def png_reads_as_8_bit(path) -> bool:
    """Whether ``path`` is a PNG of 16-bit colour (RGB, RGBA): Pillow, the reader under
    imageio, scikit-image and napari, gives them 8 bits, without a word. False for
    other files and paths that cannot be read."""
    if Path(path).suffix.lower() != ".png":
        return False
    try:
        with open(path, "rb") as file:
            header = file.read(26)
    except OSError:
        return False
    # The signature, then the IHDR chunk: width, height, bit depth, colour type.
    return (len(header) == 26 and header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR"
            and header[24] == 16 and header[25] in (2, 6))


def _read_16_bit_png(path) -> np.ndarray:
    import png

    # The samples as stored (``read``, not ``asDirect``: that one turns a transparent
    # colour into a fourth channel and rescales by the significant bits).
    width, height, rows, info = png.Reader(filename=str(path)).read()
    return np.vstack([np.asarray(row, np.uint16) for row in rows]).reshape(height, width, info["planes"])


def _first_page(path, attribute: str):
    """``attribute`` of a TIFF's first page (``photometric``, ``colormap``, ...), or None
    for a file tifffile cannot open."""
    import tifffile

    try:
        with tifffile.TiffFile(str(path)) as tif:
            return getattr(tif.pages[0], attribute)
    except Exception:
        return None


def palette_kind(path) -> str | None:
    """'PNG', 'GIF', ... for an indexed-colour file read as its colours (as napari's
    reader does), 'TIFF' for one read as its indices (tifffile, napari too); None for
    other files and paths that cannot be read."""
    try:
        if file_signature(path) == "TIFF":  # (by content, as the file is read)
            import tifffile

            return "TIFF" if _first_page(path, "photometric") == tifffile.PHOTOMETRIC.PALETTE else None
        from PIL import Image

        with Image.open(path) as picture:
            return picture.format if picture.mode in ("P", "PA") else None
    except Exception:
        return None


def min_is_white_note(path) -> str | None:
    """A sentence for a grey TIFF stored 'min-is-white' (scanners, some cameras): viewers
    show it inverted, napari and these readers use its values as stored, and results
    came out as the negative of the picture seen (found by a new user). None otherwise."""
    import tifffile

    if (file_signature(path) != "TIFF"  # (by content, as the file is read)
            or _first_page(path, "photometric") != tifffile.PHOTOMETRIC.MINISWHITE):
        return None
    return (f"'{Path(path).name}' is stored 'min-is-white': image viewers show it inverted, but napari "
            f"and napari-semia use its values as stored, so it and its results look like negatives of "
            f"the picture viewers show. Save it as an ordinary grey image first.")


def is_cmyk_jpeg(path) -> bool:
    """Whether ``path`` is a JPEG of CMYK inks (print workflows, some scanners): the
    readers under imageio, scikit-image and napari give its four ink channels, which
    were written as a transparent RGBA result of inverted colours (found by a new
    user). By its content: one named .png or .tif is read by its content too (as
    readers choose by the name, it gave its inks). False for other files and paths
    that cannot be read."""
    if file_signature(path) != "JPEG":
        return False
    try:
        from PIL import Image

        with Image.open(path) as photo:
            return photo.mode == "CMYK"
    except Exception:
        return False


def _read_cmyk_jpeg(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as photo:
        return np.asarray(photo.convert("RGB"))  # (as photo viewers show it)


#: What an EXIF orientation tag asks of a viewer, to show the photo upright.
_EXIF_TURNS = {2: "mirrored", 3: "turned 180°", 4: "flipped upside down",
               5: "mirrored and turned 90° counter-clockwise", 6: "turned 90° clockwise",
               7: "mirrored and turned 90° clockwise", 8: "turned 90° counter-clockwise"}


def exif_rotation_note(path) -> str | None:
    """A sentence for an image file whose EXIF orientation tag asks viewers to show
    it turned (a phone photo): napari, its readers and these ones take its pixels as
    stored, so it lies on its side, and labels painted on the upright photo do not
    fit it. None for other files."""
    if Path(path).suffix.lower() not in (*_JPEG_SUFFIXES, ".png", ".webp"):
        return None  # (photos; a scanner's or microscope's TIFF tag is left alone)
    try:
        from PIL import Image

        with Image.open(path) as photo:
            turn = _EXIF_TURNS.get(int(photo.getexif().get(0x0112, 1) or 1))
    except Exception:
        return None
    if turn is None:
        return None
    return (f"'{Path(path).name}' has an EXIF orientation tag: photo viewers show it {turn}, but napari "
            f"and napari-semia use its pixels as stored. Save it upright without the tag first (most "
            f"image editors do on export), and paint its labels on that.")


def _first_series(path) -> tuple[str, tuple[int, ...]]:
    """The axes and shape of a TIFF's first series, ('', ()) for other files and TIFFs
    tifffile cannot open."""
    if Path(path).suffix.lower() not in _TIFF_SUFFIXES:
        return "", ()
    import tifffile

    try:
        with tifffile.TiffFile(str(path)) as tif:
            if not tif.series:
                return "", ()
            return tif.series[0].axes, tuple(tif.series[0].shape)
    except Exception:
        return "", ()


def _tiff_axes(path, plane_chosen: bool = False) -> str:
    """The axes a TIFF's first series names ('YXS', 'CYX', 'ZYX', ...), or '' for
    other files and TIFFs tifffile cannot open (the reader itself says so).
    ``plane_chosen``: a plane was asked for (``--plane``), so unnamed planes too
    narrow to be told from channels otherwise are a stack when wider than an image
    has channels (a stack of 64 x 64 crops was read as 64 channels and refused,
    --plane unused; a docs audit)."""
    axes, shape = _first_series(path)
    if (len(axes) == 3 and axes[0] in "QI" and axes[1:] == "YX" and shape[0] > MAX_CHANNELS
            and shape[2] > (MAX_CHANNELS if plane_chosen else _MIN_PLANE_WIDTH)):
        # Planes with no axis named, more than an image has channels and wider than
        # channels are many (tifffile stores (H, W, C) as H pages of W x C): a stack ('P').
        return "P" + axes[1:]
    return axes


def tiff_channel_axis(path, shape) -> int | None:
    """Where a TIFF keeps channels along an axis of its own, for an array of
    ``shape`` read from it as stored (napari's reader does): the position of its
    'C' axis, or of planar samples ('S' before the rows); None for other files.
    napari shows such an axis with a slider, like the planes of a stack."""
    axes = _tiff_axes(path)
    if len(axes) != len(shape):
        return None
    for position, axis in enumerate(axes[:-2]):
        if axis in "CS" and 1 < shape[position] <= MAX_CHANNELS:
            return position
    return None


def _stack_axes(axes: str) -> str | None:
    """The stack axes (``_STACK_AXES``) among a TIFF's axes, or None: such a file of
    a few planes read as channels (the shapes alike), and trained as one image of
    five channels when it was five planes of one."""
    named = "".join(axis for axis in axes if axis in _STACK_AXES)
    return named or None


def _stack_message(path, what: str, stack_axes: str, shape) -> str:
    single = "multichannel image" if what == "image" else "label map"
    if stack_axes == "P":
        what_it_is = (f"a stack of {shape[0]} planes (no axes named in it; more planes than an image "
                      f"has channels, at most {MAX_CHANNELS}), shape {shape}")
    else:
        kinds = " and ".join({"Z": "a z-stack", "T": "a time series"}[axis] for axis in stack_axes)
        what_it_is = f"{kinds} (axes {stack_axes} in its metadata, shape {shape})"
    return (f"The {what} file {str(path)!r} is {what_it_is}, not one {single}. Choose a plane with "
            f"--plane N, save one 2D plane per file (e.g. in napari or Fiji), or use the napari "
            f"widget, which works on the plane on display.")


def _plane_of_stack(array: np.ndarray, axes: str, path, what: str, plane: int | None):
    """(plane ``plane`` of a z-stack or time-series TIFF, the axes left) or, for other
    files, (``array``, ``axes``). Several stack axes (T and Z) count as one, in the
    file's order. No plane chosen for a stack: SemiaInputError."""
    stack_axes = _stack_axes(axes)
    if not stack_axes:
        return array, axes
    if plane is None or len(axes) != array.ndim:
        raise SemiaInputError(_stack_message(path, what, stack_axes, array.shape))
    stacked = [i for i, axis in enumerate(axes) if axis in _STACK_AXES]
    planes = int(np.prod([array.shape[i] for i in stacked]))
    if not 0 <= plane < planes:
        raise SemiaInputError(f"--plane {plane}: the {what} file {str(path)!r} has planes 0 to "
                              f"{planes - 1} (shape {array.shape}).")
    rest = [i for i in range(array.ndim) if i not in stacked]
    flat = np.transpose(array, stacked + rest).reshape((planes,) + tuple(array.shape[i] for i in rest))
    return flat[plane], "".join(axes[i] for i in rest)


def holds_planes(path) -> bool:
    """Whether ``--plane`` picks a plane of ``path``: a TIFF whose metadata names a
    z or time axis, one of more unnamed planes than an image has channels, or one
    of a few planes of label maps."""
    return _stack_axes(_tiff_axes(path, plane_chosen=True)) is not None or is_planes_of_maps_file(path)


def unused_plane_note(plane: int | None, paths) -> str | None:
    """A warning for ``--plane`` given where no file is a stack, else None."""
    if plane is None or any(holds_planes(path) for path in paths):
        return None
    return f"--plane {plane} is not used: no file given is a z-stack or time series."


def is_planes_of_maps_file(path) -> bool:
    """Whether ``path`` is a label TIFF of a few planes of maps (``_planes_of_maps``),
    from which ``--plane`` picks one. Its pixels are read only where its first series
    has that shape (asked of every file when --plane is given)."""
    shape = [size for size in _first_series(path)[1] if size != 1]
    if len(shape) != 3 or shape[-1] in (3, 4):
        return False
    labels = _raw_labels_of(path, _TIFF_SUFFIXES)
    return labels is not None and labels.ndim == 3 and _planes_of_maps(labels, _tiff_axes(path), path)


def _raw_labels_of(path, suffixes) -> np.ndarray | None:
    """The label file's pixels as stored, for a look at them, where its name ends in one
    of ``suffixes`` and it can be read; else None (the reading proper says what fails)."""
    if Path(path).suffix.lower() not in suffixes:
        return None
    try:
        return _read(path, "label")
    except SemiaInputError:
        return None


def read_image_file(path, plane: int | None = None) -> np.ndarray:
    """Read an image: (H, W), (H, W, 3) RGB (an opaque alpha dropped) or (H, W, C).

    Multichannel TIFFs stored channels-first, (C, H, W) with few channels, are
    moved to channels-last. Of a TIFF whose metadata names a z or time axis
    (ImageJ, OME), plane ``plane`` is read; with none chosen it is refused: its
    planes are no channels.
    """
    image = _read(path, "image")
    axes = _tiff_axes(path, plane is not None) if image.ndim > 2 else ""
    image, axes = _plane_of_stack(image, axes, path, "image", plane)
    if image.ndim == 3:
        named = len(axes) == 3 and axes[0] in "CS" and axes[1:] == "YX"
        if named:
            # The file names its planes channels (ImageJ, OME) or colour samples
            # (planar RGB): one image of that many channels, whatever the sizes.
            image = np.moveaxis(image, 0, -1)
        elif image.shape[-1] > MAX_CHANNELS and image.shape[0] <= MAX_CHANNELS:
            image = np.moveaxis(image, 0, -1)
        # An opaque alpha is dropped from colour, never from named channels.
        if image.shape[-1] == 4 and not axes.startswith("C") and is_opaque_alpha(image[..., 3]):
            image = image[..., :3]
        # And from grey (an opaque grey PNG with transparency read as 2 channels).
        if (image.shape[-1] == 2 and Path(path).suffix.lower() in ALPHA_SUFFIXES
                and is_opaque_alpha(image[..., 1])):
            image = image[..., 0]
    return np.ascontiguousarray(image)


def read_label_file(path, plane: int | None = None) -> np.ndarray:
    """Read a label map: (H, W) integer ids, or (H, W, 3) RGB colours (alpha dropped).

    Of a TIFF whose metadata names a z or time axis, plane ``plane`` is read; with
    none chosen it is refused (three or four planes would read as a colour-coded map).
    A map of ids stored as JPEG is refused: lossy compression turns the edges
    between regions into grey levels of their own, each read as a class (a
    3-class map came back as 211 classes, and trained without a word).
    Colour-coded JPEGs are read: their colours are grouped into regions. The same
    holds for lossy WebP; a lossy file's colour map of three equal channels, with
    levels closer than :data:`_CLOSE_LEVELS`, is one of ids or grey levels: refused too.
    A grey map with transparency (PNG, WebP, GIF) is read without it, as colour ones are.
    """
    labels = _read(path, "label")
    if labels.ndim > 2:
        labels, axes = _plane_of_stack(labels, _tiff_axes(path, plane is not None), path, "label", plane)
        if _planes_of_maps(labels, axes, path):
            labels = _plane_of_maps(labels, path, plane)
    if labels.ndim == 3 and labels.shape[0] in (3, 4) and labels.shape[-1] not in (3, 4):
        labels = np.moveaxis(labels, 0, -1)  # a colour-coded map stored planar
    if labels.ndim == 3 and labels.shape[-1] in (2, 4) and Path(path).suffix.lower() in ALPHA_SUFFIXES:
        labels = labels[..., :-1]  # (a grey map with transparency, GIMP's mask layer: refused as 2 channels)
    if labels.ndim == 3 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.ndim == 3 and labels.shape[-1] == 4:
        labels = labels[..., :3]
    lossy = _lossy_format(path)
    if (lossy and labels.ndim == 3 and labels.shape[-1] == 3 and _nearly_grey(labels)
            and _close_levels(_grey_of(labels))):
        # Ids written by an app that always writes colour (and WebP, which Pillow reads as
        # colour): read as the colours of a colour-coded map, the compression's noise made
        # a sixth of an object's pixels another class, without a word (found by a new user).
        # Greys far apart are a colour-coded map's (black, grey, white): their colours are
        # told apart through the noise, as before (a review).
        labels = labels[..., 0]
    if lossy and labels.ndim == 3 and labels.dtype == np.uint8:
        from .labels import photo_evidence

        evidence = photo_evidence(labels)
        if evidence is not None:
            # Refused as a photo all the same (as the codec does), in words that name the
            # compression: a face map saved at JPEG's default quality was "a photo", with
            # no word of saving it again without loss (a docs audit).
            raise SemiaInputError(
                f"The label file {str(path)!r} is a {lossy} that looks like a photo rather than a "
                f"colour-coded label map: {evidence}. If it is a label map, the compression made "
                f"new colours along every edge between regions: save label maps as PNG, or as TIFF without "
                f"JPEG compression. If it is a photo, give its label map instead.")
    if lossy and labels.ndim == 2:
        distinct = len(np.unique(labels))
        # (The count shows the damage where it is many; a few values may all be ids, changed.)
        seen = f" ({distinct} distinct values here)" if distinct > 8 else ""
        raise SemiaInputError(
            f"The label file {str(path)!r} is a {lossy} of ids or grey levels: its compression changes "
            f"them along the edges between regions{seen}. Save label maps as PNG, or as TIFF without JPEG "
            f"compression.")
    return np.ascontiguousarray(labels)


def erased_pixels_note(path) -> str | None:
    """A warning for a label file with fully transparent pixels (GIMP's eraser on a layer
    with transparency, colours kept): the map is read without its transparency, so they
    keep the class of the colour they hold, and an object erased in the editor came back
    (a pass over other tools' files). None otherwise."""
    labels = _raw_labels_of(path, ALPHA_SUFFIXES)
    if labels is None or labels.ndim != 3 or labels.shape[-1] not in (2, 4):
        return None
    erased = int(np.count_nonzero(labels[..., -1] == 0))
    if not erased:
        return None
    return (f"{Path(path).name}: {erased} pixel(s) are fully transparent (erased in an image editor?). "
            f"Label maps are read without transparency, so they keep the class of the colour they hold; "
            f"paint them with a class instead.")


def _planes_of_maps(labels: np.ndarray, axes: str, path) -> bool:
    """Whether a TIFF of a few planes holds no colour map but planes of maps: ids of a
    type no paint program writes as colour (napari's save of a 3D Labels layer, int32:
    its 3 planes were read as the R, G and B of one map), four planes whose fourth is
    no alpha (per-class masks: the fourth was dropped as transparency, its class merged
    into another), or channels the file names as such (ImageJ). Colour maps stored as
    planes, 8 or 16 bits, with an alpha the file names (planar RGBA) or an opaque one,
    are colour maps (a review: planar RGB TIFFs were refused). (A pass over other
    tools' files.)"""
    if labels.ndim != 3 or labels.shape[-1] in (3, 4) or not axes or axes[0] not in "QICS":
        return False
    planes = labels.shape[0]
    # (tifffile writes any 3 or 4 planes as RGB(A) unless told otherwise, napari's Labels
    # writer too: the 'S' axis it names tells a colour map by its sample type only.)
    colour_type = labels.dtype in (np.uint8, np.uint16)
    return not (planes in (3, 4) and axes[0] in "QIS" and colour_type
                and (planes == 3 or _named_alpha(path) or is_opaque_alpha(labels[3])))


def _plane_of_maps(labels: np.ndarray, path, plane: int | None) -> np.ndarray:
    """Plane ``plane`` of a file of planes of maps (``_planes_of_maps``); refused
    without one, naming what to do (napari's 3D Labels save was a dead end: --plane was
    "not used", and the file refused)."""
    planes = labels.shape[0]
    if plane is not None:
        if not 0 <= plane < planes:
            raise SemiaInputError(f"--plane {plane}: the label file {str(path)!r} has planes 0 to "
                                  f"{planes - 1} (shape {labels.shape}).")
        return labels[plane]
    as_rgb = (" If they are the R, G and B of a colour-coded map, save it as RGB (Fiji: Image > Type > "
              "RGB Color)." if planes == 3 and labels.dtype in (np.uint8, np.uint16) else "")
    raise SemiaInputError(
        f"The label file {str(path)!r} holds {planes} planes of {labels.shape[1]} × {labels.shape[2]} px "
        f"(shape {labels.shape}), not one label map: a stack of maps, or a mask per class? Choose a plane "
        f"with --plane N, or give one map of ids (or a colour-coded RGB map) per file: combine per-class "
        f"masks into one map of ids. (`generate --layouts` takes a stack of layouts as it is.){as_rgb}")


def _named_alpha(path) -> bool:
    """Whether a TIFF names its extra sample an alpha (associated or not)."""
    return any(int(sample) in (1, 2) for sample in (_first_page(path, "extrasamples") or ()))


def read_target_file(path, plane: int | None = None, codec=None) -> tuple[np.ndarray, str | None]:
    """A target label map as :func:`read_label_file` reads it, and a note to show
    (None mostly), for targets checked against ``codec`` (a ``LabelCodec``).

    An indexed-colour TIFF checked against colour-coded labels is read as its colour
    table's colours where they are the source labels' (Fiji's "8-bit Color" of a
    colour-coded map): read as its indices, those in 1..K were taken for class numbers
    (most frequent class first), and the layout came back with its classes swapped
    without a word (a docs audit). Where only its indices make a valid map (ids saved
    with a lookup table, Fiji's glasbey), they are read, as before; where both readings
    are valid and differ, the colours are, and the note says so (a review)."""
    labels = read_label_file(path, plane)
    if labels.ndim != 2:
        return labels, None
    return indexed_reading(path, labels, codec)


def indexed_reading(path, indices: np.ndarray, codec) -> tuple[np.ndarray, str | None]:
    """(the reading of ``indices``, a map or stack of maps (..., H, W) read from
    ``path``, to use against ``codec``, a note or None): see :func:`read_target_file`.
    Indices as they are, but for an indexed-colour TIFF against colour-coded labels.
    Decided on the table's colours of the indices present, not on the pixels (encoding
    a 4096² map both ways took 5 s and 1 GB; a review)."""
    from .labels import MAX_COLOUR_DISTANCE, nearest_colours

    if (codec is None or codec.palette is None or not np.issubdtype(indices.dtype, np.integer)
            or palette_kind(path) != "TIFF"):
        return indices, None
    table = _colour_table_of(path)
    if table is None or int(indices.max()) >= len(table):
        return indices, None

    present = np.flatnonzero(np.bincount(indices.ravel()))
    nearest, distance = nearest_colours(table[present], codec.palette)
    if not bool(np.all(distance <= MAX_COLOUR_DISTANCE)):
        return indices, None  # (its colours are no source colours: read as ids, as before)
    # As ids, index i is class i of the codec (ids 1..K); as colours, the nearest colour's.
    ids = np.asarray(codec.class_ids)
    fits_as_ids = bool(np.isin(present, ids).all())
    colours = np.ascontiguousarray(table[indices])
    if not fits_as_ids or np.array_equal(ids[nearest], present):
        return colours, None
    return colours, (
        f"{Path(path).name} is an indexed-colour TIFF whose colour table holds the source labels' colours: "
        f"it is read as those colours, as image viewers show it; its indices, read as class numbers, would "
        f"give another layout. Save it as an RGB image, or as a grey TIFF of ids, to leave no doubt.")


def _colour_table_of(path) -> np.ndarray | None:
    """An indexed TIFF's colour table as (N, 3) uint8 (TIFF stores 16-bit values)."""
    table = _first_page(path, "colormap")
    if table is None or np.ndim(table) != 2 or table.shape[0] != 3:
        return None
    table = np.asarray(table, np.uint32).T
    return (((table + 128) // 257) if table.max() > 255 else table).astype(np.uint8)


#: Equal colour channels of a lossy label map with main grey levels closer than this
#: are read as ids: a few levels apart, the compression's noise is as large as their steps.
_CLOSE_LEVELS = 32


def _close_levels(grey: np.ndarray) -> bool:
    """Whether two of the grey levels a colour-coded reading would take for classes
    (``dominant_colours``: whole 3 x 3 patches of them, on enough pixels; the
    compression's noise lies along edges) are closer than :data:`_CLOSE_LEVELS`.
    Judged by the largest level, ids 0, 1, 2 and a 255 'void' passed for a colour
    map (a review)."""
    from .labels import dominant_levels

    levels = np.sort(dominant_levels(grey).astype(int))
    if len(levels) < 2:
        # One class in whole patches (the others thin lines, or tiny): small values are
        # ids (a JPEG of ids 0 and 1 in scribbles passed for a colour map; a review).
        return int(grey.max()) < _CLOSE_LEVELS
    return int(np.diff(levels).min()) < _CLOSE_LEVELS


def _grey_of(image: np.ndarray) -> np.ndarray:
    """The rounded mean of a uint8 image's three channels, in uint8."""
    total = image[..., 0].astype(np.uint16) + image[..., 1] + image[..., 2]
    return ((total + 1) // 3).astype(np.uint8)


def _nearly_grey(image: np.ndarray) -> bool:
    """Whether the colour channels are equal but for a level or two (a lossy WebP's
    chroma rounding is one)."""
    red = image[..., 0].astype(np.int16)
    return bool(np.abs(red - image[..., 1]).max() <= 2 and np.abs(red - image[..., 2]).max() <= 2)


def file_signature(path) -> str | None:
    """'TIFF', 'JPEG', 'PNG' or 'WebP' by the file's first bytes, whatever its name
    says; None for others and files that cannot be read."""
    try:
        with open(path, "rb") as file:
            head = file.read(12)
    except OSError:
        return None
    if head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        return "TIFF"
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


#: TIFF compression codes of JPEG (old and new style, and Adobe's DNG JPEG): always lossy.
#: (JPEG 2000, JPEG XL and WebP in a TIFF may be lossless: not judged by the code.)
_JPEG_TIFF_COMPRESSION = frozenset({6, 7, 34892})


def _lossy_tiff(path) -> str | None:
    """'JPEG-compressed TIFF' for a TIFF whose first page is stored as JPEG, else None."""
    code = _first_page(path, "compression")
    return "JPEG-compressed TIFF" if code is not None and int(code) in _JPEG_TIFF_COMPRESSION else None


def _lossy_format(path) -> str | None:
    """'JPEG' or 'lossy WebP' for a file stored with lossy compression (by its content:
    a JPEG named .png trained on its noise as classes; a new user), else None."""
    kind = file_signature(path)
    if kind == "JPEG":
        return "JPEG"
    if kind == "TIFF":
        # A TIFF compressed as JPEG (or another lossy codec): Fiji, QuPath and Photoshop
        # write them; a 4-class map read as 58 ids trained without a word, while the
        # same map as .jpg was refused with "save label maps as PNG or TIFF" (a pass
        # over other tools' files).
        return _lossy_tiff(path)
    if kind != "WebP":
        return None
    # A RIFF file of chunks: 'VP8 ' holds lossy data, 'VP8L' lossless, the extended
    # format ('VP8X') either, after chunks of its own (a colour profile of any size,
    # alpha; an animation's frames, 'ANMF', each hold their own: the first is read).
    try:
        with open(path, "rb") as file:
            file.seek(12)  # (past the RIFF header, which file_signature read)
            while len(header := file.read(8)) == 8:
                chunk, size = header[:4], int.from_bytes(header[4:], "little")
                if chunk == b"VP8 ":
                    return "lossy WebP"
                if chunk == b"VP8L":
                    return None
                if chunk == b"ANMF":
                    file.seek(16, os.SEEK_CUR)  # (the frame's own header, then its chunks)
                    continue
                file.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None
    return None


def read_source_info(path) -> SourceInfo:
    """The channel names and pixel size an OME or ImageJ TIFF gives; empty for other
    files, and for metadata that cannot be read (the pixels are what matters)."""
    if Path(path).suffix.lower() not in _TIFF_SUFFIXES:
        return SourceInfo()
    import tifffile

    try:
        with tifffile.TiffFile(str(path)) as tif:
            if tif.is_ome:
                return _ome_info(tif.ome_metadata)
            if tif.is_imagej:
                return _imagej_info(tif.imagej_metadata or {}, tif.pages[0])
    except Exception:
        pass
    return SourceInfo()


def file_source_info(path, image) -> SourceInfo:
    """What is known of the source file ``path``, read as ``image``: a TIFF's channel
    names and pixel size (:func:`read_source_info`), and, for any other file of 3 or
    4 channels, that it is a colour image (a PNG's 4th channel is transparency, a
    TIFF's may be a fourth stain)."""
    info = read_source_info(path)
    if Path(path).suffix.lower() not in _TIFF_SUFFIXES:
        info = dataclasses.replace(info, colour=True)
    return info.fitting(np.asarray(image))


def _ome_info(xml: str) -> SourceInfo:
    from xml.etree import ElementTree

    root = ElementTree.fromstring(xml)
    pixels = next((element for element in root.iter() if element.tag.endswith("}Pixels")
                   or element.tag == "Pixels"), None)
    if pixels is None:
        return SourceInfo()
    size = None
    if "PhysicalSizeX" in pixels.attrib and "PhysicalSizeY" in pixels.attrib:
        size = (float(pixels.attrib["PhysicalSizeY"]), float(pixels.attrib["PhysicalSizeX"]))
    unit = unit_name(pixels.attrib.get("PhysicalSizeXUnit", "µm")) if size else ""  # (the schema's default)
    names = [element.attrib.get("Name") for element in pixels
             if element.tag.endswith("}Channel") or element.tag == "Channel"]
    return SourceInfo(tuple(names) if names and all(names) else (), size, unit)


def _imagej_info(metadata: dict, page) -> SourceInfo:
    unit = unit_name(metadata.get("unit"))
    size = None
    if unit:
        x_per_unit, y_per_unit = page.resolution
        if x_per_unit > 0 and y_per_unit > 0:
            size = (1.0 / y_per_unit, 1.0 / x_per_unit)
    names = metadata.get("Labels") or ()
    if isinstance(names, str):
        names = (names,)  # (tifffile gives a single label as it is: "RGB" was three channels)
    if (metadata.get("channels", 1) <= 1 or metadata.get("slices", 1) > 1
            or metadata.get("frames", 1) > 1 or not all(names)):
        # Labels of planes, not of channels; or some channels unnamed (as for OME).
        names = ()
    return SourceInfo(tuple(names), size, unit if size else "")


def image_suffix(image: np.ndarray, info: SourceInfo | None = None) -> str:
    """'.png' for 8-bit grayscale or RGB images, '.tif' for everything else, and for
    any image with named channels or a pixel size to keep (``info``).

    A result of 4 channels is four channels of data, not RGBA (as a PNG its fourth
    channel became transparency), unless ``info`` says the source is a colour image
    (a PNG with transparency): a source with an opaque alpha gives an RGB result.
    """
    image = np.asarray(image)
    if info is not None and info.has_metadata:
        return ".tif"
    colours = (3, 4) if info is not None and info.colour else (3,)
    if image.dtype == np.uint8 and (image.ndim == 2 or (image.ndim == 3 and image.shape[-1] in colours)):
        return ".png"
    return ".tif"


def check_writable_folder(out_dir) -> None:
    """Raise SemiaInputError unless ``out_dir``, or the nearest folder above it that
    exists, is a writable folder: checked before any work, so that no result (or a
    trained model) is lost at the end to a path that is a file."""
    out_dir = Path(out_dir)
    existing = out_dir
    while not existing.exists():
        if existing.is_symlink():  # (checked as a folder to make; mkdir said "File exists")
            try:
                os.stat(existing)
                why = "which does not exist"
            except OSError as error:  # (a loop of links read as "does not exist"; a review)
                why = "which does not exist" if error.errno == errno.ENOENT else error.strerror.lower()
            raise SemiaInputError(f"The output folder {out_dir}: {existing} is a symbolic link to "
                                  f"{os.readlink(existing)}, {why}.")
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise SemiaInputError(f"The output path {existing} is a file, not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SemiaInputError(
            f"The output folder {out_dir} cannot be written (no write permission on {existing}).")
    if existing.is_dir():
        # Tried too: on Windows os.access says every folder can be written (it reads the
        # read-only flag alone, not the folder's permissions), and on macOS privacy-
        # protected folders pass it; a training run ended by losing its model (a
        # portability audit). A read-only file system is said as one.
        error = write_probe_error(existing)
        if error is not None:
            raise SemiaInputError(f"The output folder {out_dir} cannot be written ({existing}: "
                                  f"{error.strerror or error}).")


def write_probe_error(folder) -> OSError | None:
    """Why a file cannot be written in ``folder`` (None where one can): a hidden file
    made and removed, the only test that holds on every system (also what a Dask
    worker checks of a dataset's folder)."""
    import tempfile

    try:
        handle, probe = tempfile.mkstemp(prefix=".write-test" + PARTIAL_MARKER, dir=folder)
    except OSError as error:
        return error
    os.close(handle)
    try:
        os.unlink(probe)
    except OSError:  # (written, so writable: a file held a moment on Windows, say)
        pass
    return None


_IMAGEJ_TYPES = tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.float32))
_OME_TYPES = tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.uint32, np.float64, np.bool_))


def _is_channel_stack(image: np.ndarray, info: SourceInfo) -> bool:
    """Whether ``image`` is (H, W, C) channels that are no RGB colour (4 included:
    see :func:`image_suffix`; 3 when ``info`` names them): such a TIFF is written
    channels-first with its axes named, as Fiji expects."""
    return image.ndim == 3 and (image.shape[-1] != 3 or info.is_channels)


def _photometric(image: np.ndarray, colour: bool) -> str | None:
    """'rgb' for colour samples (bool excepted: tifffile stores those as bits), else None."""
    return "rgb" if colour and image.dtype != np.bool_ else None


def _write_tiff(path: Path, image: np.ndarray, info: SourceInfo, marks: dict) -> None:
    """``marks``: tifffile's ``software`` and ``extratags`` (the provenance)."""
    import tifffile

    channels = _is_channel_stack(image, info)
    if not channels and not info.has_metadata:
        # (Colour as samples of one page, said outright: tifffile warns that it will stop
        # guessing so.)
        tifffile.imwrite(str(path), image, photometric=_photometric(image, image.ndim == 3),
                         **marks)
        return
    # Written as (H, W, C), tifffile stores H pages of W x C images: Fiji shows
    # H slices one pixel row each. Channels go first, as an ImageJ hyperstack
    # where ImageJ has the type, else as OME-TIFF (Fiji reads it with Bio-Formats).
    data = np.ascontiguousarray(np.moveaxis(image, -1, 0)) if channels else image
    axes = "CYX" if channels else ("YXS" if image.ndim == 3 else "YX")
    names = list(info.channel_names) if channels and info.is_channels else []
    imagej = image.dtype in _IMAGEJ_TYPES and (axes != "YXS" or image.dtype == np.uint8)
    if imagej:
        metadata: dict = {"axes": axes}
        options = {}
        if info.pixel_size is not None:
            options["resolution"] = (1 / info.pixel_size[1], 1 / info.pixel_size[0])
            # (ImageJ's header is ASCII: other characters escaped as ImageJ writes them.)
            unit = "micron" if info.unit == "µm" else (info.unit or "pixel")
            metadata["unit"] = "".join(c if ord(c) < 128 else f"\\u{ord(c):04X}" for c in unit)
        if names:
            metadata["Labels"] = names
        tifffile.imwrite(str(path), data, imagej=True, metadata=metadata, **marks, **options)
    elif (image.dtype in _OME_TYPES or image.dtype in _IMAGEJ_TYPES) and not (
            axes == "YXS" and image.dtype == np.bool_):  # (tifffile writes no OME of bool samples)
        metadata = {"axes": axes}
        if info.pixel_size is not None and info.unit in OME_LENGTH_UNITS:
            # (OME names a few units; a size in another, or in none, is not written.)
            metadata.update(PhysicalSizeY=info.pixel_size[0], PhysicalSizeX=info.pixel_size[1],
                            PhysicalSizeYUnit=info.unit, PhysicalSizeXUnit=info.unit)
        if names:
            metadata["Channel"] = {"Name": names}
        tifffile.imwrite(str(path), data, ome=True, metadata=metadata,
                         photometric=_photometric(data, axes == "YXS"), **marks)
    else:  # int64, uint64, float16: tifffile's own format, which names the axes too
        tifffile.imwrite(str(path), data, metadata={"axes": axes},
                         photometric=_photometric(data, axes == "YXS"), **marks)


def _png_text(path: Path, key: str) -> str:
    """A PNG's ``key`` text, read from its chunks before the pixels (Pillow refused
    to open a PNG of more than 178 million pixels, as a decompression bomb; a review)."""
    wanted = key.encode("latin-1")
    with open(path, "rb") as file:
        file.seek(8)
        while True:
            header = file.read(8)
            if len(header) < 8:
                return ""
            length, kind = int.from_bytes(header[:4], "big"), header[4:]
            if kind in (b"IDAT", b"IEND"):
                return ""
            if kind == b"tEXt" and length < 1 << 16:
                keyword, _, text = file.read(length).partition(b"\0")
                if keyword == wanted:
                    return text.decode("latin-1")
                file.seek(4, os.SEEK_CUR)
            else:
                file.seek(length + 4, os.SEEK_CUR)


#: TIFF's Software tag.
_SOFTWARE_TIFF_TAG = 305


def _recorded_text(path, png_key: str, tiff_tag: int) -> str:
    """A text an image file records: a PNG's ``png_key`` text or a TIFF's ``tiff_tag``
    ('' for none, a file that is not a PNG or a TIFF, or one that cannot be read).
    Only a regular file is opened (a FIFO of that name hung the command; a review)."""
    path = Path(path)
    try:
        if not path.is_file():
            return ""
        signature = file_signature(path)
        if signature == "PNG":
            text = _png_text(path, png_key)
        elif signature == "TIFF":
            import tifffile

            with tifffile.TiffFile(str(path)) as tif:
                tag = tif.pages[0].tags.get(tiff_tag)
                text = tag.value if tag is not None else ""
        else:
            return ""
    except Exception:  # (a damaged file, a folder: none)
        return ""
    return text if isinstance(text, str) else ""


def read_provenance(path) -> dict | None:
    """What made the image at ``path``, as its writer recorded it (``provenance``),
    or None."""
    text = _recorded_text(path, _PROVENANCE_PNG_KEY, _PROVENANCE_TIFF_TAG)
    try:
        found = json.loads(text) if text else None
    except ValueError:  # (a text that is no record: none)
        return None
    return found if isinstance(found, dict) else None


def file_sha256(path) -> str:
    """The SHA-256 of the file at ``path`` (read in blocks: a model is tens of MB)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def written_by_napari_semia(path) -> bool:
    """Whether ``path`` is an image file this package wrote (``WRITER``, any version).
    False for anything else, a folder, or a file that cannot be read."""
    return _recorded_text(path, "Software", _SOFTWARE_TIFF_TAG).startswith("napari-semia ")


def written_as_result(path) -> bool:
    """Whether ``path`` is a command's result (``RESULT_WRITER``, any version): one a
    later result may replace."""
    software = _recorded_text(path, "Software", _SOFTWARE_TIFF_TAG)
    return software.startswith("napari-semia ") and software.endswith(" (result)")


def write_image_file(path, image, info: SourceInfo | None = None, *, result: bool = False,
                     provenance: dict | None = None) -> Path:
    """Write ``image`` to ``path``: TIFF for ``.tif``/``.tiff`` paths (several
    channels as a channels-first stack with its axes named; with ``info``, its
    channel names and pixel size too), else via imageio. PNG and TIFF files name
    ``WRITER`` as their Software, or ``RESULT_WRITER`` with ``result``, and carry
    ``provenance`` (what made the image, as JSON: :func:`read_provenance`).

    Written to a temporary file beside it, then renamed into place: a failure
    leaves no half-written file and the file that was there, if any, as it was."""
    path = Path(path)
    image = np.asarray(image)
    software = RESULT_WRITER if result else WRITER
    made_of = json.dumps(provenance, sort_keys=True, ensure_ascii=True) if provenance else None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with written_atomically(path) as temporary:
            if path.suffix.lower() in _TIFF_SUFFIXES:
                marks = {"software": software}
                if made_of:
                    marks["extratags"] = [(_PROVENANCE_TIFF_TAG, "s", 0, made_of, True)]
                _write_tiff(temporary, image, (info if info is not None else SourceInfo()).fitting(image),
                            marks)
            else:
                import imageio.v3 as iio

                if path.suffix.lower() == ".png":
                    from PIL.PngImagePlugin import PngInfo

                    text = PngInfo()
                    text.add_text("Software", software)
                    if made_of:
                        text.add_text(_PROVENANCE_PNG_KEY, made_of)
                    # Encoded in memory, then written: writing to the file itself, imageio
                    # reported a full disk twice, the second time as an "Exception ignored"
                    # traceback from its plugin's __del__ (a cluster user's log).
                    Path(temporary).write_bytes(iio.imwrite("<bytes>", image, extension=".png", pnginfo=text))
                else:
                    iio.imwrite(str(temporary), image)
    except Exception as error:  # disk full, permissions, a type the format lacks: one message
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise OutputWriteError(f"Cannot write {str(path)!r}: {reason}") from None
    return path
