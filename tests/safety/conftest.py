"""The GUI fixtures of tests/ui (a real main window on its own data folder and database), for the safety tests
that drive the windows."""

from tests.ui.conftest import gui_db, gui_paths, open_window, seed

__all__ = ["gui_db", "gui_paths", "open_window", "seed"]
