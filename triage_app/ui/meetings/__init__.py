"""The MDT meetings window, split by screen: window.py wires the list of meetings to the planning screen
(planning.py, its exports in exports.py) and the in-meeting screen (in_meeting.py, its outcome entry in
entry.py); ops.py holds the database work as ops run through `AppContext`; dialogs.py the small questions;
text.py how cases and patients read."""

from triage_app.ui.meetings.dialogs import DiscardQuestion, ExportChoice, FolderChoice, NewMeetingDialog
from triage_app.ui.meetings.window import MeetingWindow

__all__ = ["DiscardQuestion", "ExportChoice", "FolderChoice", "MeetingWindow", "NewMeetingDialog"]
