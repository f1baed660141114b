"""The sandbox's API over real HTTP: posts, idempotency, its own limits, rate limits, faults."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx

from tests.test_sandbox_server import FakeClock, connect, sandbox_client, sandbox_settings


async def test_publish_list_and_delete(tmp_path: Path) -> None:
    async with sandbox_client(sandbox_settings(tmp_path)) as client:
        me = await connect(client)
        path = f"/v1/accounts/{me.account_id}/posts"
        body = {
            "text": "Vendemmia 2026: si parte!",
            "link": "https://example.org/vendemmia",
            "media": [{"url": "https://example.org/uva.jpg", "mime_type": "image/jpeg"}],
        }
        created = await client.post(path, json=body, headers=me.headers)
        assert created.status_code == 201, created.text
        post = created.json()
        assert post["text"] == body["text"]
        assert post["account_id"] == me.account_id
        page = await client.get(post["url"])
        assert page.status_code == 200
        assert "SANDBOX" in page.text
        assert "Vendemmia 2026" in page.text
        for text in ("due", "tre"):
            await client.post(path, json={"text": text}, headers=me.headers)

        first = await client.get(path, params={"limit": 2}, headers=me.headers)
        assert [p["text"] for p in first.json()["data"]] == ["tre", "due"]  # newest first
        cursor = first.json()["next_cursor"]
        rest = await client.get(path, params={"limit": 2, "cursor": cursor}, headers=me.headers)
        assert [p["id"] for p in rest.json()["data"]] == [post["id"]]
        assert rest.json()["next_cursor"] is None

        deleted = await client.delete(f"/v1/posts/{post['id']}", headers=me.headers)
        assert deleted.status_code == 204
        assert "X-RateLimit-Remaining" in deleted.headers
        assert (await client.get(f"/v1/posts/{post['id']}", headers=me.headers)).status_code == 404
        listed = await client.get(path, headers=me.headers)
        assert post["id"] not in [p["id"] for p in listed.json()["data"]]
        again = await client.delete(f"/v1/posts/{post['id']}", headers=me.headers)
        assert again.status_code == 404


async def test_list_since_only_returns_newer_posts(tmp_path: Path) -> None:
    clock = FakeClock()
    settings = sandbox_settings(tmp_path, access_token_ttl_seconds=86400)
    async with sandbox_client(settings, clock) as client:
        me = await connect(client)
        path = f"/v1/accounts/{me.account_id}/posts"
        await client.post(path, json={"text": "ieri"}, headers=me.headers)
        clock.advance(hours=1)
        since = clock.now.isoformat()
        clock.advance(seconds=1)
        await client.post(path, json={"text": "oggi"}, headers=me.headers)
        listed = await client.get(path, params={"since": since}, headers=me.headers)
        assert [post["text"] for post in listed.json()["data"]] == ["oggi"]
        naive = await client.get(path, params={"since": "2026-06-01T09:00:00"}, headers=me.headers)
        assert naive.status_code == 422


async def test_idempotency_key_is_honoured(tmp_path: Path) -> None:
    async with sandbox_client(sandbox_settings(tmp_path)) as client:
        me = await connect(client)
        path = f"/v1/accounts/{me.account_id}/posts"
        headers = {**me.headers, "Idempotency-Key": "variant-7:sandbox:2026-06-01T09:00"}
        body = {"text": "Una sola volta"}
        first = await client.post(path, json=body, headers=headers)
        second = await client.post(path, json=body, headers=headers)
        assert (first.status_code, second.status_code) == (201, 200)
        assert second.headers["Idempotent-Replayed"] == "true"
        assert second.json()["id"] == first.json()["id"]
        assert first.json()["idempotency_key"] == headers["Idempotency-Key"]

        reused = await client.post(path, json={"text": "Altro testo"}, headers=headers)
        assert reused.status_code == 422
        assert reused.json()["type"].endswith("idempotency-key-reused")

        listed = await client.get(path, headers=me.headers)
        assert [post["id"] for post in listed.json()["data"]] == [first.json()["id"]]
        stats = (await client.get("/sandbox/stats")).json()
        assert stats["accepted_posts"] == 1
        assert stats["duplicates_prevented"] == 1

        await client.delete(f"/v1/posts/{first.json()['id']}", headers=me.headers)
        after_delete = await client.post(path, json=body, headers=headers)
        assert after_delete.status_code == 409


async def test_idempotency_keys_belong_to_their_account(tmp_path: Path) -> None:
    async with sandbox_client(sandbox_settings(tmp_path)) as client:
        one, two = await connect(client, "Uno"), await connect(client, "Due")
        ids = set()
        for who in (one, two):
            created = await client.post(
                f"/v1/accounts/{who.account_id}/posts",
                json={"text": "Ciao"},
                headers={**who.headers, "Idempotency-Key": "same-key"},
            )
            assert created.status_code == 201
            ids.add(created.json()["id"])
        assert len(ids) == 2


async def test_the_platform_enforces_its_own_limits(tmp_path: Path) -> None:
    settings = sandbox_settings(tmp_path, max_text_length=20, max_media=2)
    async with sandbox_client(settings) as client:
        me = await connect(client)
        path = f"/v1/accounts/{me.account_id}/posts"
        image = {"url": "https://example.org/a.jpg", "mime_type": "image/jpeg"}
        audio = {"url": "https://example.org/a.mp3", "mime_type": "audio/mpeg"}
        rejected = await client.post(
            path, json={"text": "x" * 21, "media": [image, image, audio]}, headers=me.headers
        )
        assert rejected.status_code == 422
        assert rejected.json()["type"] == "urn:engage:problem:content-rejected"
        violations = {(v["rule"], v["field"]) for v in rejected.json()["violations"]}
        assert violations == {
            ("max_text_length", "text"),
            ("max_media", "media"),
            ("media_type", "media.2.mime_type"),
        }
        empty = await client.post(path, json={"text": "   "}, headers=me.headers)
        assert [v["rule"] for v in empty.json()["violations"]] == ["not_empty"]
        malformed = await client.post(path, json={"text": 3, "extra": 1}, headers=me.headers)
        assert malformed.status_code == 422
        assert {e["field"] for e in malformed.json()["errors"]} == {"body.text", "body.extra"}
        assert (await client.get("/sandbox/stats")).json()["rejected_invalid"] == 2
        listed = await client.get(path, headers=me.headers)
        assert listed.json()["data"] == []


async def test_tokens_are_scoped_to_their_account(tmp_path: Path) -> None:
    async with sandbox_client(sandbox_settings(tmp_path)) as client:
        one, two = await connect(client, "Uno"), await connect(client, "Due")
        post = await client.post(
            f"/v1/accounts/{one.account_id}/posts", json={"text": "mio"}, headers=one.headers
        )
        foreign = await client.post(
            f"/v1/accounts/{one.account_id}/posts", json={"text": "tuo"}, headers=two.headers
        )
        assert foreign.status_code == 403
        post_id = post.json()["id"]
        assert (await client.delete(f"/v1/posts/{post_id}", headers=two.headers)).status_code == 403
        metrics = await client.get(f"/v1/posts/{post_id}/metrics", headers=two.headers)
        assert metrics.status_code == 403
        # Public things stay readable with any live token.
        assert (await client.get(f"/v1/posts/{post_id}", headers=two.headers)).status_code == 200


async def test_burst_beyond_the_bucket_answers_429_with_headers(tmp_path: Path) -> None:
    clock = FakeClock()
    settings = sandbox_settings(tmp_path, rate_limit_per_second=1.0, rate_limit_burst=3)
    async with sandbox_client(settings, clock) as client:
        me = await connect(client)
        path = f"/v1/accounts/{me.account_id}"
        answers = [await client.get(path, headers=me.headers) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
        limited = answers[-1]
        assert limited.headers["X-RateLimit-Limit"] == "3"
        assert limited.headers["Retry-After"] == "1"
        assert int(limited.headers["X-RateLimit-Reset"]) == int(clock.now.timestamp()) + 3
        assert limited.json()["type"] == "urn:engage:problem:rate-limited"

        other = await connect(client, "Altro account")  # buckets are per account
        assert (await client.get(path, headers=other.headers)).status_code == 200
        clock.advance(seconds=1)
        assert (await client.get(path, headers=me.headers)).status_code == 200
        assert (await client.get("/sandbox/stats")).json()["rejected_rate_limited"] == 1

        await client.post("/sandbox/faults", json={"rate_limit_burst": 10})
        more = [await client.get(path, headers=me.headers) for _ in range(10)]
        assert {a.status_code for a in more} == {200}


async def _failure_pattern(client: httpx.AsyncClient, calls: int) -> list[bool]:
    me = await connect(client)
    pattern = []
    for _ in range(calls):
        answer = await client.get(f"/v1/accounts/{me.account_id}", headers=me.headers)
        assert answer.status_code in (200, 503)
        if answer.status_code == 503:
            assert answer.headers["Retry-After"] == "1"
        pattern.append(answer.status_code == 503)
    return pattern


async def test_failure_share_holds_and_repeats_with_the_seed(tmp_path: Path) -> None:
    patterns = []
    for run, seed in enumerate((7, 7, 8)):
        settings = sandbox_settings(tmp_path / str(run), seed=seed, failure_rate=0.25)
        async with sandbox_client(settings) as client:
            patterns.append(await _failure_pattern(client, 300))
            stats = (await client.get("/sandbox/stats")).json()
            assert stats["rejected_failures"] == sum(patterns[-1])
    assert 0.18 <= sum(patterns[0]) / 300 <= 0.32
    assert patterns[0] == patterns[1]
    assert patterns[0] != patterns[2]


async def test_faults_can_be_changed_at_run_time(tmp_path: Path) -> None:
    async with sandbox_client(sandbox_settings(tmp_path)) as client:
        me = await connect(client)
        changed = await client.post("/sandbox/faults", json={"failure_rate": 1.0})
        assert changed.json()["failure_rate"] == 1.0
        failed = await client.get(f"/v1/accounts/{me.account_id}", headers=me.headers)
        assert failed.status_code == 503
        await client.post("/sandbox/faults", json={"failure_rate": 0.0})
        ok = await client.get(f"/v1/accounts/{me.account_id}", headers=me.headers)
        assert ok.status_code == 200
        invalid = await client.post("/sandbox/faults", json={"failure_rate": 2})
        assert invalid.status_code == 422
        assert (await client.delete("/sandbox/stats")).status_code == 204
        assert (await client.get("/sandbox/stats")).json()["requests"] == 0


async def test_expired_and_revoked_tokens(tmp_path: Path) -> None:
    clock = FakeClock()
    settings = sandbox_settings(tmp_path, access_token_ttl_seconds=600)
    async with sandbox_client(settings, clock) as client:
        me = await connect(client)
        account = f"/v1/accounts/{me.account_id}"
        clock.advance(seconds=601)
        expired = await client.get(account, headers=me.headers)
        assert expired.status_code == 401
        assert "invalid_token" in expired.headers["WWW-Authenticate"]

        form = {"grant_type": "refresh_token", "refresh_token": me.refresh_token}
        refreshed = await client.post("/oauth/token", data=form)
        assert refreshed.status_code == 200
        assert refreshed.headers["Cache-Control"] == "no-store"
        fresh = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        assert (await client.get(account, headers=fresh)).status_code == 200
        # Refresh tokens rotate: the old one is spent.
        assert (await client.post("/oauth/token", data=form)).status_code == 400

        assert (
            await client.post(f"/sandbox/accounts/{me.account_id}/revoke-tokens")
        ).status_code == 204
        assert (await client.get(account, headers=fresh)).status_code == 401
        next_form = {**form, "refresh_token": refreshed.json()["refresh_token"]}
        revoked = await client.post("/oauth/token", data=next_form)
        assert revoked.status_code == 400
        assert revoked.json()["error"] == "invalid_grant"
        assert (await client.get("/sandbox/stats")).json()["rejected_unauthorized"] == 2


async def test_metrics_grow_with_time_and_comments_match_them(tmp_path: Path) -> None:
    clock = FakeClock()
    async with sandbox_client(sandbox_settings(tmp_path, engagement_speed=60.0), clock) as client:
        me = await connect(client)
        post = await client.post(
            f"/v1/accounts/{me.account_id}/posts",
            json={
                "text": "Il nostro frantoio",
                "media": [{"url": "https://example.org/olio.mp4", "mime_type": "video/mp4"}],
            },
            headers=me.headers,
        )
        post_id = post.json()["id"]
        series = []
        for _ in range(6):
            metrics = await client.get(f"/v1/posts/{post_id}/metrics", headers=me.headers)
            series.append(metrics.json())
            clock.advance(minutes=3)  # three simulated hours each
        assert series[0]["impressions"] == 0
        assert series[-1]["impressions"] > 0
        assert series[-1]["views"] is not None
        for name in ("impressions", "reach", "likes", "comments", "shares", "saves", "views"):
            values = [figures[name] for figures in series]
            assert values == sorted(values), name
        comments = await client.get(
            f"/v1/posts/{post_id}/comments", params={"limit": 100}, headers=me.headers
        )
        latest = (await client.get(f"/v1/posts/{post_id}/metrics", headers=me.headers)).json()
        assert len(comments.json()["data"]) == min(latest["comments"], 100)


async def test_mentions_arrive_over_time_in_two_languages(tmp_path: Path) -> None:
    clock = FakeClock()
    settings = sandbox_settings(tmp_path, access_token_ttl_seconds=86400)
    async with sandbox_client(settings, clock) as client:
        me = await connect(client, "Cantina Aurora")
        path = f"/v1/accounts/{me.account_id}/mentions"
        assert (await client.get(path, headers=me.headers)).json()["data"] == []
        clock.advance(hours=4)  # 240 simulated hours: about 120 mentions
        everything = []
        since = None
        while True:
            params = {"limit": 50} | ({"since": since} if since else {})
            page = (await client.get(path, params=params, headers=me.headers)).json()["data"]
            if not page:
                break
            everything.extend(page)
            since = page[-1]["created_at"]
        assert 100 <= len(everything) <= 130
        assert len({mention["id"] for mention in everything}) == len(everything)
        assert all("@cantina_aurora" in mention["text"] for mention in everything)
        assert {mention["language"] for mention in everything} == {"it", "en"}
        sentiments = {mention["simulated_sentiment"] for mention in everything}
        assert sentiments == {"positive", "neutral", "negative"}
        assert any(mention["place"] for mention in everything)
        moments = [datetime.fromisoformat(mention["created_at"]) for mention in everything]
        assert moments == sorted(moments)
        assert moments[-1] <= clock.now


async def _metrics_after_a_day(data_dir: Path, seed: int) -> dict[str, object]:
    clock = FakeClock()
    settings = sandbox_settings(data_dir, seed=seed, access_token_ttl_seconds=86400)
    async with sandbox_client(settings, clock) as client:
        me = await connect(client)
        post = await client.post(
            f"/v1/accounts/{me.account_id}/posts", json={"text": "Sagra"}, headers=me.headers
        )
        clock.advance(minutes=24)  # a simulated day at speed 60
        metrics = await client.get(f"/v1/posts/{post.json()['id']}/metrics", headers=me.headers)
        figures: dict[str, object] = metrics.json()
        figures.pop("collected_at")
        return figures


async def test_same_seed_gives_the_same_metrics_over_http(tmp_path: Path) -> None:
    first = await _metrics_after_a_day(tmp_path / "a", seed=5)
    assert first == await _metrics_after_a_day(tmp_path / "b", seed=5)
    assert first != await _metrics_after_a_day(tmp_path / "c", seed=6)
    assert isinstance(first["likes"], int)
    assert first["likes"] > 0
