"""Scanners, news, bulletins and display groups on the wire."""

from __future__ import annotations

from datetime import UTC, datetime

from ..errors import SimError
from ..news import BULLETINS, PROVIDERS, Headline
from ..protocol.fields import FieldReader
from ..protocol.ids import Msg, Req
from ..scanner import ScanRequest
from ..session import Session
from . import handles

SCANNER_REFRESH = 5.0
MAX_SCANNERS = 10
UNSET = 1.7976931348623157e308


def _opt(raw: str) -> float | None:
    try:
        v = float(raw) if raw.strip() else None
    except ValueError:
        return None
    return None if v is None or v >= UNSET * 0.99 else v


def _tags(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


@handles(Req.SCANNER_PARAMETERS)
def req_scanner_parameters(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.send(Msg.SCANNER_PARAMETERS, 1, s.gateway.models["scanner"].parameters_xml())


@handles(Req.SCANNER_SUBSCRIPTION)
def req_scanner_subscription(s: Session, r: FieldReader) -> None:
    req_id = r.int("reqId")
    rows = r.int("numberOfRows", default=-1)
    req = ScanRequest(instrument=r.str("instrument"), location=r.str("locationCode"), scan_code=r.str("scanCode"),
                      rows=rows if 0 < rows <= 50 else 50)
    req.above_price, req.below_price, req.above_volume = _opt(r.str("abovePrice")), _opt(r.str("belowPrice")), \
        _opt(r.str("aboveVolume"))
    req.market_cap_above, req.market_cap_below = _opt(r.str("marketCapAbove")), _opt(r.str("marketCapBelow"))
    for name in ("moodyRatingAbove", "moodyRatingBelow", "spRatingAbove", "spRatingBelow", "maturityDateAbove",
                 "maturityDateBelow", "couponRateAbove", "couponRateBelow", "excludeConvertible",
                 "averageOptionVolumeAbove", "scannerSettingPairs", "stockTypeFilter"):
        r.str(name)
    req.filters = _tags(r.str("filterOptions")) if r.remaining else {}
    if r.remaining:
        r.str("subscriptionOptions")
    scanner = s.gateway.models["scanner"]
    try:
        scanner.validate(req)
    except SimError as exc:
        exc.req_id = req_id
        raise
    if len(s.subscriptions("scanner")) >= MAX_SCANNERS:
        raise SimError(162, f"Scanner: at most {MAX_SCANNERS} scanner subscriptions at once", req_id=req_id)

    def send(now: float) -> None:
        ranked = scanner.scan(req, now)
        fields: list[object] = [Msg.SCANNER_DATA, 3, req_id, len(ranked)]
        for rank, (inst, _fig) in enumerate(ranked):
            fields += [rank, inst.conId, inst.symbol, inst.secType, "", 0.0, "", "SMART", inst.currency,
                       inst.localSymbol, inst.tradingClass, inst.tradingClass, "", "", "", ""]
        s.send_update(*fields)

    send(s.gateway.clock.time())
    last = [s.gateway.clock.time()]

    def refresh(now: float) -> None:
        if now - last[0] >= SCANNER_REFRESH:
            last[0] = now
            send(now)

    handle = s.gateway.pulse.add(refresh)
    s.add_subscription("scanner", req_id, lambda: s.gateway.pulse.remove(handle))


@handles(Req.CANCEL_SCANNER_SUBSCRIPTION)
def cancel_scanner_subscription(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.cancel_subscription("scanner", r.int("reqId"))


# ------------------------------------------------------------ news
@handles(Req.NEWS_PROVIDERS)
def req_news_providers(s: Session, r: FieldReader) -> None:
    fields: list[object] = [Msg.NEWS_PROVIDERS, len(PROVIDERS)]
    for code, name in PROVIDERS:
        fields += [code, name]
    s.send(*fields)


def _seen(s: Session) -> dict[str, Headline]:
    return s.gateway.models.setdefault("news_index", {})


@handles(Req.HISTORICAL_NEWS)
def req_historical_news(s: Session, r: FieldReader) -> None:
    req_id = r.int("reqId")
    con_id = r.int("conId", default=0)
    providers = [p for p in r.str("providerCodes").split("+") if p]
    start_text, end_text = r.str("startDateTime"), r.str("endDateTime")
    total = r.int("totalResults", default=10)
    if r.remaining:
        r.str("historicalNewsOptions")
    inst = s.gateway.universe.get(con_id)
    if inst is None:
        raise SimError(200, f"conId {con_id}", req_id=req_id)
    unknown = [p for p in providers if p not in dict(PROVIDERS)]
    if unknown:
        raise SimError(10276, f"News feed is not allowed: unknown provider {', '.join(unknown)}; use "
                              f"{'+'.join(dict(PROVIDERS))}", req_id=req_id)
    if not 1 <= total <= 300:
        raise SimError(321, f"totalResults must be 1..300, not {total}", req_id=req_id)
    from ..history import parse_end

    now = s.gateway.clock.time()
    end = parse_end(end_text.replace(".0", ""), now) if end_text.strip() else now
    start = parse_end(start_text.replace(".0", ""), now) if start_text.strip() else end - 90 * 86400
    items = s.gateway.models["news"].headlines(inst, start, end, providers or ["BRFG"], total)
    index = _seen(s)
    for h in items:
        index[h.article_id] = h
        stamp = datetime.fromtimestamp(h.time, UTC)
        s.send(Msg.HISTORICAL_NEWS, req_id, stamp.strftime("%Y-%m-%d %H:%M:%S.0"), h.provider, h.article_id,
               h.headline)
    s.send(Msg.HISTORICAL_NEWS_END, req_id, len(items) >= total)


@handles(Req.NEWS_ARTICLE)
def req_news_article(s: Session, r: FieldReader) -> None:
    req_id = r.int("reqId")
    r.str("providerCode")
    article_id = r.str("articleId")
    if r.remaining:
        r.str("newsArticleOptions")
    text = s.gateway.models["news"].article(article_id, _seen(s))
    if text is None:
        raise SimError(10172, f"Failed to request news article: No data available for article {article_id!r}; "
                              "ask for historical news first", req_id=req_id)
    s.send(Msg.NEWS_ARTICLE, req_id, 0, text)


# ------------------------------------------------------------ bulletins
@handles(Req.NEWS_BULLETINS)
def req_news_bulletins(s: Session, r: FieldReader) -> None:
    r.int("version")
    all_messages = r.bool("allMessages")
    rows = BULLETINS if all_messages else BULLETINS[-2:]
    for i, (kind, text, exchange) in enumerate(rows, start=1):
        s.send(Msg.NEWS_BULLETINS, 1, i, kind, text, exchange)
    counter = [len(BULLETINS)]
    last = [s.gateway.clock.time()]

    def tick(now: float) -> None:
        if now - last[0] >= 30.0:  # an occasional system bulletin while subscribed
            last[0] = now
            counter[0] += 1
            s.send_update(Msg.NEWS_BULLETINS, 1, counter[0], 1, "System message: data farms are connected.", "")

    handle = s.gateway.pulse.add(tick)
    s.add_subscription("bulletins", 0, lambda: s.gateway.pulse.remove(handle))


@handles(Req.CANCEL_NEWS_BULLETINS)
def cancel_news_bulletins(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.cancel_subscription("bulletins", 0)


# ------------------------------------------------------------ display groups
GROUPS = "1|2|3|4|5|6|7"


@handles(Req.QUERY_DISPLAY_GROUPS)
def query_display_groups(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.send(Msg.DISPLAY_GROUP_LIST, 1, r.int("reqId"), GROUPS)


@handles(Req.SUBSCRIBE_TO_GROUP_EVENTS)
def subscribe_to_group_events(s: Session, r: FieldReader) -> None:
    r.int("version")
    req_id = r.int("reqId")
    group = r.int("groupId")
    if str(group) not in GROUPS.split("|"):
        raise SimError(321, f"display group {group}; use one of {GROUPS.replace('|', ', ')}", req_id=req_id)
    current = s.gateway.models.setdefault("display_groups", {}).get(group, "")
    s.state.setdefault("groups", {})[req_id] = group
    s.add_subscription("group", req_id, lambda: s.state.get("groups", {}).pop(req_id, None))
    s.send(Msg.DISPLAY_GROUP_UPDATED, 1, req_id, current)


@handles(Req.UPDATE_DISPLAY_GROUP)
def update_display_group(s: Session, r: FieldReader) -> None:
    r.int("version")
    req_id = r.int("reqId")
    info = r.str("contractInfo")
    group = s.state.get("groups", {}).get(req_id)
    if group is None:
        raise SimError(321, "subscribe to the display group first (subscribeToGroupEvents)", req_id=req_id)
    s.gateway.models.setdefault("display_groups", {})[group] = info
    for sess in s.gateway.sessions:
        for rid, g in sess.state.get("groups", {}).items():
            if g == group:
                sess.send(Msg.DISPLAY_GROUP_UPDATED, 1, rid, info)


@handles(Req.UNSUBSCRIBE_FROM_GROUP_EVENTS)
def unsubscribe_from_group_events(s: Session, r: FieldReader) -> None:
    r.int("version")
    s.cancel_subscription("group", r.int("reqId"))
