"""The ground floor: leaf utilities every other package may import, and which import none of them.

``errors`` (UserError: the CLI's one-line message and exit status 2), ``atomic`` (atomic file writes),
``registry`` (name -> object tables). Nothing here imports ``benchmark``, ``sr_models``,
``classifiers`` or ``reports`` (tests/test_architecture_imports.py).
"""
