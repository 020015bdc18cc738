"""Small real data samples shipped with anomalib_ae (sources and licences: ``README.md`` here).

Every loader returns numpy / pandas objects and reads the files that are installed with
the package, so the demo, the notebooks and the default tests work without a network or
a separate data folder.

>>> from anomalib_ae.datasets import load_pneumonia_sample
>>> d = load_pneumonia_sample()
>>> d["x_train"].shape, d["x_test"].shape
((300, 28, 28), (200, 28, 28))
"""

from anomalib_ae.datasets.samples import (
    SAMPLES,
    load_cardio,
    load_mimii_sample,
    load_pneumonia_sample,
    load_smd_sample,
    mimii_sample_dir,
    pneumonia_png_dir,
    sample_path,
)

__all__ = [
    "SAMPLES",
    "load_cardio",
    "load_mimii_sample",
    "load_pneumonia_sample",
    "load_smd_sample",
    "mimii_sample_dir",
    "pneumonia_png_dir",
    "sample_path",
]
