"""Windows worked out once per event and Service Month, for the window plugins (incidents, notices): every
account of a month is handed the events of all accounts again, and the window of an event in a month does not
depend on the account asking."""

LIMIT = 65536  # entries: a long-running process sees many events, so it starts again rather than grow


class Windows:
    """(event, month bounds, what else the window depends on) -> the event's window in that month, or None.

    Keyed by identity: an event and a month's bounds are frozen objects shared by the accounts of a month, and an
    entry is used only while they are the very objects it was made for (an id is reused once its object is gone)."""

    def __init__(self) -> None:
        self._entries: dict = {}

    def get(self, event, month_start, month_end, depends_on, make):
        """The remembered window, or ``make()``'s, remembered."""
        key = (id(event), id(month_start), id(month_end), depends_on)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is event and entry[1] is month_start and entry[2] is month_end:
            return entry[3]
        if len(self._entries) >= LIMIT:
            self._entries.clear()
        window = make()
        self._entries[key] = (event, month_start, month_end, window)
        return window
