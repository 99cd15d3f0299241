"""How `pytest -n --dist loadfile` splits the suite into units of work (tests/conftest.py).

xdist's own way to keep tests together, `--dist loadgroup` with `xdist_group` marks,
groups nothing under pytest 9.2 (pytest-dev/pytest-xdist#1386): it renames node ids,
which no longer changes them. This scheduler decides from the node id alone, on the
controller, which needs no collection of its own."""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling
from xdist.workermanage import WorkerController

# Packages whose tests share package-scoped fixtures: one unit, run on one worker.
ONE_WORKER_PACKAGES = ("tests/e2e/",)


class PackageUnitScheduling(LoadScopeScheduling):
    """`loadfile`, except that a package in ONE_WORKER_PACKAGES is a single unit. The
    browser unit goes first, being the longest (not the one with the most tests, xdist's
    order for the rest), so it never starts last."""

    def _assign_work_unit(self, node: WorkerController) -> None:
        for unit in ONE_WORKER_PACKAGES:
            if unit in self.workqueue:
                self.workqueue.move_to_end(unit, last=False)
                break
        super()._assign_work_unit(node)

    def _split_scope(self, nodeid: str) -> str:
        for package in ONE_WORKER_PACKAGES:
            if nodeid.startswith(package):
                return package
        return nodeid.split("::", 1)[0]
