"""Changes, bookmarks, merges, content and diffs through Mesa's Python SDK (`mesa.changes`, `mesa.bookmarks`,
`mesa.content`, `mesa.diffs`)."""

from __future__ import annotations

import datetime
import os
import subprocess
import tempfile

import pytest

from mesa_rest.models.create_change_body_files_item_type_0_mode import CreateChangeBodyFilesItemType0Mode

from mesa_sdk import (
    VIRTUAL_ROOT_CHANGE_ID,
    Author,
    ConflictError,
    FileDelete,
    FileUpsert,
    HunkFix,
    HunkResolution,
    NotFoundError,
    ValidationError,
    WholeFileResolution,
)

from conftest import ORG, b64, unb64, unique

IST = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
# `FileUpsert.mode` goes through mesa-rest's enum (0.44.1 calls `.value` on it: a plain string fails in the SDK).
EXECUTABLE = CreateChangeBodyFilesItemType0Mode.VALUE_1


async def seeded(mesa, files: dict[str, str], message: str = "seed"):
    """A new repo whose default bookmark `main` points at one change holding `files`."""
    repo = await mesa.repos.create(name=unique("repo"))
    change = await mesa.changes.create(
        repo=repo.name, base_change_id=VIRTUAL_ROOT_CHANGE_ID, message=message,
        files=[FileUpsert(path=path, content=b64(text)) for path, text in files.items()])
    # A repo's first write creates its default bookmark there.
    assert (await mesa.bookmarks.get(repo=repo.name, bookmark="main")).change_id == change.id
    return repo, change


async def read(mesa, repo: str, path: str, change_id: str | None = None) -> bytes:
    content = await mesa.content.get(repo=repo, path=path, change_id=change_id)
    assert content.is_file()
    return unb64(content.content)


def test_change_create_get_list(server):
    async def body(mesa):
        repo = await mesa.repos.create(name=unique("changes"))
        author = Author(name="Ada", email="ada@example.com", date=datetime.datetime(2026, 1, 1, 10, 0, tzinfo=IST))
        first = await mesa.changes.create(
            repo=repo.name, base_change_id=VIRTUAL_ROOT_CHANGE_ID, message="first",
            author=author, committer=Author(name="Bot", email="bot@example.com"),
            files=[
                FileUpsert(path="README.md", content=b64("hello\n")),
                FileUpsert(path="bin/run.sh", content=b64("#!/bin/sh\necho run\n"), mode=EXECUTABLE),
                FileUpsert(path="gone.txt", content=b64("soon deleted\n")),
            ])
        assert len(first.id) == 32 and set(first.id) <= set("zyxwvutsrqponmlk")
        assert len(first.current_commit_oid) == 40
        assert first.message == "first" and first.parents == [VIRTUAL_ROOT_CHANGE_ID]
        assert first.author.name == "Ada" and first.author.email == "ada@example.com"
        assert first.committer.name == "Bot"
        assert first.is_conflicted is False

        got = await mesa.changes.get(repo=repo.name, change_id=first.id)
        assert sorted(got.files) == ["README.md", "bin/run.sh", "gone.txt"]
        assert got.conflicts == []
        # The author date keeps the offset it was given.
        assert got.author.date == datetime.datetime(2026, 1, 1, 10, 0, tzinfo=IST)
        assert got.author.date.utcoffset() == datetime.timedelta(hours=5, minutes=30)

        second = await mesa.changes.create(
            repo=repo.name, base_change_id=first.id, message="second",
            files=[FileUpsert(path="README.md", content=b64("hello again\n")), FileDelete(path="gone.txt")])
        assert second.parents == [first.id]
        # The first write created the default bookmark at `first`; a later change moves nothing.
        assert (await mesa.bookmarks.get(repo=repo.name, bookmark="main")).change_id == first.id
        await mesa.bookmarks.move(repo=repo.name, bookmark="main", change_id=second.id)
        assert await read(mesa, repo.name, "README.md") == b"hello again\n"
        assert await read(mesa, repo.name, "README.md", change_id=first.id) == b"hello\n"
        with pytest.raises(NotFoundError):
            await mesa.content.get(repo=repo.name, path="gone.txt")
        assert (await mesa.repos.get(repo=repo.name)).head_change_id == second.id

        # Without a bookmark: every change, most recently updated first.
        recent = await mesa.changes.list(repo=repo.name)
        assert [change.id for change in recent.changes] == [second.id, first.id]
        listed = await mesa.changes.list(repo=repo.name, bookmark="main")
        assert [change.id for change in listed.changes] == [second.id, first.id]
        page = await mesa.changes.list(repo=repo.name, bookmark="main", limit=1)
        assert [change.id for change in page.changes] == [second.id] and page.has_more
        rest = await mesa.changes.list(repo=repo.name, bookmark="main", limit=1, cursor=page.next_cursor)
        assert [change.id for change in rest.changes] == [first.id]

        with pytest.raises(NotFoundError):
            await mesa.changes.get(repo=repo.name, change_id="k" * 32)
        with pytest.raises(NotFoundError):
            await mesa.changes.create(repo=repo.name, base_change_id="k" * 32, message="on nothing")
        with pytest.raises(ValidationError):
            await mesa.changes.create(
                repo=repo.name, base_change_id=first.id, files=[FileUpsert(path="../escape", content=b64("x"))])

    server.run(body)


def test_change_patch_evolves_with_author(server):
    async def body(mesa):
        repo, change = await seeded(mesa, {"a.txt": "one\n"})
        before = await mesa.changes.get(repo=repo.name, change_id=change.id)
        evolved = await mesa.changes.patch(
            repo=repo.name, change_id=change.id, message="reworded",
            author=Author(name="Grace", email="grace@example.com", date=datetime.datetime(2025, 6, 1, 8, 30, tzinfo=IST)),
            files=[FileUpsert(path="b.txt", content=b64("two\n"))])
        assert evolved.id == change.id
        assert evolved.current_commit_oid != before.current_commit_oid
        assert evolved.message == "reworded"
        assert evolved.author.name == "Grace" and evolved.author.email == "grace@example.com"
        again = await mesa.changes.get(repo=repo.name, change_id=change.id)
        assert again.author.name == "Grace"
        assert again.author.date == datetime.datetime(2025, 6, 1, 8, 30, tzinfo=IST)
        assert sorted(again.files) == ["a.txt", "b.txt"]
        # The bookmark follows its change's new commit.
        assert await read(mesa, repo.name, "b.txt") == b"two\n"

        # An author without a date keeps the change's author date.
        renamed = await mesa.changes.patch(
            repo=repo.name, change_id=change.id, author=Author(name="Grace Hopper", email="grace@example.com"))
        assert renamed.author.name == "Grace Hopper"
        assert (await mesa.changes.get(repo=repo.name, change_id=change.id)).author.date == again.author.date

        # base_commit_oid guards against a change that moved on.
        with pytest.raises(ConflictError):
            await mesa.changes.patch(
                repo=repo.name, change_id=change.id, message="stale", base_commit_oid=before.current_commit_oid)
        current = await mesa.changes.get(repo=repo.name, change_id=change.id)
        assert current.message == "reworded"
        ok = await mesa.changes.patch(
            repo=repo.name, change_id=change.id, message="fresh", base_commit_oid=current.current_commit_oid)
        assert ok.message == "fresh"

    server.run(body)


def test_bookmarks_create_list_move_delete(server):
    async def body(mesa):
        repo, base = await seeded(mesa, {"f": "0\n"})
        child = await mesa.changes.create(
            repo=repo.name, base_change_id=base.id, files=[FileUpsert(path="f", content=b64("1\n"))])

        created = await mesa.bookmarks.create(repo=repo.name, name="feat/x", change_id=base.id)
        assert created.name == "feat/x" and created.change_id == base.id and created.is_default is False
        for name in ["b-1", "b-2", "b-3"]:
            await mesa.bookmarks.create(repo=repo.name, name=name, change_id=base.id)
        with pytest.raises(ConflictError):
            await mesa.bookmarks.create(repo=repo.name, name="b-1", change_id=base.id)

        got = await mesa.bookmarks.get(repo=repo.name, bookmark="feat/x")  # percent-encoded as feat%2Fx
        assert got.change_id == base.id

        # Pages of two, in name order, cursor to cursor.
        seen: list[str] = []
        cursor = None
        while True:
            page = await mesa.bookmarks.list(repo=repo.name, limit=2, cursor=cursor)
            assert len(page.bookmarks) <= 2
            seen += [bookmark.name for bookmark in page.bookmarks]
            if not page.has_more:
                break
            cursor = page.next_cursor
        assert seen == ["b-1", "b-2", "b-3", "feat/x", "main"]
        assert [b.name for b in (await mesa.bookmarks.list(repo=repo.name, glob="b-*")).bookmarks] == ["b-1", "b-2", "b-3"]
        default = [b for b in (await mesa.bookmarks.list(repo=repo.name)).bookmarks if b.is_default]
        assert [b.name for b in default] == ["main"]

        moved = await mesa.bookmarks.move(repo=repo.name, bookmark="feat/x", change_id=child.id)
        assert moved.change_id == child.id and moved.from_change_id == base.id
        with pytest.raises(ConflictError):
            await mesa.bookmarks.move(repo=repo.name, bookmark="feat/x", change_id=base.id)
        back = await mesa.bookmarks.move(repo=repo.name, bookmark="feat/x", change_id=base.id, allow_backwards=True)
        assert back.change_id == base.id and back.from_change_id == child.id

        assert (await mesa.bookmarks.delete(repo=repo.name, bookmark="feat/x")).success is True
        with pytest.raises(NotFoundError):
            await mesa.bookmarks.get(repo=repo.name, bookmark="feat/x")
        with pytest.raises(NotFoundError):
            await mesa.bookmarks.move(repo=repo.name, bookmark="nope", change_id=base.id)
        with pytest.raises(ValidationError):
            await mesa.bookmarks.create(repo=repo.name, name="bad..name", change_id=base.id)

    server.run(body)


def test_merges(server):
    async def body(mesa):
        repo, base = await seeded(mesa, {"shared.txt": "line 1\nline 2\nline 3\n", "other.txt": "x\n"})
        await mesa.bookmarks.create(repo=repo.name, name="same", change_id=base.id)
        no_op = await mesa.bookmarks.merge(repo=repo.name, source="same", target="main")
        assert no_op.merge_type == "no_op" and no_op.change_id == base.id and no_op.source_deleted is False

        feature = await mesa.changes.create(
            repo=repo.name, base_change_id=base.id, files=[FileUpsert(path="feature.txt", content=b64("new\n"))])
        await mesa.bookmarks.create(repo=repo.name, name="feature", change_id=feature.id)
        mainline = await mesa.changes.create(
            repo=repo.name, base_change_id=base.id, files=[FileUpsert(path="other.txt", content=b64("y\n"))])
        await mesa.bookmarks.move(repo=repo.name, bookmark="main", change_id=mainline.id)
        merged = await mesa.bookmarks.merge(
            repo=repo.name, source="feature", target="main", delete_source=True, message="merge feature")
        assert merged.merge_type == "merge_commit" and merged.is_conflicted is False
        assert merged.target == "main" and merged.source == "feature" and merged.source_deleted is True
        merge_change = await mesa.changes.get(repo=repo.name, change_id=merged.change_id)
        assert sorted(merge_change.parents) == sorted([mainline.id, feature.id])
        assert merge_change.message == "merge feature"
        assert merge_change.current_commit_oid == merged.commit_oid
        assert await read(mesa, repo.name, "feature.txt") == b"new\n"
        assert await read(mesa, repo.name, "other.txt") == b"y\n"
        with pytest.raises(NotFoundError):
            await mesa.bookmarks.get(repo=repo.name, bookmark="feature")

        # Both sides edit one line: a 409 MERGE_CONFLICT naming the path, and nothing changes.
        tip = merged.change_id
        ours = await mesa.changes.create(
            repo=repo.name, base_change_id=tip, files=[FileUpsert(path="shared.txt", content=b64("line 1\nOURS\nline 3\n"))])
        theirs = await mesa.changes.create(
            repo=repo.name, base_change_id=tip,
            files=[FileUpsert(path="shared.txt", content=b64("line 1\nTHEIRS\nline 3\n"))])
        await mesa.bookmarks.move(repo=repo.name, bookmark="main", change_id=ours.id)
        await mesa.bookmarks.create(repo=repo.name, name="theirs", change_id=theirs.id)
        with pytest.raises(ConflictError) as conflict:
            await mesa.bookmarks.merge(repo=repo.name, source="theirs", target="main")
        error = conflict.value.body.error
        assert error.code == "MERGE_CONFLICT"
        assert error.details["conflict_paths"] == ["shared.txt"]
        assert (await mesa.bookmarks.get(repo=repo.name, bookmark="main")).change_id == ours.id

        # allow_conflicted records the conflict in a change.
        conflicted = await mesa.bookmarks.merge(repo=repo.name, source="theirs", target="main", allow_conflicted=True)
        assert conflicted.merge_type == "merge_commit" and conflicted.is_conflicted is True
        change = await mesa.changes.get(repo=repo.name, change_id=conflicted.change_id)
        assert change.is_conflicted is True and change.conflicts == ["shared.txt"]
        # The diff lists the conflicted path under conflicted_entries only; `conflicts` filters.
        included = await mesa.diffs.get(repo=repo.name, base_change_id=ours.id, head_change_id=conflicted.change_id)
        assert [entry.path for entry in included.conflicted_entries] == ["shared.txt"]
        assert "shared.txt" not in [entry.path for entry in included.entries]
        assert included.conflicted_entries[0].hunks
        only = await mesa.diffs.get(
            repo=repo.name, base_change_id=ours.id, head_change_id=conflicted.change_id, conflicts="only")
        assert only.entries == [] and [entry.path for entry in only.conflicted_entries] == ["shared.txt"]
        excluded = await mesa.diffs.get(
            repo=repo.name, base_change_id=ours.id, head_change_id=conflicted.change_id, conflicts="exclude")
        assert excluded.conflicted_entries == []
        content = await mesa.content.get(repo=repo.name, path="shared.txt")
        assert content.is_conflicted is True
        text = unb64(content.content)
        assert b"OURS" in text and b"THEIRS" in text
        assert (await mesa.content.get(repo=repo.name, path="other.txt")).is_conflicted is not True

        # Editing the conflict away (a whole-file resolution) clears it.
        resolved = await mesa.changes.patch(
            repo=repo.name, change_id=conflicted.change_id,
            files=[FileUpsert(path="shared.txt", content=b64("line 1\nBOTH\nline 3\n"))])
        assert resolved.is_conflicted is False
        assert await read(mesa, repo.name, "shared.txt") == b"line 1\nBOTH\nline 3\n"

    server.run(body)


async def clash(mesa):
    """A repo whose bookmarks `ours` and `theirs` edit the same line of `f.txt`."""
    repo, base = await seeded(mesa, {"f.txt": "a\nb\nc\n"})
    ours = await mesa.changes.create(
        repo=repo.name, base_change_id=base.id, files=[FileUpsert(path="f.txt", content=b64("a\nOURS\nc\n"))])
    theirs = await mesa.changes.create(
        repo=repo.name, base_change_id=base.id, files=[FileUpsert(path="f.txt", content=b64("a\nTHEIRS\nc\n"))])
    await mesa.bookmarks.create(repo=repo.name, name="ours", change_id=ours.id)
    await mesa.bookmarks.create(repo=repo.name, name="theirs", change_id=theirs.id)
    return repo


def test_whole_file_resolutions(server):
    async def body(mesa):
        # A merge resolved by taking a side, or by given content: clean, and the file holds the resolution.
        repo = await clash(mesa)
        taken = await mesa.bookmarks.merge(
            repo=repo.name, source="theirs", target="ours",
            resolutions=[WholeFileResolution(path="f.txt", take="source")])
        assert taken.is_conflicted is False
        assert await read(mesa, repo.name, "f.txt", change_id=taken.change_id) == b"a\nTHEIRS\nc\n"

        repo = await clash(mesa)
        given = await mesa.bookmarks.merge(
            repo=repo.name, source="theirs", target="ours",
            resolutions=[WholeFileResolution(path="f.txt", content=b64("a\nMERGED\nc\n"))])
        assert given.is_conflicted is False
        assert await read(mesa, repo.name, "f.txt", change_id=given.change_id) == b"a\nMERGED\nc\n"

        # A conflicted change resolved afterwards by PATCH with a whole-file resolution.
        repo = await clash(mesa)
        kept = await mesa.bookmarks.merge(repo=repo.name, source="theirs", target="ours", allow_conflicted=True)
        assert kept.is_conflicted is True
        fixed = await mesa.changes.patch(
            repo=repo.name, change_id=kept.change_id,
            resolutions=[WholeFileResolution(path="f.txt", content=b64("a\nFIXED\nc\n"))])
        assert fixed.is_conflicted is False and fixed["conflicts"] == []
        assert await read(mesa, repo.name, "f.txt", change_id=kept.change_id) == b"a\nFIXED\nc\n"

    server.run(body)


async def two_hunk_clash(mesa):
    """A repo whose bookmarks `ours` and `theirs` both edit lines 2 and 6 of `f.txt`: two conflict hunks."""
    repo, base = await seeded(mesa, {"f.txt": "a\nb\nc\nd\ne\nf\n"})
    ours = await mesa.changes.create(
        repo=repo.name, base_change_id=base.id, files=[FileUpsert(path="f.txt", content=b64("a\nB1\nc\nd\ne\nF1\n"))])
    theirs = await mesa.changes.create(
        repo=repo.name, base_change_id=base.id, files=[FileUpsert(path="f.txt", content=b64("a\nB2\nc\nd\ne\nF2\n"))])
    await mesa.bookmarks.create(repo=repo.name, name="ours", change_id=ours.id)
    await mesa.bookmarks.create(repo=repo.name, name="theirs", change_id=theirs.id)
    return repo


def test_hunk_resolutions(server):
    """`bookmarks.merge(resolutions=[HunkResolution(...)])` with the hunk ids of the 409, `changes.patch` with the
    hunk ids of the diff, and `take` of a whole file in `changes.patch`."""
    async def body(mesa):
        repo = await two_hunk_clash(mesa)
        with pytest.raises(ConflictError) as conflict:
            await mesa.bookmarks.merge(repo=repo.name, source="theirs", target="ours")
        details = conflict.value.body.error.details
        assert details["conflict_paths"] == ["f.txt"]
        hunks = details["conflicts"][0]["hunks"]
        assert [unb64(h["target"]["content"]) for h in hunks] == [b"B1\n", b"F1\n"]
        assert [unb64(h["base"]["content"]) for h in hunks] == [b"b\n", b"f\n"]
        assert [unb64(h["source"]["content"]) for h in hunks] == [b"B2\n", b"F2\n"]
        assert [h["old_start"] for h in hunks] == [2, 6]

        # Only one hunk: the conflict stands.
        with pytest.raises(ConflictError):
            await mesa.bookmarks.merge(
                repo=repo.name, source="theirs", target="ours",
                resolutions=[HunkResolution(path="f.txt", hunks=[HunkFix(hunk_id=hunks[0]["hunk_id"], take="target")])])
        merged = await mesa.bookmarks.merge(
            repo=repo.name, source="theirs", target="ours",
            resolutions=[HunkResolution(path="f.txt", hunks=[
                HunkFix(hunk_id=hunks[0]["hunk_id"], take="target"),
                HunkFix(hunk_id=hunks[1]["hunk_id"], content=b64("F1 and F2\n"))])])
        assert merged.is_conflicted is False
        assert await read(mesa, repo.name, "f.txt", change_id=merged.change_id) == b"a\nB1\nc\nd\ne\nF1 and F2\n"

        # A conflicted change, resolved hunk by hunk with the ids its diff names.
        repo = await two_hunk_clash(mesa)
        ours = (await mesa.bookmarks.get(repo=repo.name, bookmark="ours")).change_id
        kept = await mesa.bookmarks.merge(repo=repo.name, source="theirs", target="ours", allow_conflicted=True)
        diff = await mesa.diffs.get(repo=repo.name, base_change_id=ours, head_change_id=kept.change_id)
        ids = [hunk.hunk_id for hunk in diff.conflicted_entries[0].hunks]
        assert len(ids) == 2
        fixed = await mesa.changes.patch(
            repo=repo.name, change_id=kept.change_id,
            resolutions=[HunkResolution(path="f.txt", hunks=[
                HunkFix(hunk_id=ids[0], take="source"), HunkFix(hunk_id=ids[1], take="target")])])
        assert fixed.is_conflicted is False
        assert await read(mesa, repo.name, "f.txt", change_id=kept.change_id) == b"a\nB2\nc\nd\ne\nF1\n"

        # A whole file by side in PATCH: the merge's source (second parent) version.
        repo = await two_hunk_clash(mesa)
        kept = await mesa.bookmarks.merge(repo=repo.name, source="theirs", target="ours", allow_conflicted=True)
        taken = await mesa.changes.patch(
            repo=repo.name, change_id=kept.change_id, resolutions=[WholeFileResolution(path="f.txt", take="source")])
        assert taken.is_conflicted is False
        assert await read(mesa, repo.name, "f.txt", change_id=kept.change_id) == b"a\nB2\nc\nd\ne\nF2\n"

    server.run(body)


def import_git(server, name: str, files: dict[str, str], links: dict[str, str]) -> None:
    """A git repository with `files` and symlinks `links`, imported with `mesa import` (REST writes take no
    symlinks: Mesa's file modes there are 100644 and 100755)."""
    with tempfile.TemporaryDirectory() as work:
        for path, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(work, path)) or work, exist_ok=True)
            with open(os.path.join(work, path), "w") as file:
                file.write(text)
            if text.startswith("#!"):
                os.chmod(os.path.join(work, path), 0o755)
        for path, target in links.items():
            os.symlink(target, os.path.join(work, path))
        git = ["git", "-C", work, "-c", "user.name=t", "-c", "user.email=t@example.com"]
        subprocess.run(["git", "init", "-q", "-b", "main", work], check=True)
        subprocess.run(git + ["add", "-A"], check=True)
        subprocess.run(git + ["commit", "-qm", "imported"], check=True)
        env = dict(os.environ, MESA_API_KEY=server.admin_key, MESA_SERVICE_DOMAIN=server.url, MESA_ORG=ORG)
        subprocess.run(
            [server.binary, "import", work, "--repo", name, "--branch", "main"],
            check=True, env=env, stdout=subprocess.DEVNULL)


def test_content_files_dirs_symlinks(server):
    name = unique("content")
    import_git(
        server, name,
        {"README.md": "read me\n", "src/main.py": "print('hi')\n", "src/tool.sh": "#!/bin/sh\n",
         "src/deep/leaf.txt": "leaf\n"},
        {"link": "src/main.py"})

    async def body(mesa):
        head = (await mesa.repos.get(repo=name)).head_change_id
        file = await mesa.content.get(repo=name, path="src/main.py")
        assert file.is_file() and file.type == "file"
        assert file.name == "main.py" and file.path == "src/main.py"
        assert file.encoding == "base64" and unb64(file.content) == b"print('hi')\n"
        assert file.size == len(b"print('hi')\n") and len(file.sha) == 40
        assert file.mode == "100644"
        assert (await mesa.content.get(repo=name, path="src/tool.sh")).mode == "100755"

        link = await mesa.content.get(repo=name, path="link")
        assert link.is_symlink() and link.mode == "120000" and unb64(link.content) == b"src/main.py"

        root = await mesa.content.get(repo=name, change_id=head)
        assert root.is_dir() and root.path == ""
        assert sorted(entry.name for entry in root.entries) == ["README.md", "link", "src"]
        assert root.child_count == 3
        assert {entry.name: entry.type_ for entry in root.entries}["link"] == "symlink"
        src = await mesa.content.get(repo=name, path="src", depth=2)
        assert src.is_dir() and src.name == "src"
        paths = sorted(entry.path for entry in src.entries)
        assert "src/main.py" in paths and "src/deep/leaf.txt" in paths
        types = {entry.path: entry.type_ for entry in src.entries}
        assert types["src/deep"] == "dir" and types["src/main.py"] == "file"
        shallow = await mesa.content.get(repo=name, path="src", depth=1)
        assert "src/deep/leaf.txt" not in [entry.path for entry in shallow.entries]

        # Raw bytes with `Accept: application/octet-stream`; a directory then is a 406 with Mesa's error body.
        http = mesa._client.get_async_httpx_client()
        raw = await http.get(f"/{ORG}/{name}/content", params={"path": "src/main.py"},
                             headers={"Accept": "application/octet-stream"})
        assert raw.status_code == 200 and raw.content == b"print('hi')\n"
        directory = await http.get(f"/{ORG}/{name}/content", params={"path": "src"},
                                   headers={"Accept": "application/octet-stream"})
        assert directory.status_code == 406 and directory.json()["error"]["code"]

        with pytest.raises(NotFoundError):
            await mesa.content.get(repo=name, path="missing.txt")
        with pytest.raises(ValidationError):
            await mesa.content.get(repo=name, path="src", depth=11)

    server.run(body)


def test_diffs_json_and_text(server):
    async def body(mesa):
        repo, base = await seeded(mesa, {"a.txt": "one\ntwo\nthree\n", "b.txt": "bee\n"})
        head = await mesa.changes.create(
            repo=repo.name, base_change_id=base.id,
            files=[
                FileUpsert(path="a.txt", content=b64("one\nTWO\nthree\n")),
                FileDelete(path="b.txt"),
                FileUpsert(path="c.txt", content=b64("sea\n")),
            ])
        diff = await mesa.diffs.get(repo=repo.name, base_change_id=base.id, head_change_id=head.id)
        assert diff.base_change_id == base.id and diff.head_change_id == head.id
        assert diff.truncated is False and diff.conflicted_entries == []
        statuses = {entry.path: entry.status for entry in diff.entries}
        assert statuses == {"a.txt": "modified", "b.txt": "deleted", "c.txt": "added"}
        assert diff.stats.entries == 3
        assert diff.stats.additions == 2 and diff.stats.deletions == 2
        a = next(entry for entry in diff.entries if entry.path == "a.txt")
        lines = [(line.kind, line.text) for hunk in a.hunks for line in hunk.lines]
        assert ("deleted", "two") in lines and ("added", "TWO") in lines

        # `Accept: text/plain` gives a unified diff, through the SDK's HTTP client.
        http = mesa._client.get_async_httpx_client()
        response = await http.get(
            f"/{ORG}/{repo.name}/diff", params={"base_change_id": base.id, "head_change_id": head.id},
            headers={"Accept": "text/plain"})
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        assert "--- a/a.txt" in response.text and "+++ b/a.txt" in response.text
        assert "-two" in response.text and "+TWO" in response.text
        assert "+++ b/c.txt" in response.text

        with pytest.raises(NotFoundError):
            await mesa.diffs.get(repo=repo.name, base_change_id=base.id, head_change_id="k" * 32)

    server.run(body)
