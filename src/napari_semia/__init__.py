"""napari-semia: Semantic Image Analogy (Li et al., ACM MM 2020) for napari.

The core (everything importable from this package without Qt) trains a small
conditional single-image GAN on one image and its label map, and synthesizes
the same appearance in new layouts. The napari dock widget lives in the
private ``_qt`` subpackage and only drives this core.
"""

__version__ = "0.1.0"

from .errors import IncompatibleModelError, ModelFileError, OutputWriteError, SemiaInputError, SemiaWarning

__all__ = ["IncompatibleModelError", "ModelFileError", "OutputWriteError", "SemiaInputError", "SemiaWarning",
           "__version__"]
