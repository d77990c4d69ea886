"""Values every export test uses: the meeting's day, and text that is hostile to some export format."""

from __future__ import annotations

from datetime import date

MEETING_DAY = date(2026, 12, 3)
LONG = "Long clinical question with many words. " * 80  # 3,200 characters
HOSTILE = {
    "formula": '=HYPERLINK("http://example.invalid","click")',
    "plus": "+SUM(A1:A9)",
    "minus": "-2+3",
    "at": "@cmd",
    "bold": "<b>not bold</b>",
    "wordxml": "</w:t><w:t>injected",
    "img": "<img src='http://example.invalid/x.png'>",
    "template": "{{7*7}}",
    "greek": "Ηλέκτρα Παπαδοπούλου",
    "cyrillic": "Светлана Иванова",
    "quote": 'O\'Brien & "Sons"',
}
