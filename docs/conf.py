"""Sphinx configuration of the speechbrain_interp documentation.

Sphinx with MyST (Markdown pages) and napoleon (the NumPy docstrings of the API), as
SpeechBrain's own documentation: the pages are the project's Markdown, the API reference is
generated from the docstrings, and ``sphinx-build -W`` turns every warning into an error
(``tests/test_docs.py``).
"""

project = "speechbrain_interp"
author = "speechbrain_interp contributors"
copyright = "2026, speechbrain_interp contributors"

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

napoleon_numpy_docstring = True
napoleon_google_docstring = False
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the docstrings describe every argument
autodoc_default_options = {"members": True, "show-inheritance": True}

myst_heading_anchors = 3
# the pages are the README's sections: their links to the recipes' READMEs and source files
# point into the repository, outside the documentation tree
suppress_warnings = ["myst.xref_missing", "myst.header"]

html_theme = "alabaster"
html_title = "speechbrain_interp"
