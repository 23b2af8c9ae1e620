import Foundation
import MesaTesting
import Testing

/// A real `mesa serve` process driven with `curl`, as a user of the documented REST API would.
@Suite(.serialized) struct CurlEndToEndTests {
    let server: ServerProcess

    init() throws { server = try ServerProcess() }

    /// Runs curl against the server; returns the HTTP status and the body.
    private func curl(
        _ method: String, _ path: String, json: String? = nil, accept: String? = nil, credential: String? = nil
    ) throws -> (status: Int, body: String) {
        let scratch = try TemporaryDirectory(prefix: "mesa-e2e-curl")
        var command = "curl -s -o \(scratch.appending("out")) -w '%{http_code}' -X \(method)"
        command += " -H 'Authorization: Bearer \(credential ?? server.adminKey)'"
        if let accept { command += " -H 'Accept: \(accept)'" }
        if let json {
            try json.write(toFile: scratch.appending("in.json"), atomically: true, encoding: .utf8)
            command += " -H 'Content-Type: application/json' --data-binary @\(scratch.appending("in.json"))"
        }
        command += " '\(server.url)/v1\(path)'"
        let result = try Shell.run(command)
        let body = (try? String(contentsOfFile: scratch.appending("out"), encoding: .utf8)) ?? ""
        return (Int(result.output) ?? 0, body)
    }

    private func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    private func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    @Test func aUserCreatesReadsEvolvesMergesAndDiffsWithCurl() throws {
        #expect(try curl("POST", "/local/repos", json: #"{"name":"app"}"#).status == 201)
        let root = String(repeating: "z", count: 32)
        let created = try curl(
            "POST", "/local/app/changes",
            json: #"{"base_change_id":"\#(root)","message":"init","files":[{"path":"src/main.c","content":"\#(base64("int main;\n"))"},{"path":"notes.txt","content":"\#(base64("a\nb\nc\n"))"}]}"#)
        #expect(created.status == 201, "\(created.body)")
        let first = try object(created.body)
        let firstID = try #require(first["id"] as? String)

        // Content as JSON and raw.
        let json = try object(try curl("GET", "/local/app/content?path=src/main.c").body)
        #expect(json["content"] as? String == base64("int main;\n"))
        #expect(try curl("GET", "/local/app/content?path=src/main.c", accept: "application/octet-stream").body == "int main;\n")
        #expect(try curl("GET", "/local/app/content?path=src", accept: "application/octet-stream").status == 406)

        // Patch evolves the change: same id, new commit.
        let patched = try curl(
            "PATCH", "/local/app/changes/\(firstID)",
            json: #"{"message":"init (fixed)","files":[{"path":"notes.txt","content":"\#(base64("a\nB\nc\n"))"}]}"#)
        #expect(patched.status == 200, "\(patched.body)")
        let evolved = try object(patched.body)
        #expect(evolved["id"] as? String == firstID)
        #expect(evolved["current_commit_oid"] as? String != first["current_commit_oid"] as? String)
        #expect(evolved["message"] as? String == "init (fixed)")

        // Two branches from the first change: one edits line 1, the other line 3 (clean), a third edits line 2 too.
        func change(_ base: String, _ text: String) throws -> String {
            let reply = try curl(
                "POST", "/local/app/changes",
                json: #"{"base_change_id":"\#(base)","files":[{"path":"notes.txt","content":"\#(base64(text))"}]}"#)
            return try #require(try object(reply.body)["id"] as? String)
        }
        let left = try change(firstID, "A\nB\nc\n")
        let right = try change(firstID, "a\nB\nC\n")
        let clash = try change(firstID, "a\nX\nc\n")
        for (name, target) in [("left", left), ("right", right), ("clash", clash)] {
            #expect(try curl("POST", "/local/app/bookmarks", json: #"{"name":"\#(name)","change_id":"\#(target)"}"#).status == 201)
        }
        // A slash in a bookmark name travels percent-encoded.
        #expect(try curl("POST", "/local/app/bookmarks", json: #"{"name":"feat/x","change_id":"\#(left)"}"#).status == 201)
        #expect(try object(try curl("GET", "/local/app/bookmarks/feat%2Fx").body)["change_id"] as? String == left)

        let clean = try curl("POST", "/local/app/bookmarks/merge", json: #"{"target":"left","source":"right"}"#)
        #expect(clean.status == 200, "\(clean.body)")
        let merged = try object(clean.body)
        #expect(merged["merge_type"] as? String == "merge_commit")
        #expect(merged["is_conflicted"] as? Bool == false)
        #expect(try curl("GET", "/local/app/content?path=notes.txt&change_id=\(merged["change_id"] as? String ?? "")",
            accept: "application/octet-stream").body == "A\nB\nC\n")
        // Merging again is a no-op.
        #expect(try object(try curl("POST", "/local/app/bookmarks/merge", json: #"{"target":"left","source":"right"}"#).body)["merge_type"] as? String == "no_op")

        let conflicting = try curl("POST", "/local/app/bookmarks/merge", json: #"{"target":"left","source":"clash"}"#)
        #expect(conflicting.status == 409)
        let error = try #require(try object(conflicting.body)["error"] as? [String: Any])
        #expect(error["code"] as? String == "MERGE_CONFLICT")
        #expect((error["details"] as? [String: Any])?["conflict_paths"] as? [String] == ["notes.txt"])
        // Nothing moved.
        #expect(try object(try curl("GET", "/local/app/bookmarks/left").body)["change_id"] as? String == merged["change_id"] as? String)

        // Diff between the first change and the clean merge, as JSON and as a unified diff.
        let mergedID = merged["change_id"] as? String ?? ""
        let diff = try object(try curl("GET", "/local/app/diff?base_change_id=\(firstID)&head_change_id=\(mergedID)").body)
        let entries = try #require(diff["entries"] as? [[String: Any]])
        #expect(entries.map { $0["path"] as? String } == ["notes.txt"])
        #expect(entries.first?["status"] as? String == "modified")
        let stats = try #require(diff["stats"] as? [String: Any])
        #expect(stats["additions"] as? Int == 2 && stats["deletions"] as? Int == 2)
        let unified = try curl("GET", "/local/app/diff?base_change_id=\(firstID)&head_change_id=\(mergedID)", accept: "text/plain")
        #expect(unified.body.contains("--- a/notes.txt") && unified.body.contains("+A") && unified.body.contains("-a"))

        // A conflicting merge kept with allow_conflicted: the change is conflicted, and the diff lists the path only
        // under conflicted_entries, with both sides.
        let kept = try object(try curl(
            "POST", "/local/app/bookmarks/merge", json: #"{"target":"right","source":"clash","allow_conflicted":true}"#).body)
        #expect(kept["is_conflicted"] as? Bool == true)
        let conflictedChange = try object(try curl("GET", "/local/app/changes/\(kept["change_id"] as? String ?? "")").body)
        #expect(conflictedChange["conflicts"] as? [String] == ["notes.txt"])
        let conflictDiff = try object(try curl("GET", "/local/app/diff?head_change_id=\(kept["change_id"] as? String ?? "")").body)
        #expect((conflictDiff["entries"] as? [[String: Any]])?.contains { $0["path"] as? String == "notes.txt" } == false)
        let conflictedEntries = try #require(conflictDiff["conflicted_entries"] as? [[String: Any]])
        #expect(conflictedEntries.first?["path"] as? String == "notes.txt")
        let hunk = try #require((conflictedEntries.first?["hunks"] as? [[String: Any]])?.first)
        // right edits line 3, clash line 2: adjacent edits form one conflict region, as in git.
        #expect((hunk["target"] as? [String: Any])?["content"] as? String == base64("B\nC\n"))
        #expect((hunk["source"] as? [String: Any])?["content"] as? String == base64("X\nc\n"))

        // Moving backwards needs allow_backwards.
        #expect(try curl("PATCH", "/local/app/bookmarks/left", json: #"{"change_id":"\#(firstID)"}"#).status == 409)
        let back = try curl("PATCH", "/local/app/bookmarks/left", json: #"{"change_id":"\#(firstID)","allow_backwards":true}"#)
        #expect(try object(back.body)["from_change_id"] as? String == merged["change_id"] as? String)
    }

    /// A conditional resolve with `wait_ms` is held while nothing moves and answered as soon as something does: a
    /// REST commit half a second later wakes it (well before its 10 s), and with nothing moving it is a 304 after the
    /// wait.
    @Test func aWaitingResolveAnswersWhenTheChangeMoves() throws {
        #expect(try curl("POST", "/local/repos", json: #"{"name":"watched"}"#).status == 201)
        let root = String(repeating: "z", count: 32)
        let created = try curl(
            "POST", "/local/watched/changes",
            json: #"{"base_change_id":"\#(root)","message":"init","files":[{"path":"a.txt","content":"\#(base64("a\n"))"}]}"#)
        let change = try #require(try object(created.body)["id"] as? String)
        let scratch = try TemporaryDirectory(prefix: "mesa-e2e-wait")
        func resolve(_ tag: String?, waitMilliseconds: Int) -> String {
            "curl -s -D '\(scratch.appending("headers"))' -o '\(scratch.appending("body"))' -w '%{http_code} %{time_total}' -X POST "
                + "-H 'Authorization: Bearer \(server.adminKey)' -H 'Content-Type: application/json' "
                + (tag.map { "-H 'If-None-Match: \($0)' " } ?? "")
                + #"--data '{"revisions":["change-id:\#(change)"],"wait_ms":\#(waitMilliseconds)}' "#
                + "'\(server.url)/v1/local/watched/sync/resolve'"
        }
        func etag() throws -> String {
            let headers = try String(contentsOfFile: scratch.appending("headers"), encoding: .utf8)
            let line = try #require(headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("etag:") })
            return line.dropFirst(5).trimmingCharacters(in: .whitespaces)
        }
        #expect(try Shell.run(resolve(nil, waitMilliseconds: 10_000)).output.hasPrefix("200 "))  // no tag: at once
        let tag = try etag()

        let waiting = Process()
        waiting.executableURL = URL(fileURLWithPath: "/bin/sh")
        waiting.arguments = ["-c", resolve(tag, waitMilliseconds: 10_000)]
        let output = Pipe()
        waiting.standardOutput = output
        try waiting.run()
        Thread.sleep(forTimeInterval: 0.5)
        let moved = try curl(
            "PATCH", "/local/watched/changes/\(change)",
            json: #"{"files":[{"path":"a.txt","content":"\#(base64("b\n"))"}]}"#)
        #expect(moved.status == 200, "\(moved.body)")
        waiting.waitUntilExit()
        let answer = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: " ")
        #expect(answer.first == "200")
        let seconds = Double(answer.last ?? "") ?? 99
        #expect(seconds >= 0.4 && seconds < 5, "held \(seconds) s")
        let body = try String(contentsOfFile: scratch.appending("body"), encoding: .utf8)
        #expect(body.contains(try #require(try object(moved.body)["current_commit_oid"] as? String)))

        // Nothing moves: 304 once the wait is over.
        let quiet = try Shell.run(resolve(try etag(), waitMilliseconds: 1000)).output.split(separator: " ")
        #expect(quiet.first == "304")
        #expect((Double(quiet.last ?? "") ?? 0) >= 0.9)
    }

    @Test func refusalsCarryMesasErrorBody() throws {
        let unauthenticated = try curl("GET", "/whoami", credential: "nope")
        #expect(unauthenticated.status == 401)
        #expect(try object(unauthenticated.body)["error"] != nil)
        let missing = try curl("GET", "/local/no-such-repo")
        #expect(missing.status == 404)
        #expect(((try object(missing.body)["error"] as? [String: Any])?["code"] as? String) == "NOT_FOUND")
    }
}
