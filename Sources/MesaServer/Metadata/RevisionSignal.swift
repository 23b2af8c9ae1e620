import Synchronization

// Long-polling resolves (docs/Protocol.md, "Waiting for a move"): every write of a repo's change and bookmark tables
// bumps the repo's version and wakes the resolves waiting on it, which then resolve again. Versions live in memory:
// a restart loses them, and a waiting client simply asks again.

/// Per-repo versions of the change and bookmark tables, and the resolves waiting for the next one.
package final class RevisionSignal: Sendable {
    private struct State {
        var versions: [String: UInt64] = [:]
        var waiters: [String: [UInt64: CheckedContinuation<Void, Never>]] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    package init() {}

    /// The repo's current version (0 until its first write in this process).
    package func version(of repoID: String) -> UInt64 { state.withLock { $0.versions[repoID] ?? 0 } }

    /// Records a write of the repo's changes or bookmarks and wakes every resolve waiting on it.
    package func bump(_ repoID: String) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.versions[repoID, default: 0] += 1
            return Array((state.waiters.removeValue(forKey: repoID) ?? [:]).values)
        }
        for continuation in woken { continuation.resume() }
    }

    /// Returns once the repo's version is past `version`, after `timeout`, or when the task is cancelled (the
    /// client went away), whichever comes first.
    package func wait(for repoID: String, after version: UInt64, timeout: Duration) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            self.wake(repoID, id)
        }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let moved = state.withLock { state -> Bool in
                    if state.versions[repoID] ?? 0 != version || Task.isCancelled { return true }
                    state.waiters[repoID, default: [:]][id] = continuation
                    return false
                }
                if moved { continuation.resume() }
            }
        } onCancel: {
            self.wake(repoID, id)
        }
    }

    /// Resumes one waiter, if it still waits. Each path that resumes takes the continuation out under the lock, so
    /// it is resumed exactly once.
    private func wake(_ repoID: String, _ id: UInt64) {
        let continuation = state.withLock { $0.waiters[repoID]?.removeValue(forKey: id) }
        continuation?.resume()
    }
}
