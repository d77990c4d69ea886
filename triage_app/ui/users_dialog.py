"""Users and roles (administrators): add a user by their operating-system login, change roles and MDT role,
deactivate."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from triage_app.domain.mdt import MDT_ROLES, role_label
from triage_app.domain.referral import limit_of
from triage_app.domain.workflow import ROLES
from triage_app.services.permissions import MANAGE_USERS, actor_may, who_may
from triage_app.ui.dialogs import Messages

if TYPE_CHECKING:
    from triage_app.services.app import AppSession
    from triage_app.ui.context import AppContext


#: The MDT role choice of a user who is not a member of the MDT (they count towards no quorum).
NOT_IN_MDT = "Not in the MDT"


class UsersDialog(QDialog):
    """The user list with the roles each holds; every change is an op of the context (a users `Changes`)."""

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setWindowTitle("Users and roles")
        self.resize(720, 460)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Login", "Name", "Roles", "MDT role", "Active"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setAccessibleName("Users")
        # Only the user's own choice of a row loads it into the fields below: a refresh, or focus arriving in the
        # table, must never tick another user's roles (an admin's!) for the next user added.
        self.table.currentCellChanged.connect(lambda row, *_: self._load_row(row) if self.table.hasFocus() else None)
        self.table.cellClicked.connect(lambda row, _column: self._load_row(row))
        self.login = QLineEdit()
        self.login.setMaxLength(limit_of("user.login"))
        self.login.setPlaceholderText("operating-system login, e.g. jpatel")
        self.login.setAccessibleName("Login")
        self.name = QLineEdit()
        self.name.setMaxLength(limit_of("user.display_name"))
        self.name.setPlaceholderText("name as shown in the app, e.g. J Patel")
        self.name.setAccessibleName("Name")
        self.roles = {role: QCheckBox(role) for role in ROLES}
        roles_row = QHBoxLayout()
        for check in self.roles.values():
            roles_row.addWidget(check)
        # The MDT role counts towards a meeting's quorum and is the role a consultant's letters are signed in.
        self.mdt_role = QComboBox()
        self.mdt_role.addItem(NOT_IN_MDT, None)
        for role in MDT_ROLES:
            self.mdt_role.addItem(role_label(role), role)
        self.mdt_role.setAccessibleName("MDT role")
        mdt_row = QHBoxLayout()
        mdt_label = QLabel("&MDT role:")
        mdt_label.setBuddy(self.mdt_role)
        mdt_row.addWidget(mdt_label)
        mdt_row.addWidget(self.mdt_role)
        mdt_row.addStretch(1)
        self.add_button = QPushButton("&Add user")
        self.add_button.clicked.connect(self.add_user)
        self.roles_button = QPushButton("Set &roles")
        self.roles_button.clicked.connect(self.set_roles)
        self.mdt_button = QPushButton("Set M&DT role")
        self.mdt_button.clicked.connect(self.set_mdt_role)
        self.active_button = QPushButton("&Deactivate / reactivate")
        self.active_button.clicked.connect(self.toggle_active)
        buttons = QHBoxLayout()
        # The main window opens this only for administrators; the buttons follow the role matrix all the same.
        session = context.session
        manager = session is not None and actor_may(session.actor, MANAGE_USERS)
        for button in (self.add_button, self.roles_button, self.mdt_button, self.active_button):
            buttons.addWidget(button)
            button.setEnabled(manager)
            if not manager:
                button.setToolTip(who_may(MANAGE_USERS))
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(QLabel("Login and name (new users), roles and MDT role (new or selected user):"))
        layout.addWidget(self.login)
        layout.addWidget(self.name)
        layout.addLayout(roles_row)
        layout.addLayout(mdt_row)
        layout.addLayout(buttons)
        self.users: list[tuple[Any, frozenset[str]]] = []
        self.setTabOrder(self.login, self.name)
        self.login.setFocus()  # adding a user starts at the login, with nothing ticked
        self.refresh()

    def _submit(self, op: Callable[[AppSession], Any], title: str) -> None:
        def failed(error: BaseException) -> None:
            Messages.error(self, title, str(error))

        self.context.run(op, title=title, on_success=lambda _result: self.refresh(), on_failure=failed)

    def refresh(self) -> None:
        """Read the users again."""
        from triage_app.services.users import list_users

        self.context.query(
            lambda session: list_users(session.db, actor=session.actor),
            title="Users",
            on_success=self._show,
            on_failure=lambda e: Messages.error(self, "Users", str(e)),
        )

    def _show(self, users: list[tuple[Any, frozenset[str]]]) -> None:
        # A refresh must never load another user into the fields being typed (the next action acts on them):
        # rows are rebuilt quietly and the user whose login is typed stays the current one.
        self.users = users
        self.table.blockSignals(True)
        self.table.setRowCount(len(users))
        for row, (user, roles) in enumerate(users):
            values = (
                user.login,
                user.display_name,
                ", ".join(r for r in ROLES if r in roles),
                role_label(user.mdt_role) if user.mdt_role else NOT_IN_MDT,
                "yes" if user.is_active else "no",
            )
            for column, text in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(text))
        typed = self.login.text().strip()
        current = next((row for row, (user, _) in enumerate(users) if user.login == typed), -1)
        if current >= 0:
            self.table.setCurrentCell(current, 0)
        self.table.blockSignals(False)

    def _load_row(self, row: int) -> None:
        if 0 <= row < len(self.users):
            user, roles = self.users[row]
            self.login.setText(user.login)
            self.name.setText(user.display_name)
            for role, check in self.roles.items():
                check.setChecked(role in roles)
            self.mdt_role.setCurrentIndex(max(self.mdt_role.findData(user.mdt_role), 0))

    def _chosen_roles(self) -> list[str]:
        return [role for role, check in self.roles.items() if check.isChecked()]

    def add_user(self) -> None:
        """Add the login typed with the roles ticked."""
        from triage_app.services.users import add_user

        login, name, roles = self.login.text(), self.name.text(), self._chosen_roles()
        mdt_role = self.mdt_role.currentData()
        if not roles:
            Messages.error(self, "User not added", "Tick at least one role.")
            return
        self._submit(
            lambda session: add_user(
                session.db, actor=session.actor, login=login, display_name=name, roles=roles, mdt_role=mdt_role
            ),
            "User not added",
        )

    def set_roles(self) -> None:
        """Give the login typed exactly the roles ticked."""
        from triage_app.services.users import set_roles

        login, roles = self.login.text().strip(), self._chosen_roles()
        self._submit(
            lambda session: set_roles(session.db, actor=session.actor, login=login, roles=roles), "Roles not changed"
        )

    def set_mdt_role(self) -> None:
        """Give the login typed the MDT role chosen (or none)."""
        from triage_app.services.users import set_mdt_role

        login, mdt_role = self.login.text().strip(), self.mdt_role.currentData()
        self._submit(
            lambda session: set_mdt_role(session.db, actor=session.actor, login=login, mdt_role=mdt_role),
            "MDT role not changed",
        )

    def toggle_active(self) -> None:
        """Deactivate an active user, or reactivate a deactivated one."""
        from triage_app.services.users import set_active

        login = self.login.text().strip()
        current = next((u for u, _ in self.users if u.login == login), None)
        if current is None:
            Messages.error(self, "No such user", f"'{login}' is not in the list.")
            return
        active = not current.is_active
        self._submit(
            lambda session: set_active(session.db, actor=session.actor, login=login, active=active),
            "User not changed",
        )
