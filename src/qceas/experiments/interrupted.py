"""Ctrl-C during a long run: what was saved and how to go on, in one line.

The runners (``run_experiment``, ``run_sweep``, ``run_network``) write every finished
unit at once, so an interruption loses at most the unit in progress (a training run
also keeps its last checkpoint). They turn the ``KeyboardInterrupt`` into
:class:`Interrupted`, whose message says what is on disk; the command line prints it
as one line instead of a traceback, and exits with 130 (128 + SIGINT), as shells do.
"""

from __future__ import annotations


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C; the message says what was saved and how to resume."""
