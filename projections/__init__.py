"""Read side: seven read models folded from the ledger, the runner that feeds them, queries.

``ReadModels`` answers the questions (as of any date, as known at any recorded time),
``ProjectionRunner`` keeps the read models up to date (``run_forever`` as its own process),
``rebuild`` builds fresh copies from the whole ledger and swaps them in.
"""

from projections.queries import ReadModels
from projections.rebuilding import rebuild
from projections.runner import ProjectionRunner, RunnerFailed, run_forever

__all__ = ["ProjectionRunner", "ReadModels", "RunnerFailed", "rebuild", "run_forever"]
