"""Test-suite settings shared by every test module."""

from __future__ import annotations

import os

from hypothesis import settings

# In CI, property tests draw the same examples every run (reproducible failures);
# locally they keep exploring new ones.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
