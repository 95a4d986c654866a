"""Errors that carry a message meant for the user, not a traceback."""


class SemiaInputError(ValueError):
    """Bad input (shape, dtype, labels...); raised before any training starts."""


class ModelFileError(SemiaInputError):
    """A model file that is missing, corrupt, foreign, incompatible or cannot be written."""


class NewerModelFileError(ModelFileError):
    """A model file written by a newer napari-semia: whole, but not readable by this one."""


class IncompatibleModelError(SemiaInputError):
    """Training cannot continue this model on these inputs (other classes, shape or channels)."""


class OutputWriteError(SemiaInputError):
    """A result or dataset file that cannot be written (a full disk, a folder without
    write permission): what was written before it is kept."""


class SemiaWarning(UserWarning):
    """What napari-semia warns a script of (a note on its inputs, a dataset's
    sampling): ``warnings.filterwarnings("ignore", category=SemiaWarning)``
    silences them (a scripting user could only match their text)."""


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is the machine or accelerator running out of memory: Python's
    MemoryError, torch's for CUDA and MPS ("... out of memory"), or its CPU
    allocator's ("can't allocate memory")."""
    text = str(error).lower()
    return isinstance(error, MemoryError) or "out of memory" in text or "can't allocate memory" in text
