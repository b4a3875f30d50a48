"""TWS display groups (the coloured window links): which contract each group shows, and who
listens to which group. No protocol code."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable

from ..errors import SimError
from .universe import Universe

#: the groups TWS offers
GROUP_IDS = (1, 2, 3, 4, 5, 6, 7)
#: what an empty group shows
EMPTY = "none"
_INFO = re.compile(r"^(\d+)@([A-Za-z0-9.]+)$")


class DisplayGroups:
    """Each group's contract ("conId@exchange" or "none") and its subscribers."""

    def __init__(self, universe: Universe) -> None:
        self.universe = universe
        self.contract: dict[int, str] = dict.fromkeys(GROUP_IDS, EMPTY)
        #: (client, reqId) -> (group, callback)
        self._subs: dict[tuple[Hashable, int], tuple[int, Callable[[str], None]]] = {}

    def group_list(self) -> str:
        """The groups as queryDisplayGroups lists them: ``"1|2|3|4|5|6|7"``."""
        return "|".join(str(g) for g in GROUP_IDS)

    def subscribe(self, owner: Hashable, req_id: int, group: int,
                  callback: Callable[[str], None]) -> tuple[str, Callable[[], object]]:
        """Listen to a group; ``callback`` gets its contract whenever another client changes it.
        Returns what the group shows now and the function that stops listening."""
        if group not in GROUP_IDS:
            raise SimError(321, f"display group {group} does not exist; use one of "
                                f"{', '.join(map(str, GROUP_IDS))} (queryDisplayGroups lists them)")
        entry = (group, callback)
        self._subs[(owner, req_id)] = entry
        return self.contract[group], lambda: self.unsubscribe(owner, req_id, entry)

    def unsubscribe(self, owner: Hashable, req_id: int, only: object = None) -> bool:
        """Stop listening (when ``only`` is given, just if the subscription is still that one);
        False when there was no such subscription."""
        key = (owner, req_id)
        if key not in self._subs or (only is not None and self._subs[key] is not only):
            return False
        del self._subs[key]
        return True

    def update(self, owner: Hashable, req_id: int, contract_info: str) -> int:
        """Show a contract in the group that ``req_id`` subscribed to and tell the group's other
        listeners; returns how many were told."""
        sub = self._subs.get((owner, req_id))
        if sub is None:
            raise SimError(321, f"updateDisplayGroup needs a group subscription: reqId {req_id} has none; call "
                                "subscribeToGroupEvents(reqId, groupId) first")
        info = self.normalise(contract_info)
        group = sub[0]
        self.contract[group] = info
        told = 0
        for (who, rid), (g, callback) in list(self._subs.items()):
            if g == group and (who, rid) != (owner, req_id):
                callback(info)
                told += 1
        return told

    def normalise(self, contract_info: str) -> str:
        """Check a contractInfo: ``"conId@exchange"`` of a known contract, or ``"none"`` to clear."""
        text = (contract_info or "").strip()
        if text.lower() in ("", EMPTY):
            return EMPTY
        m = _INFO.match(text)
        if m is None:
            raise SimError(321, f"contractInfo {contract_info!r} is not 'conId@exchange'; send e.g. "
                                "'265598@SMART', or 'none' to clear the group")
        if self.universe.get(int(m.group(1))) is None:
            raise SimError(200, f"conId {m.group(1)} in contractInfo {contract_info!r}; look it up with "
                                "reqContractDetails")
        return f"{int(m.group(1))}@{m.group(2).upper()}"

    def session_closed(self, session: Hashable) -> None:
        """Forget a departed client's subscriptions."""
        for key in [k for k in self._subs if k[0] is session]:
            del self._subs[key]
