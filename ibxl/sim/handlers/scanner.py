"""Scanner requests on the wire: reqScannerParameters, reqScannerSubscription and its cancel."""

from __future__ import annotations

from ..errors import SimError
from ..models.instruments import Instrument
from ..models.scanner import ScanRequest
from ..protocol.fields import FieldReader
from ..protocol.ids import Msg, Req
from ..session import Session
from . import handles

#: IB's "unset" double, which some clients send for empty subscription limits
UNSET_DOUBLE = 1.7976931348623157e308
#: subscription fields the simulation reads past without honouring (bond ratings, coupons...)
_IGNORED = ("moodyRatingAbove", "moodyRatingBelow", "spRatingAbove", "spRatingBelow", "maturityDateAbove",
            "maturityDateBelow", "couponRateAbove", "couponRateBelow", "excludeConvertible",
            "averageOptionVolumeAbove", "scannerSettingPairs", "stockTypeFilter")


def _limit(r: FieldReader, name: str) -> float | None:
    value = r.float(name, default=UNSET_DOUBLE)
    return None if value >= UNSET_DOUBLE * 0.99 else value


def scanner_data(req_id: int, rows: list[tuple[Instrument, dict]]) -> list[object]:
    """A scannerData message (version 3): rank then the contract fields the decoder reads."""
    fields: list[object] = [Msg.SCANNER_DATA, 3, req_id, len(rows)]
    for rank, (inst, _figures) in enumerate(rows):
        fields += [rank, inst.conId, inst.symbol, inst.secType, inst.lastTradeDateOrContractMonth,
                   inst.strike, inst.right, "SMART", inst.currency, inst.localSymbol or inst.symbol,
                   inst.marketName or inst.tradingClass, inst.tradingClass, "", "", "", ""]
    return fields


@handles(Req.SCANNER_PARAMETERS)
def req_scanner_parameters(s: Session, r: FieldReader) -> None:
    """The XML document of scan codes, instruments, locations and filters."""
    r.int("version", default=1)
    s.send(Msg.SCANNER_PARAMETERS, 1, s.gateway.scanner.parameters_xml())


@handles(Req.SCANNER_SUBSCRIPTION)
def req_scanner_subscription(s: Session, r: FieldReader) -> None:
    """Decode a v176 subscription (no version field), then stream ranked rows until cancelled."""
    req_id = r.int("reqId")
    rows = r.int("numberOfRows", default=-1)
    req = ScanRequest(rows=rows, instrument=r.str("instrument"), location=r.str("locationCode"),
                      scan_code=r.str("scanCode"))
    req.above_price, req.below_price = _limit(r, "abovePrice"), _limit(r, "belowPrice")
    req.above_volume = _limit(r, "aboveVolume")
    req.market_cap_above, req.market_cap_below = _limit(r, "marketCapAbove"), _limit(r, "marketCapBelow")
    for name in _IGNORED:
        r.str(name)
    if r.remaining:
        req.filters = dict(r.tag_values("scannerSubscriptionFilterOptions"))
    if r.remaining:
        r.tag_values("scannerSubscriptionOptions")

    def on_rows(ranked: list[tuple[Instrument, dict]]) -> None:
        s.send_update(*scanner_data(req_id, ranked))

    try:
        stop = s.gateway.scanner.subscribe(s, req_id, req, on_rows)
    except SimError as exc:
        exc.req_id = req_id
        raise
    s.add_subscription("scanner", req_id, stop)


@handles(Req.CANCEL_SCANNER_SUBSCRIPTION)
def cancel_scanner_subscription(s: Session, r: FieldReader) -> None:
    """Stop a scanner subscription (unknown ids are ignored, as TWS does)."""
    r.int("version", default=1)
    s.cancel_subscription("scanner", r.int("reqId"))
