import Foundation
import HTTPTypes
import Hummingbird
import MesaCore
import MesaStore
import MesaTree
import MesaWire

/// Changes, bookmarks (with merge) and content of a repo.
enum ChangeRoutes {
    static func register(on group: RouterGroup<MesaRequestContext>, services: ServerServices) {
        // Changes.
        group.get(":org/:repo/changes") { request, context in
            let (repo, org) = try await RepoRoutes.resolve(context, services: services, scope: .read)
            let limit = try RouteSupport.limit(request)
            let bookmark = try RouteSupport.query(request, "bookmark")
            let cursor = try RouteSupport.query(request, "cursor")
            let page = try await services.blocking {
                try RepoOperations(services: services, repo: repo, org: org).listChanges(
                    bookmark: bookmark, limit: limit, cursor: cursor)
            }
            return try JSONResponse.make(Page(items: page.items, nextCursor: page.next, itemsKey: "changes"))
        }

        group.post(":org/:repo/changes") { request, context in
            let (repo, org) = try await RepoRoutes.resolve(context, services: services, scope: .write)
            let principal = try context.caller()
            let body = try await RouteSupport.decode(CreateChangeRequest.self, from: request, context: context)
            let change = try await services.blocking {
                try RepoOperations(services: services, repo: repo, org: org).createChange(body, principal: principal)
            }
            return try JSONResponse.make(change, status: .created)
        }

        group.get(":org/:repo/changes/:change") { _, context in
            let (repo, org) = try await RepoRoutes.resolve(context, services: services, scope: .read)
            let id = try RepoOperations.changeID(try context.segment("change"))
            let change = try await services.blocking {
                try RepoOperations(services: services, repo: repo, org: org).changeJSON(id, full: true)
            }
            return try JSONResponse.make(change)
        }

        group.patch(":org/:repo/changes/:change") { request, context in
            let (repo, org) = try await RepoRoutes.resolve(context, services: services, scope: .write)
            let principal = try context.caller()
            let id = try RepoOperations.changeID(try context.segment("change"))
            let body = try await RouteSupport.decode(UpdateChangeRequest.self, from: request, context: context)
            let change = try await services.blocking {
                try RepoOperations(services: services, repo: repo, org: org).updateChange(id, body, principal: principal)
            }
            return try JSONResponse.make(change)
        }

        // Bookmarks.
        group.get(":org/:repo/bookmarks") { request, context in
            let (repo, org) = try await RepoRoutes.resolve(context, services: services, scope: .read)
            let limit = try RouteSupport.limit(request)
            let glob = try RouteSupport.query(request, "glob")
            let after = try RouteSupport.nameCursor(request, validate: RouteSupport.validateBookmarkName)
            let page = try await services.blocking { () throws -> (items: [MesaWire.Bookmark], next: String?) in
                let operations = try RepoOperations(services: services, repo: repo, org: org)
                // The catalog lists bookmarks by name in byte order (SQLite's), the order the cursor continues in.
                let matching = try operations.catalog.bookmarks().filter { bookmark in
                    (after.map { Array($0.utf8).lexicographicallyPrecedes(bookmark.name.utf8) } ?? true)
                        && (glob.map { fnmatch($0, bookmark.name, 0) == 0 } ?? true)
                }
                let page = matching.prefix(limit)
                return (page.map(operations.bookmarkJSON), matching.count > limit ? page.last?.name : nil)
            }
            let next = page.next.map(RouteSupport.nameCursor(after:))
            return try JSONResponse.make(Page(items: page.items, nextCursor: next, itemsKey: "bookmarks"))
        }

        group.post(":org/:repo/bookmarks") { request, context in
            let (repo, org) = try await RepoRoutes.resolve(context, services: services, scope: .write)
            let body = try await RouteSupport.decode(CreateBookmarkRequest.self, from: request, context: context)
            try RouteSupport.validateBookmarkName(body.name)
            let change = try RepoOperations.changeID(body.changeID)
            let bookmark = try await services.blocking { () throws -> MesaWire.Bookmark in
                let operations = try RepoOperations(services: services, repo: repo, org: org)
                do {
                    try operations.repository.setBookmark(body.name, to: change, expected: .absent)
                } catch TreeError.staleBookmark {
                    throw APIError.conflict("bookmark '\(body.name)' already exists")
                }
                return operations.bookmarkJSON(MesaTree.Bookmark(name: body.name, change: change))
            }
            return try JSONResponse.make(bookmark, status: .created)
        }

        group.post(":org/:repo/bookmarks/merge") { request, context in
            let (repo, org) = try await RepoRoutes.resolve(context, services: services, scope: .write)
            let principal = try context.caller()
            let body = try await RouteSupport.decode(MergeRequest.self, from: request, context: context)
            let result = try await services.blocking {
                try RepoOperations(services: services, repo: repo, org: org).merge(body, principal: principal)
            }
            return try JSONResponse.make(result)
        }

        group.get(":org/:repo/bookmarks/:bookmark") { _, context in
            let (repo, org) = try await RepoRoutes.resolve(context, services: services, scope: .read)
            let name = try context.segment("bookmark")
            let bookmark = try await services.blocking { () throws -> MesaWire.Bookmark in
                let operations = try RepoOperations(services: services, repo: repo, org: org)
                return operations.bookmarkJSON(MesaTree.Bookmark(name: name, change: try operations.bookmarkTarget(name)))
            }
            return try JSONResponse.make(bookmark)
        }

        group.patch(":org/:repo/bookmarks/:bookmark") { request, context in
            let (repo, org) = try await RepoRoutes.resolve(context, services: services, scope: .write)
            let name = try context.segment("bookmark")
            let body = try await RouteSupport.decode(MoveBookmarkRequest.self, from: request, context: context)
            let change = try RepoOperations.changeID(body.changeID)
            let moved = try await services.blocking { () throws -> MovedBookmark in
                let operations = try RepoOperations(services: services, repo: repo, org: org)
                let current = try operations.bookmarkTarget(name)
                _ = try operations.repository.change(change)
                if body.allowBackwards != true, !(try operations.isAncestor(current, of: change)) {
                    throw APIError.conflict(
                        "moving '\(name)' from \(current) to \(change) does not advance history; pass allow_backwards",
                        code: "NON_FAST_FORWARD")
                }
                try operations.repository.setBookmark(name, to: change, expected: .equal(current))
                return MovedBookmark(
                    bookmark: operations.bookmarkJSON(MesaTree.Bookmark(name: name, change: change)),
                    fromChangeID: current.description)
            }
            return try JSONResponse.make(moved)
        }

        group.delete(":org/:repo/bookmarks/:bookmark") { _, context in
            let (repo, org) = try await RepoRoutes.resolve(context, services: services, scope: .write)
            let name = try context.segment("bookmark")
            guard name != repo.defaultBookmark else {
                throw APIError.badRequest("'\(name)' is the default bookmark; make another the default first")
            }
            try await services.blocking {
                try services.metadata.catalog(repoID: repo.id).deleteBookmark(named: name, expected: .any)
                _ = org
            }
            return try JSONResponse.make(SuccessResponse())
        }

        // Diff.
        group.get(":org/:repo/diff") { request, context in
            let (repo, org) = try await RepoRoutes.resolve(context, services: services, scope: .read)
            let base = try RouteSupport.query(request, "base_change_id")
            let head = try RouteSupport.query(request, "head_change_id")
            let conflicts = try RouteSupport.query(request, "conflicts") ?? "include"
            let text = request.headers[.accept]?.contains("text/plain") == true
            let answer = try await services.blocking { () throws -> (Diff?, String?) in
                let operations = try RepoOperations(services: services, repo: repo, org: org)
                let ends = try operations.diffEnds(base: base, head: head)
                if text { return (nil, try operations.diffText(base: ends.base, head: ends.head)) }
                return (try operations.diff(base: ends.base, head: ends.head, conflicts: conflicts), nil)
            }
            if let diff = answer.0 { return try JSONResponse.make(diff) }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer.1 ?? "")))
        }

        // Content.
        group.get(":org/:repo/content") { request, context in
            let (repo, org) = try await RepoRoutes.resolve(context, services: services, scope: .read)
            let path = try RouteSupport.query(request, "path") ?? ""
            let depthText = try RouteSupport.query(request, "depth") ?? "1"
            guard let depth = Int(depthText), (0...10).contains(depth) else {
                throw APIError.badRequest("depth must be a whole number from 0 to 10")
            }
            let changeText = try RouteSupport.query(request, "change_id")
            let raw = request.headers[.accept]?.contains("application/octet-stream") == true
            let result = try await services.blocking { () throws -> RepoOperations.ContentResult in
                let operations = try RepoOperations(services: services, repo: repo, org: org)
                let change = try changeText.map(RepoOperations.changeID) ?? operations.headChange()
                return try operations.content(change: change, path: path, depth: max(depth, 1), raw: raw)
            }
            switch result {
            case .entry(let entry):
                return try JSONResponse.make(entry)
            case .raw(let manifest):
                var headers = HTTPFields()
                headers[.contentType] = "application/octet-stream"
                // Stream the file a few chunks at a time, so a large file never sits whole in memory.
                let store = services.store
                let body = ResponseBody(contentLength: Int(manifest.size)) { writer in
                    var index = 0
                    while index < manifest.chunks.count {
                        let batch = manifest.chunks[index..<min(manifest.chunks.count, index + 16)]
                        let bytes = try await services.blocking {
                            try batch.flatMap { try store.chunk($0.id) }
                        }
                        try await writer.write(ByteBuffer(bytes: bytes))
                        index += batch.count
                    }
                    try await writer.finish(nil)
                }
                return Response(status: .ok, headers: headers, body: body)
            }
        }
    }
}
