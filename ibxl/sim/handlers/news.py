"""News on the wire: providers, historical headlines, articles and IB's bulletins."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ..errors import SimError
from ..models.bulletins import Bulletin
from ..models.news import MAX_RESULTS, PROVIDER_CODES, PROVIDERS
from ..protocol.fields import FieldReader
from ..protocol.ids import Msg, Req
from ..session import Session
from . import handles

#: bad reqHistoricalNews parameters get the code of the historical data service, which clients end the request on
HISTORY_ERROR = 162
#: how far back reqHistoricalNews looks when no start is given
DEFAULT_SPAN = 90 * 86400
_FORMATS = ("%Y%m%d %H:%M:%S", "%Y%m%d-%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d",
            "%Y%m%d")


def parse_news_time(text: str, what: str, req_id: int) -> float | None:
    """Epoch seconds of a start/end date of reqHistoricalNews (None when empty). Accepts TWS's
    'yyyy-MM-dd HH:mm:ss.0' and the 'yyyymmdd hh:mm:ss [zone]' form clients send; UTC unless a zone is named."""
    text = text.strip()
    if not text:
        return None
    body, zone = text, "UTC"
    parts = text.split(" ")
    if len(parts) == 3 or (len(parts) == 2 and ":" not in parts[1]):
        body, zone = " ".join(parts[:-1]), parts[-1]
    try:
        tz = ZoneInfo(zone)
    except Exception:
        raise SimError(HISTORY_ERROR, f"unknown time zone {zone!r} in {what} {text!r}; use an IANA name such as UTC or "
                            "US/Eastern", req_id=req_id) from None
    for fmt in _FORMATS:
        try:
            return datetime.strptime(body, fmt).replace(tzinfo=tz).timestamp()
        except ValueError:
            continue
    raise SimError(HISTORY_ERROR,
                   f"{what} {text!r} is not a date; use 'yyyy-MM-dd HH:mm:ss.0' or 'yyyymmdd hh:mm:ss UTC'",
                   req_id=req_id)


@handles(Req.NEWS_PROVIDERS)
def req_news_providers(s: Session, r: FieldReader) -> None:
    """The news providers the simulated account subscribes to."""
    fields: list[object] = [Msg.NEWS_PROVIDERS, len(PROVIDERS)]
    for code, name in PROVIDERS:
        fields += [code, name]
    s.send(*fields)


@handles(Req.HISTORICAL_NEWS)
def req_historical_news(s: Session, r: FieldReader) -> None:
    """Headlines of one contract from the chosen providers between two dates, newest first."""
    req_id = r.int("reqId")
    con_id = r.int("conId", default=0)
    providers = [p for p in r.str("providerCodes").split("+") if p]
    start_text, end_text = r.str("startDateTime"), r.str("endDateTime")
    total = r.int("totalResults", default=10)
    if r.remaining:
        r.tag_values("historicalNewsOptions")
    inst = s.gateway.universe.get(con_id)
    if inst is None:
        raise SimError(200, f"conId {con_id}; qualify the contract first to get its conId", req_id=req_id)
    unknown = [p for p in providers if p not in PROVIDER_CODES]
    if unknown or not providers:
        raise SimError(10276, f"{'+'.join(unknown) or 'no provider code given'}: not a provider of this account; use "
                              f"provider codes joined by '+', e.g. {'+'.join(PROVIDER_CODES)}", req_id=req_id)
    if not 1 <= total <= MAX_RESULTS:
        raise SimError(HISTORY_ERROR, f"totalResults must be between 1 and {MAX_RESULTS}, not {total}", req_id=req_id)
    now = s.gateway.clock.time()
    end = min(parse_news_time(end_text, "endDateTime", req_id) or now, now)
    start = parse_news_time(start_text, "startDateTime", req_id)
    start = end - DEFAULT_SPAN if start is None else start
    if start > end:
        raise SimError(HISTORY_ERROR,
                       f"startDateTime {start_text!r} is after endDateTime {end_text or 'now'!r}; swap them",
                       req_id=req_id)
    items = s.gateway.news.headlines(inst, start, end, providers, total + 1)
    for h in items[:total]:
        stamp = datetime.fromtimestamp(h.time, UTC).strftime("%Y-%m-%d %H:%M:%S.0")
        s.send(Msg.HISTORICAL_NEWS, req_id, stamp, h.provider, h.article_id, h.headline)
    s.send(Msg.HISTORICAL_NEWS_END, req_id, len(items) > total)


@handles(Req.NEWS_ARTICLE)
def req_news_article(s: Session, r: FieldReader) -> None:
    """The text of one article (articleType 0: plain text)."""
    req_id = r.int("reqId")
    provider = r.str("providerCode")
    article_id = r.str("articleId")
    if r.remaining:
        r.tag_values("newsArticleOptions")
    if provider not in PROVIDER_CODES:
        raise SimError(10276, f"{provider!r} is not a provider of this account; use one of {', '.join(PROVIDER_CODES)}",
                       req_id=req_id)
    if not article_id.startswith(f"{provider}$"):
        raise SimError(10172, f"article {article_id!r} is not from provider {provider}; send the providerCode "
                              "that came with the headline", req_id=req_id)
    text = s.gateway.news.article(article_id)
    if text is None:
        raise SimError(10172, f"no article {article_id!r}; use an articleId from reqHistoricalNews or a news tick",
                       req_id=req_id)
    s.send(Msg.NEWS_ARTICLE, req_id, 0, text)


@handles(Req.NEWS_BULLETINS)
def req_news_bulletins(s: Session, r: FieldReader) -> None:
    """Subscribe to bulletins: today's so far when allMessages, then new ones as they come."""
    r.int("version", default=1)
    all_messages = r.bool("allMessages")

    def send(b: Bulletin) -> None:
        s.send_update(Msg.NEWS_BULLETINS, 1, b.msg_id, b.msg_type, b.message, b.exchange)

    s.add_subscription("bulletins", 0, s.gateway.bulletins.subscribe(all_messages, send))


@handles(Req.CANCEL_NEWS_BULLETINS)
def cancel_news_bulletins(s: Session, r: FieldReader) -> None:
    """Stop the bulletins."""
    r.int("version", default=1)
    s.cancel_subscription("bulletins", 0)
