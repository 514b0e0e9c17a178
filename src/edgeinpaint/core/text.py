"""User-supplied strings on a terminal: never markup, never control characters.

File names reach every message. Printed as rich markup, ``[/`` crashes the printer and ``[bold]``
disappears; printed raw, ``ESC[2J`` clears the screen and a newline fakes a log line. Every
message passes through :func:`printable` and is printed as plain text.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: object) -> str:
    """``text`` with every control character (C0, DEL, C1, line separators) as a visible escape."""

    def escape(m: re.Match[str]) -> str:
        c = m.group()
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(
            c, f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
        )

    return _CONTROL.sub(escape, str(text))
