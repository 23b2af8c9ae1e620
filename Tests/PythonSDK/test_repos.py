"""Repos, org and identity through Mesa's Python SDK (`mesa.repos`, `mesa.org`, `mesa.whoami`), and the tag routes
the SDK's REST layer (mesa_rest) exposes: tags on create and update, the `tags` list filter, bulk repo tags."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile

import pytest

from mesa_rest.api.repo import bulk_update_repo_tags, create_repo, update_repo
from mesa_rest.models.bulk_update_repo_tags_body import BulkUpdateRepoTagsBody
from mesa_rest.models.bulk_update_repo_tags_body_action import BulkUpdateRepoTagsBodyAction
from mesa_rest.models.create_repo_body import CreateRepoBody
from mesa_rest.models.create_repo_body_tags import CreateRepoBodyTags
from mesa_rest.models.update_repo_body import UpdateRepoBody
from mesa_rest.models.update_repo_body_tags import UpdateRepoBodyTags
from mesa_sdk import VIRTUAL_ROOT_CHANGE_ID, ConflictError, FileUpsert, NotFoundError, ValidationError
from mesa_sdk.types import TokenAuth, UpstreamConfig
from mesa_sdk._client import unwrap

from conftest import ORG, b64, unb64, unique


async def create_tagged(mesa, name: str, tags: dict[str, str]):
    """`POST /{org}/repos` with `tags`, through the SDK's REST layer (the SDK's `repos.create` has no `tags`)."""
    body_tags = CreateRepoBodyTags()
    body_tags.additional_properties = dict(tags)
    response = await create_repo.asyncio_detailed(ORG, client=mesa._client, body=CreateRepoBody(name=name, tags=body_tags))
    assert response.status_code == 201
    return unwrap(response)


async def patch_tags(mesa, name: str, patch: dict[str, str | None]):
    body_tags = UpdateRepoBodyTags()
    body_tags.additional_properties = dict(patch)
    return unwrap(await update_repo.asyncio_detailed(ORG, name, client=mesa._client, body=UpdateRepoBody(tags=body_tags)))


async def names(mesa, **filters) -> list[str]:
    """Every repo name of a listing, following cursors one repo per page."""
    found: list[str] = []
    cursor = None
    while True:
        page = await mesa.repos.list(limit=1, cursor=cursor, **filters)
        found += [repo.name for repo in page.repos]
        if not page.has_more:
            assert page.next_cursor is None
            return found
        cursor = page.next_cursor


def test_whoami_and_org(server):
    async def body(mesa):
        me = await mesa.whoami()
        assert me.org.slug == ORG
        assert me.key_id and me.key_id in server.admin_key
        assert set(me.scopes) >= {"read", "write", "admin"}
        assert await mesa.resolve_org() == ORG
        before = (await mesa.org.get()).num_repos
        await mesa.repos.create(name=unique("count"))
        org = await mesa.org.get()
        assert org.num_repos == before + 1
        assert org.created_at.tzinfo is not None

    server.run(body)


def test_repo_create_get_update_delete(server):
    async def body(mesa):
        name = unique("crud")
        created = await mesa.repos.create(name=name, default_bookmark="trunk")
        assert created.name == name and created.org == ORG
        assert created.default_bookmark == "trunk"
        assert created.head_change_id == VIRTUAL_ROOT_CHANGE_ID
        assert created.upstream is None
        assert created.tags.to_dict() == {}

        got = await mesa.repos.get(repo=name)
        assert got.id == created.id and got.created_at == created.created_at

        renamed = unique("renamed")
        updated = await mesa.repos.update(repo=name, name=renamed, default_bookmark="main")
        assert updated.id == created.id and updated.name == renamed and updated.default_bookmark == "main"
        with pytest.raises(NotFoundError):
            await mesa.repos.get(repo=name)

        deleted = await mesa.repos.delete(repo=renamed)
        assert deleted.success is True
        with pytest.raises(NotFoundError):
            await mesa.repos.get(repo=renamed)
        with pytest.raises(NotFoundError):
            await mesa.repos.delete(repo=renamed)

    server.run(body)


def test_repo_create_refusals(server):
    async def body(mesa):
        name = unique("dup")
        await mesa.repos.create(name=name)
        with pytest.raises(ConflictError) as conflict:
            await mesa.repos.create(name=name)
        assert conflict.value.status_code == 409
        with pytest.raises(ValidationError) as invalid:
            await mesa.repos.create(name="not a name")
        assert invalid.value.status_code == 400
        assert invalid.value.body.error.code
        with pytest.raises(ValidationError):
            await mesa.repos.create(name="repos")  # an org-level route's name

    server.run(body)


def test_repo_list_pages_with_limit_and_cursor(server):
    async def body(mesa):
        prefix = unique("page")
        created = sorted(f"{prefix}-{i}" for i in range(5))
        for name in created:
            await mesa.repos.create(name=name)
        listed = [name for name in await names(mesa) if name.startswith(prefix)]
        assert listed == created
        page = await mesa.repos.list(limit=2)
        assert len(page.repos) == 2 and page.has_more and page.next_cursor
        with pytest.raises(ValidationError):
            await mesa.repos.list(cursor="not-a-cursor-we-gave!")

    server.run(body)


def test_repo_tags_filter_and_patch(server):
    async def body(mesa):
        team = unique("team")
        a = await create_tagged(mesa, unique("a"), {"team": team, "env": "prod"})
        b = await create_tagged(mesa, unique("b"), {"team": team, "env": "dev"})
        await create_tagged(mesa, unique("c"), {"team": "other"})
        assert a.tags.to_dict() == {"team": team, "env": "prod"}

        # The SDK serializes a mapping as compact JSON; a string passes through (`key:value` list).
        assert await names(mesa, tags={"team": team}) == sorted([a.name, b.name])
        assert await names(mesa, tags={"team": team, "env": "prod"}) == [a.name]
        assert await names(mesa, tags=f"team:{team},env:dev") == [b.name]
        assert await names(mesa, tags={"team": unique("nobody")}) == []

        # A tag patch: a string sets, null removes, an absent key is kept.
        patched = await patch_tags(mesa, a.name, {"env": None, "tier": "1"})
        assert patched.tags.to_dict() == {"team": team, "tier": "1"}
        assert (await mesa.repos.get(repo=a.name)).tags.to_dict() == {"team": team, "tier": "1"}
        assert await names(mesa, tags={"team": team, "env": "prod"}) == []
        # Other fields of an update keep the tags.
        kept = await mesa.repos.update(repo=a.name, default_bookmark="main")
        assert kept.tags.to_dict() == {"team": team, "tier": "1"}

    server.run(body)


def test_bulk_repo_tags(server):
    async def body(mesa):
        a = await mesa.repos.create(name=unique("bulk-a"))
        b = await mesa.repos.create(name=unique("bulk-b"))
        c = await mesa.repos.create(name=unique("bulk-c"))
        label = unique("wave")

        async def bulk(**fields):
            return await bulk_update_repo_tags.asyncio_detailed(
                ORG, client=mesa._client, body=BulkUpdateRepoTagsBody(**fields))

        result = unwrap(await bulk(repo_ids=[a.id, b.id], action=BulkUpdateRepoTagsBodyAction.SET, key="wave", value=label))
        assert result.updated == 2
        assert await names(mesa, tags={"wave": label}) == sorted([a.name, b.name])
        assert (await mesa.repos.get(repo=c.name)).tags.to_dict() == {}

        removed = unwrap(await bulk(repo_ids=[a.id], action=BulkUpdateRepoTagsBodyAction.REMOVE, key="wave"))
        assert removed.updated == 1
        assert await names(mesa, tags={"wave": label}) == [b.name]

        # All or nothing: an unknown id is a 404 naming it, and no repo changes.
        with pytest.raises(NotFoundError) as missing:
            unwrap(await bulk(
                repo_ids=[c.id, "no-such-repo-id"], action=BulkUpdateRepoTagsBodyAction.SET, key="wave", value="x"))
        assert "no-such-repo-id" in missing.value.body.error.message
        assert (await mesa.repos.get(repo=c.name)).tags.to_dict() == {}
        # `set` needs a value; keys starting with `$` are reserved.
        with pytest.raises(ValidationError):
            unwrap(await bulk(repo_ids=[c.id], action=BulkUpdateRepoTagsBodyAction.SET, key="wave"))
        with pytest.raises(ValidationError):
            unwrap(await bulk(repo_ids=[c.id], action=BulkUpdateRepoTagsBodyAction.SET, key="$in", value="x"))

    server.run(body)


def git(*arguments: str, cwd: str | None = None) -> str:
    return subprocess.run(["git", *arguments], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


async def finished(mesa, repo: str, sync_id: str):
    """The sync once it has completed or failed (30 s at most)."""
    for _ in range(300):
        sync = await mesa.repos.get_upstream_sync(repo=repo, sync_id=sync_id)
        if sync.status in ("completed", "failed"):
            return sync
        await asyncio.sleep(0.1)
    raise AssertionError(f"sync {sync_id} did not finish")


def test_upstream_syncs(server):
    """`repos.create(upstream=...)`, `repos.sync_upstream`, `repos.get_upstream_sync`, `repos.list_upstream_syncs`,
    `repos.update(upstream=...)` against a bare git repository (file://) with two branches."""
    with tempfile.TemporaryDirectory() as work:
        remote = os.path.join(work, "remote.git")
        git("init", "-q", "--bare", "-b", "main", remote)
        clone = os.path.join(work, "clone")
        git("clone", "-q", remote, clone)
        for name, value in (("user.name", "Ada"), ("user.email", "ada@example.com")):
            git("config", name, value, cwd=clone)
        with open(os.path.join(clone, "hello.txt"), "w") as file:
            file.write("hello\n")
        git("add", "-A", cwd=clone)
        git("commit", "-q", "-m", "first", cwd=clone)
        git("checkout", "-q", "-b", "feature", cwd=clone)
        with open(os.path.join(clone, "feature.txt"), "w") as file:
            file.write("feature\n")
        git("add", "-A", cwd=clone)
        git("commit", "-q", "-m", "feature work", cwd=clone)
        git("push", "-q", "origin", "main", "feature", cwd=clone)
        url = "file://" + remote

        async def body(mesa):
            repo = await mesa.repos.create(name=unique("up"), upstream=UpstreamConfig(url=url))
            assert repo.upstream.url == url and repo.upstream.auth_kind is None

            pull = await mesa.repos.sync_upstream(repo=repo.name, direction="pull")
            assert pull.direction == "pull" and pull.status in ("queued", "in_progress", "completed")
            done = await finished(mesa, repo.name, pull.id)
            assert done.status == "completed", done.to_dict()
            outcomes = [ref["outcome"] for ref in done.to_dict()["stats"]["refs"]]
            assert outcomes == ["updated", "updated"], done.to_dict()
            bookmarks = {b.name for b in (await mesa.bookmarks.list(repo=repo.name)).bookmarks}
            assert {"main", "feature"} <= bookmarks
            main = await mesa.bookmarks.get(repo=repo.name, bookmark="main")
            hello = await mesa.content.get(repo=repo.name, path="hello.txt", change_id=main.change_id)
            assert unb64(hello.content) == b"hello\n"
            feature = await mesa.bookmarks.get(repo=repo.name, bookmark="feature")
            work = await mesa.content.get(repo=repo.name, path="feature.txt", change_id=feature.change_id)
            assert unb64(work.content) == b"feature\n"

            # An edit through the API, pushed back: git on the remote shows it.
            change = await mesa.changes.create(
                repo=repo.name, base_change_id=main.change_id, message="from mesa",
                files=[FileUpsert(path="from-mesa.txt", content=b64("pushed\n"))])
            await mesa.bookmarks.move(repo=repo.name, bookmark="main", change_id=change.id)
            push = await mesa.repos.sync_upstream(repo=repo.name, direction="push", ref_globs={"branches": "main"})
            pushed = await finished(mesa, repo.name, push.id)
            assert pushed.status == "completed", pushed.to_dict()
            assert git("--git-dir", remote, "log", "-1", "--format=%s", "main") == "from mesa"
            assert git("--git-dir", remote, "show", "main:from-mesa.txt") == "pushed"

            listed = await mesa.repos.list_upstream_syncs(repo=repo.name)
            assert [sync.id for sync in listed.syncs][:2] == [push.id, pull.id]

            # A credential is stored, reported by kind only, and never answered.
            updated = await mesa.repos.update(
                repo=repo.name, upstream=UpstreamConfig(url=url, auth=TokenAuth(token="very-secret-token")))
            assert updated.upstream.auth_kind == "token"
            assert "very-secret-token" not in str((await mesa.repos.get(repo=repo.name)).to_dict())

        server.run(body)
