"""Repos, org and identity through Mesa's Python SDK (`mesa.repos`, `mesa.org`, `mesa.whoami`), and the tag routes
the SDK's REST layer (mesa_rest) exposes: tags on create and update, the `tags` list filter, bulk repo tags."""

from __future__ import annotations

import pytest

from mesa_rest.api.repo import bulk_update_repo_tags, create_repo, update_repo
from mesa_rest.models.bulk_update_repo_tags_body import BulkUpdateRepoTagsBody
from mesa_rest.models.bulk_update_repo_tags_body_action import BulkUpdateRepoTagsBodyAction
from mesa_rest.models.create_repo_body import CreateRepoBody
from mesa_rest.models.create_repo_body_tags import CreateRepoBodyTags
from mesa_rest.models.update_repo_body import UpdateRepoBody
from mesa_rest.models.update_repo_body_tags import UpdateRepoBodyTags
from mesa_sdk import VIRTUAL_ROOT_CHANGE_ID, ConflictError, NotFoundError, ValidationError
from mesa_sdk._client import unwrap

from conftest import ORG, unique


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


@pytest.mark.skip(reason="upstream git remotes and syncs are built in parallel on another branch (issue 13, item 2)")
def test_upstream_syncs(server):
    """`repos.create(upstream=...)`, `repos.sync_upstream`, `repos.get_upstream_sync`, `repos.list_upstream_syncs`."""
