"""News, bulletins and display groups of the embedded gateway, over a real socket with real clients."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from ib_async import IB, Contract, Stock
from ibapi_app import RecordingApp

from ibxl.sim import SimConfig, SimGateway
from ibxl.sim.clock import FrozenClock

ALL = "BRFG+BRFUPDN+DJNL"
NOW = dt.datetime.now(dt.UTC)
_MOVE = re.compile(r"\b(up|down|jump|jumps|rallies|climbs|slide|falls|drops)\b.*?(\d+\.\d)%")


@pytest.fixture(scope="module")
def aapl(gateway) -> Contract:
    """AAPL, qualified."""
    return Contract(conId=265598, symbol="AAPL", secType="STK", exchange="SMART", currency="USD")


@pytest.fixture
def errors(ib) -> list[tuple[int, int, str]]:
    """The errors the ib fixture's client receives."""
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: seen.append((req_id, code, msg))
    return seen


def headlines(host: str, port: int, con_id: int, days: int = 30, n: int = 300) -> list[tuple]:
    """Every headline of a contract over some days, from a gateway of its own client."""
    ib = IB()
    ib.connect(host, port, clientId=77)
    try:
        end = dt.datetime.now(dt.UTC)
        items = ib.reqHistoricalNews(con_id, ALL, end - dt.timedelta(days=days), end, n)
        return [(h.time, h.providerCode, h.articleId, h.headline) for h in items]
    finally:
        ib.disconnect()


# ------------------------------------------------------------ providers, headlines, articles
def test_news_providers(ib):
    providers = {p.code: p.name for p in ib.reqNewsProviders()}
    assert set(providers) == {"BRFG", "BRFUPDN", "DJNL"}
    assert providers["BRFG"].startswith("Briefing.com")


def test_historical_news_for_aapl(ib, aapl):
    start = NOW - dt.timedelta(days=30)
    news = ib.reqHistoricalNews(aapl.conId, ALL, start, NOW, 300)
    assert 30 <= len(news) < 300
    times = [h.time.replace(tzinfo=dt.UTC) for h in news]
    assert times == sorted(times, reverse=True), "newest first"
    assert all(start <= t <= dt.datetime.now(dt.UTC) for t in times), "within the range and in the past"
    assert {"BRFG", "DJNL"} <= {h.providerCode for h in news} <= {"BRFG", "BRFUPDN", "DJNL"}
    assert all(h.articleId.startswith(h.providerCode + "$") for h in news)
    assert len({h.articleId for h in news}) == len(news)
    assert all("AAPL" in h.headline or "Apple" in h.headline for h in news)
    only = ib.reqHistoricalNews(aapl.conId, "BRFUPDN+DJNL", start, NOW, 300)
    assert only and {h.providerCode for h in only} <= {"BRFUPDN", "DJNL"}
    few = ib.reqHistoricalNews(aapl.conId, ALL, start, NOW, 5)
    assert [h.articleId for h in few] == [h.articleId for h in news[:5]]


def test_headlines_follow_the_simulated_price_moves(gateway, ib, aapl):
    news = ib.reqHistoricalNews(aapl.conId, "BRFG", NOW - dt.timedelta(days=60), NOW, 300)
    checked = 0
    for h in news:
        m = _MOVE.search(h.headline)
        if not m:
            continue
        ts = h.time.replace(tzinfo=dt.UTC).timestamp()
        day_start = ts - ts % 86400

        def move(g, ts=ts, day_start=day_start):
            inst = g.universe.get(aapl.conId)
            return (g.market.price(inst, ts) / g.market.price(inst, day_start) - 1) * 100

        actual = gateway.call(move)
        said = float(m.group(2)) * (1 if m.group(1) in ("up", "jump", "jumps", "rallies", "climbs") else -1)
        assert abs(said - actual) < 0.051, (h.headline, actual)
        checked += 1
    assert checked >= 20


def test_big_moves_get_analyst_actions_and_stories(gateway, ib):
    nvda = Stock("NVDA", "SMART", "USD")
    ib.qualifyContracts(nvda)
    news = ib.reqHistoricalNews(nvda.conId, ALL, NOW - dt.timedelta(days=120), NOW, 300)

    def daily(g):
        inst = g.universe.get(nvda.conId)
        room = g.news
        return {h.article_id.split(".")[1]: room._day_move(inst, int(h.article_id.split(".")[1], 16))  # noqa: SLF001
                for h in room.headlines(inst, NOW.timestamp() - 120 * 86400, NOW.timestamp(), ["BRFG"], 300)}

    moves = gateway.call(daily)
    by_day: dict[str, set[str]] = {}
    for h in news:
        by_day.setdefault(h.articleId.split(".")[1], set()).add(h.providerCode)
    sigma = 100 * gateway.call(lambda g: g.universe.get(nvda.conId).volatility) / 365 ** 0.5
    big = [d for d, mv in moves.items() if abs(mv) > 1.5 * sigma and d in by_day]
    quiet = [d for d, mv in moves.items() if abs(mv) <= 1.5 * sigma and d in by_day]
    assert big and quiet
    assert all("BRFUPDN" in by_day[d] for d in big)
    assert not any("BRFUPDN" in by_day[d] for d in quiet)
    ups = [h for h in news if h.providerCode == "BRFUPDN"]
    for h in ups:
        up = moves[h.articleId.split(".")[1]] > 0
        assert ("upgrades" in h.headline) == up and ("downgrades" in h.headline) == (not up)


def test_article_text_matches_the_headline(ib, aapl):
    news = ib.reqHistoricalNews(aapl.conId, ALL, NOW - dt.timedelta(days=30), NOW, 50)
    for h in [next(x for x in news if x.providerCode == p) for p in ("BRFG", "DJNL")]:
        article = ib.reqNewsArticle(h.providerCode, h.articleId)
        assert article.articleType == 0
        paragraphs = article.articleText.split("\n\n")
        assert paragraphs[0] == h.headline and len(paragraphs) >= 3
        assert "AAPL" in article.articleText and "synthetic" in paragraphs[-1]


def test_same_seed_same_headlines_and_articles_survive_a_restart(aapl):
    with SimGateway(SimConfig(seed=11)) as a:
        first = headlines(a.host, a.port, aapl.conId, 20)
        text = a.call(lambda g: g.news.article(first[3][2]))
    with SimGateway(SimConfig(seed=11)) as b:
        again = headlines(b.host, b.port, aapl.conId, 20)
        assert b.call(lambda g: g.news.article(first[3][2])) == text
    with SimGateway(SimConfig(seed=12)) as c:
        other = headlines(c.host, c.port, aapl.conId, 20)
    assert first == again and len(first) > 10
    assert [x[3] for x in first] != [x[3] for x in other]


@pytest.mark.parametrize(("args", "code", "needle"), [
    ((265598, "BRFG+NOPE", "", "", 10), 10276, "NOPE: not a provider"),
    ((265598, "", "", "", 10), 10276, "no provider code given"),
    ((424242, "BRFG", "", "", 10), 200, "conId 424242"),
    ((265598, "BRFG", "2025-13-45 00:00:00.0", "", 10), 162, "is not a date"),
    ((265598, "BRFG", "", "", 0), 162, "between 1 and 300"),
    ((265598, "BRFG", "", "", 301), 162, "between 1 and 300"),
    ((265598, "BRFG", "20250601 00:00:00 Mars/Olympus", "", 10), 162, "unknown time zone"),
    ((265598, "BRFG", "20250601 00:00:00 UTC", "20250501 00:00:00 UTC", 10), 162, "is after endDateTime"),
])
def test_bad_historical_news_requests(ib, errors, args, code, needle):
    assert not ib.reqHistoricalNews(*args)
    assert any(c == code and needle in m for _, c, m in errors), errors


def test_unknown_articles_get_an_error(ib, errors):
    assert not ib.reqNewsArticle("BRFG", "BRFG$ffffffff.1.0")
    assert not ib.reqNewsArticle("DJNL", "BRFG$40d7e.181b.0")
    assert not ib.reqNewsArticle("XXXX", "XXXX$1")
    codes = [(c, m) for _, c, m in errors]
    assert any(c == 10172 and "no article 'BRFG$ffffffff.1.0'" in m for c, m in codes)
    assert any(c == 10172 and "not from provider DJNL" in m for c, m in codes)
    assert any(c == 10276 and "'XXXX' is not a provider" in m for c, m in codes)


def test_no_article_for_a_moment_that_has_not_happened(gateway):
    def future(g):
        room = g.news
        inst = g.universe.get(265598)
        day = int((g.clock.time() + 3 * 86400 - 1262304000) // 86400)
        item = room.day_items(inst, day)[0]
        return room.find(item.article_id)

    assert gateway.call(future) is None


# ------------------------------------------------------------ live headlines
def test_news_ticks_on_market_data_resolve_to_articles(ib):
    c = Stock("MSFT", "SMART", "USD")
    ib.qualifyContracts(c)
    ib.reqMktData(c, "292")
    ib.sleep(0.8)
    ticks = ib.newsTicks()
    assert ticks, "generic tick 292 delivers headlines"
    t = ticks[-1]
    article = ib.reqNewsArticle(t.providerCode, t.articleId)
    assert article.articleText.startswith(t.headline)
    ib.cancelMktData(c)


def test_subscribe_hook_delivers_published_and_dated_headlines(gateway):
    def run(g):
        room = g.news
        aapl_inst = g.universe.get(265598)
        msft = next(i for i in g.universe.underlyings() if i.symbol == "MSFT")
        mine, tape, djnl = [], [], []
        stops = [room.subscribe(aapl_inst, mine.append), room.subscribe(None, tape.append),
                 room.subscribe(aapl_inst, djnl.append, providers=["DJNL"])]
        room.publish(265598, "Apple Inc schedules product event", body="The event is next month.")
        room.publish(msft.conId, "Microsoft Corp to webcast its shareholder meeting")
        for stop in stops:
            stop()
        room.publish(265598, "nobody hears this")
        # a past day through the same path the pulse uses
        now = g.clock.time()
        day = room.between(265598, now - 2 * 86400, now - 86400)
        tape_day = room.between(None, now - 2 * 86400, now - 86400)
        return ([h.headline for h in mine], [h.headline for h in tape], djnl, [h.con_id for h in day],
                len({h.con_id for h in tape_day}), room.article(mine[0].article_id) if mine else "",
                room._pulse_handle)  # noqa: SLF001

    mine, tape, djnl, day, tape_contracts, text, handle = gateway.call(run)
    assert mine == ["Apple Inc schedules product event"]
    assert tape == ["Apple Inc schedules product event", "Microsoft Corp to webcast its shareholder meeting"]
    assert djnl == []
    assert day and set(day) == {265598}
    assert tape_contracts > 30, "the broad tape covers every stock"
    assert "The event is next month." in text
    assert handle is None, "the pulse listener goes when the last subscriber does"


def test_subscribe_hook_delivers_headlines_as_time_passes():
    start = time.time() - 3 * 86400
    clock = FrozenClock(start)
    with SimGateway(SimConfig(seed=3), clock=clock) as gw:
        got: list = []
        stop = gw.call(lambda g: g.news.subscribe(g.universe.get(265598), got.append))
        clock.at = start + 86400  # a day passes; the pulse delivers what happened in it
        time.sleep(0.6)
        gw.call(lambda g: stop())
        expected = gw.call(lambda g: g.news.between(265598, start, start + 86400))
    assert got and [h.article_id for h in got] == [h.article_id for h in expected]
    assert all(start < h.time <= start + 86400 for h in got)


def test_publish_rejects_bad_input(gateway):
    def bad(g):
        out = []
        for args in ((265598, "x", "NOPE"), (265598, "   ")):
            try:
                g.news.publish(*args)
            except ValueError as exc:
                out.append(str(exc))
        try:
            g.news.subscribe(None, print, providers=["ZZZ"])
        except ValueError as exc:
            out.append(str(exc))
        return out

    msgs = gateway.call(bad)
    assert len(msgs) == 3 and "unknown news provider 'NOPE'" in msgs[0] and "ZZZ" in msgs[2]


# ------------------------------------------------------------ bulletins
def test_bulletins_all_messages(ib):
    ib.reqNewsBulletins(True)
    ib.sleep(0.4)
    bulletins = ib.newsBulletins()
    assert {b.msgType for b in bulletins} == {1, 2, 3}
    assert any(b.msgType == 3 and b.origExchange == "NYSE" and "available for trading" in b.message
               for b in bulletins)
    assert all(b.origExchange for b in bulletins if b.msgType in (2, 3))
    ib.cancelNewsBulletins()


def test_new_bulletins_only_and_occasional_ones(fresh_gateway):
    gw = fresh_gateway
    ib = IB()
    ib.connect(gw.host, gw.port, clientId=5)
    ib.reqNewsBulletins(False)
    ib.sleep(0.3)
    assert ib.newsBulletins() == [], "allMessages=False waits for new bulletins"
    gw.call(lambda g: g.bulletins.publish(2, "Exchange is unavailable for trading: IEX", "IEX"))
    ib.sleep(0.3)
    assert [(b.msgType, b.origExchange) for b in ib.newsBulletins()] == [(2, "IEX")]
    gw.call(lambda g: setattr(g.bulletins, "interval", 0.3))
    gw.call(lambda g: setattr(g.bulletins, "_next_at", g.clock.time()))
    ib.sleep(1.2)
    later = ib.newsBulletins()
    assert len(later) >= 3
    ids = [b.msgId for b in later]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    ib.cancelNewsBulletins()
    ib.sleep(0.3)
    count = len(ib.newsBulletins())
    ib.sleep(0.8)
    assert len(ib.newsBulletins()) == count, "nothing after cancelNewsBulletins"
    ib.disconnect()


def test_bulletin_board_rejects_bad_bulletins(gateway):
    def bad(g):
        out = []
        for args in ((4, "x"), (2, "no exchange")):
            try:
                g.bulletins.publish(*args)
            except ValueError as exc:
                out.append(str(exc))
        return out

    msgs = gateway.call(bad)
    assert "bulletin type must be 1" in msgs[0] and "needs the exchange" in msgs[1]


def test_same_seed_same_bulletins():
    def run(seed: int) -> list[tuple[int, str]]:
        with SimGateway(SimConfig(seed=seed)) as gw:
            def scheduled(g):
                board = g.bulletins
                for _ in range(6):
                    board.publish(*board.next_scheduled())
                return [(b.msg_type, b.message) for b in board.history]
            return gw.call(scheduled)

    assert run(21) == run(21)


# ------------------------------------------------------------ display groups
def test_display_groups_round_trip(gateway):
    a, b, c = IB(), IB(), IB()
    for n, conn in enumerate((a, b, c)):
        conn.connect(gateway.host, gateway.port, clientId=911 + n)
    seen: dict[str, list[tuple[int, str]]] = {"a": [], "b": [], "c": []}
    lists: list[str] = []
    for name, conn in (("a", a), ("b", b), ("c", c)):
        conn.wrapper.displayGroupUpdated = lambda req_id, info, name=name: seen[name].append((req_id, info))
    a.wrapper.displayGroupList = lambda req_id, groups: lists.append(groups)
    a.client.queryDisplayGroups(1)
    a.client.subscribeToGroupEvents(2, 4)
    b.client.subscribeToGroupEvents(3, 4)
    c.client.subscribeToGroupEvents(4, 5)
    a.sleep(0.3)
    assert lists == ["1|2|3|4|5|6|7"]
    assert seen["a"][0][1] == seen["b"][0][1]  # the group's current contract on subscribing
    a.client.updateDisplayGroup(2, "265598@SMART")
    b.sleep(0.4)
    assert seen["b"][-1] == (3, "265598@SMART")
    assert all(info != "265598@SMART" for _, info in seen["a"]), "the sender is not echoed"
    assert all(info != "265598@SMART" for _, info in seen["c"]), "other groups are not told"
    c.client.unsubscribeFromGroupEvents(4)
    c.client.subscribeToGroupEvents(5, 4)
    c.sleep(0.3)
    assert seen["c"][-1] == (5, "265598@SMART"), "a new subscriber sees the group's contract"
    b.client.unsubscribeFromGroupEvents(3)
    b.sleep(0.2)
    before = len(seen["b"])
    a.client.updateDisplayGroup(2, "none")
    a.sleep(0.4)
    assert len(seen["b"]) == before and seen["c"][-1] == (5, "none")
    for conn in (a, b, c):
        conn.disconnect()


def test_resubscribing_a_req_id_moves_it_to_the_new_group(gateway, client_id):
    ib = IB()
    ib.connect(gateway.host, gateway.port, clientId=client_id)
    ib.client.subscribeToGroupEvents(1, 2)
    ib.client.subscribeToGroupEvents(1, 3)
    ib.sleep(0.3)
    groups = gateway.call(lambda g: [(k[1], v[0]) for k, v in g.display_groups._subs.items()  # noqa: SLF001
                                     if k[0].client_id == client_id])
    assert groups == [(1, 3)]
    ib.disconnect()


@pytest.mark.parametrize(("calls", "code", "needle"), [
    ([("subscribeToGroupEvents", 40, 9)], 321, "display group 9 does not exist"),
    ([("updateDisplayGroup", 41, "265598@SMART")], 321, "call subscribeToGroupEvents"),
    ([("subscribeToGroupEvents", 42, 1), ("updateDisplayGroup", 42, "AAPL")], 321, "is not 'conId@exchange'"),
    ([("subscribeToGroupEvents", 43, 1), ("updateDisplayGroup", 43, "12345@SMART")], 200, "conId 12345"),
])
def test_bad_display_group_requests(ib, errors, calls, code, needle):
    for name, *args in calls:
        getattr(ib.client, name)(*args)
    ib.sleep(0.3)
    assert any(c == code and needle in m for _, c, m in errors), errors


def test_display_group_subscriptions_end_with_the_session(gateway, client_id):
    ib = IB()
    ib.connect(gateway.host, gateway.port, clientId=client_id)
    ib.client.subscribeToGroupEvents(1, 6)
    ib.sleep(0.2)
    ib.disconnect()
    time.sleep(0.3)
    left = gateway.call(lambda g: [k for k in g.display_groups._subs if k[0].client_id == client_id])  # noqa: SLF001
    assert left == []


# ------------------------------------------------------------ other clients
def test_ib_insync_news_and_bulletins(gateway, client_id):
    import ib_insync as ibi

    ib = ibi.IB()
    ib.connect(gateway.host, gateway.port, clientId=client_id)
    assert {p.code for p in ib.reqNewsProviders()} == {"BRFG", "BRFUPDN", "DJNL"}
    now = dt.datetime.now(dt.UTC)
    news = ib.reqHistoricalNews(265598, "BRFG", now - dt.timedelta(days=20), now, 5)
    assert len(news) == 5 and all(n.providerCode == "BRFG" for n in news)
    assert ib.reqNewsArticle("BRFG", news[0].articleId).articleText.startswith(news[0].headline)
    ib.reqNewsBulletins(True)
    ib.sleep(0.3)
    assert any(b.msgType == 3 for b in ib.newsBulletins())
    ib.cancelNewsBulletins()
    ib.disconnect()


class NewsApp(RecordingApp):
    """The official client's news, bulletin and display-group callbacks, recorded."""

    def newsProviders(self, newsProviders):
        self._rec("newsProviders", [p.code for p in newsProviders])

    def historicalNews(self, requestId, time, providerCode, articleId, headline):
        self._rec("historicalNews", requestId, time, providerCode, articleId, headline)

    def historicalNewsEnd(self, requestId, hasMore):
        self._rec("historicalNewsEnd", requestId, hasMore)

    def newsArticle(self, requestId, articleType, articleText):
        self._rec("newsArticle", requestId, articleType, articleText)

    def updateNewsBulletin(self, msgId, msgType, newsMessage, originExch):
        self._rec("bulletin", msgId, msgType, newsMessage, originExch)

    def displayGroupList(self, reqId, groups):
        self._rec("displayGroupList", reqId, groups)

    def displayGroupUpdated(self, reqId, contractInfo):
        self._rec("displayGroupUpdated", reqId, contractInfo)


def test_official_ibapi_news_bulletins_and_groups(gateway, client_id):
    app = NewsApp().start(gateway.host, gateway.port, client_id)
    try:
        app.reqNewsProviders()
        assert set(app.wait_for("newsProviders")[0]) == {"BRFG", "BRFUPDN", "DJNL"}
        end = dt.datetime.now(dt.UTC)
        start = end - dt.timedelta(days=10)
        app.reqHistoricalNews(5, 265598, "BRFG+DJNL", start.strftime("%Y-%m-%d %H:%M:%S.0"),
                              end.strftime("%Y-%m-%d %H:%M:%S.0"), 4, [])
        _, has_more = app.wait_for("historicalNewsEnd", lambda a: a[0] == 5)
        items = [a for a in app.events["historicalNews"] if a[0] == 5]
        assert len(items) == 4 and has_more is True
        app.reqNewsArticle(6, items[0][2], items[0][3], [])
        _, kind, text = app.wait_for("newsArticle", lambda a: a[0] == 6)
        assert kind == 0 and text.startswith(items[0][4])
        app.reqNewsBulletins(True)
        app.wait_for("bulletin", lambda a: a[1] == 3)
        app.cancelNewsBulletins()
        app.queryDisplayGroups(7)
        assert app.wait_for("displayGroupList", lambda a: a[0] == 7)[1] == "1|2|3|4|5|6|7"
        app.subscribeToGroupEvents(8, 7)
        app.wait_for("displayGroupUpdated", lambda a: a[0] == 8)
        app.unsubscribeFromGroupEvents(8)
    finally:
        app.stop()


# ------------------------------------------------------------ malformed requests on the wire
def test_malformed_requests_get_clear_errors_and_keep_the_connection(gateway, client_id):
    """Truncated, empty and garbage fields for every request of this area: each gets an error
    naming the field (320) or the problem, never a handler failure (322), and the client stays."""
    import socket
    import struct

    from ibxl.sim.protocol.framing import FrameDecoder, encode_frame
    from ibxl.sim.protocol.ids import Msg, Req

    sock = socket.create_connection((gateway.host, gateway.port), timeout=5)
    decoder = FrameDecoder()
    pending: list[list[str]] = []

    def read_until(pred) -> list[list[str]]:
        out: list[list[str]] = []
        while True:
            while pending:
                fields = pending.pop(0)
                out.append(fields)
                if pred(fields):
                    return out
            pending.extend(decoder.feed(sock.recv(65536)))

    hello = b"v157..178"
    sock.sendall(b"API\0" + struct.pack(">I", len(hello)) + hello)
    sock.sendall(encode_frame([Req.START_API, 2, client_id, ""]))
    read_until(lambda f: f[0] == str(int(Msg.NEXT_VALID_ID)))
    cases = {
        Req.SCANNER_SUBSCRIPTION: [[], [5], [5, "x"], [5, 10, "STK", "STK.US.MAJOR", "MOST_ACTIVE", "cheap"],
                                   [5, 10, "STK", "STK.US.MAJOR", "MOST_ACTIVE", "", "", "", "", ""]],
        Req.CANCEL_SCANNER_SUBSCRIPTION: [[], [1, "abc"]],
        Req.SCANNER_PARAMETERS: [["v"]],
        Req.HISTORICAL_NEWS: [[], [6, "AAPL"], [6, 265598, "BRFG", "", "", "many"], [6, 265598, "BRFG", "x", "y", 5]],
        Req.NEWS_ARTICLE: [[], [7], [7, "BRFG", "BRFG$zz.zz.zz"], [7, "BRFG", "BRFG$"]],
        Req.NEWS_BULLETINS: [[], [1, "maybe"]],
        Req.QUERY_DISPLAY_GROUPS: [[], [1, "x"]],
        Req.SUBSCRIBE_TO_GROUP_EVENTS: [[1, 8], [1, 8, "red"]],
        Req.UPDATE_DISPLAY_GROUP: [[1], [1, 99, "265598@SMART"]],
        Req.UNSUBSCRIBE_FROM_GROUP_EVENTS: [[], [1, "x"]],
    }
    codes: list[int] = []
    for req, payloads in cases.items():
        for payload in payloads:
            time.sleep(0.06)  # stay under the gateway's 50 messages a second
            sock.sendall(encode_frame([req, *payload]))
            sock.sendall(encode_frame([Req.CURRENT_TIME, 1]))  # the connection still answers
            got = read_until(lambda f: f[0] == str(int(Msg.CURRENT_TIME)))
            errors = [f for f in got if f[0] == str(int(Msg.ERR_MSG)) and not 2100 <= int(f[3]) < 2200]
            assert errors, (req, payload)
            codes += [int(f[3]) for f in errors]
            assert all(f[3] != "322" for f in errors), (req, payload, errors)
            assert all(len(f[4]) > 20 for f in errors)
    assert 320 in codes and set(codes) <= {320, 321, 162, 10172, 200}
    sock.close()


def test_headline_search_goes_back_at_most_two_years(ib):
    news = ib.reqHistoricalNews(265598, "BRFUPDN", "19700101 00:00:00 UTC", "", 300)
    assert news
    oldest = news[-1].time.replace(tzinfo=dt.UTC)
    assert dt.datetime.now(dt.UTC) - oldest <= dt.timedelta(days=731)
