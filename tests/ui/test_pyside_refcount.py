"""Guard against a Qt binding that corrupts None's reference count through model data() calls.

PySide6 6.12.0 on Python 3.11 drops a reference to None each time C++ reads a Python `data()` that returns
None; after a few thousand table cells the interpreter aborts. pyproject.toml excludes that release; this
test fails (or aborts) on any binding with the same defect.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QApplication


class NoneModel(QAbstractTableModel):
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 5

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 5

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        return None


def test_none_from_data_keeps_its_references(qapp: QApplication) -> None:
    model = NoneModel()
    index = model.index(1, 1)
    before = sys.getrefcount(None)
    for _ in range(500):
        index.data(Qt.ItemDataRole.DisplayRole)
    assert sys.getrefcount(None) >= before
