"""One folder per deep model family: ``models/<family>/network.py`` (the torch network, class
names ending in ``Net``, no Lightning) and ``models/<family>/detector.py`` (the registered
estimator). Families: ``ae``, ``vae``, ``cvad``, ``mae``, ``riad``, ``deepsvdd``, ``sage``, ``idnn``, ``winae``, ``subspace``,
``goad``.

Importing :mod:`anomalib_ae` (through :mod:`anomalib_ae.detectors`) imports every family's
detector, which registers it.
"""
