import Foundation
package import MesaCore
package import MesaStore
package import MesaSync
package import MesaTree

/// A repository's files described in code (eden's `FakeTreeBuilder`): paths to contents.
package struct FixtureTree: Sendable {
    /// One file.
    package enum Node: Sendable, Hashable {
        /// A regular file.
        case file([UInt8])
        /// An executable file.
        case executable([UInt8])
        /// A symbolic link to a target.
        case symlink(String)

        /// A regular file holding text.
        package static func text(_ text: String) -> Node { .file(Array(text.utf8)) }
    }

    /// Files by slash-separated path; directories are implied.
    package var files: [String: Node]

    /// Creates a tree.
    package init(_ files: [String: Node] = [:]) { self.files = files }

    /// The file at a path.
    package subscript(_ path: String) -> Node? {
        get { files[path] }
        set { files[path] = newValue }
    }

    /// The edits that write these files into a tree (blobs are stored as they are listed).
    package func edits(in repository: MesaRepository) throws -> [TreeEdit] {
        try files.keys.sorted().map { path in
            switch files[path] {
            case .file(let bytes): .upsert(path: path, blob: try repository.writeBlob(bytes), mode: .regular)
            case .executable(let bytes): .upsert(path: path, blob: try repository.writeBlob(bytes), mode: .executable)
            case .symlink(let target):
                .upsert(path: path, blob: try repository.writeBlob(Array(target.utf8)), mode: .symlink)
            case nil: .delete(path: path)
            }
        }
    }
}

/// A repository in a temporary store holding a ``FixtureTree`` as change on bookmark `main`, which tests can
/// evolve (a "push by another client").
package final class FixtureRepository: Sendable {
    /// The store's directory.
    package let directory: TemporaryDirectory
    /// The store.
    package let store: ContentStore
    /// The repository.
    package let repository: MesaRepository
    /// The change bookmark `main` points at.
    package let change: ChangeID

    /// Stores `tree` as the first change, committed at `time`.
    package init(_ tree: FixtureTree, time: Int64 = 1_700_000_000) throws {
        directory = try TemporaryDirectory(prefix: "mesa-fixture")
        store = try ContentStore(path: directory.appending("store"))
        repository = try MesaRepository(store: store)
        let record = try repository.createChange(
            parents: [], edits: try tree.edits(in: repository), message: "fixture\n",
            author: Signature(name: "Fixture", email: "fixture@example.com", time: time))
        try repository.setBookmark("main", to: record.id)
        change = record.id
    }

    /// Evolves the change: writes `upserts`, deletes `deletions`, committed at `time`.
    package func evolve(upserting upserts: FixtureTree = FixtureTree(), deleting deletions: [String] = [], time: Int64)
        throws
    {
        let edits = try upserts.edits(in: repository) + deletions.map { TreeEdit.delete(path: $0) }
        _ = try repository.evolveChange(
            change, edits: edits, committer: Signature(name: "Fixture", email: "fixture@example.com", time: time))
    }

    /// The resolution of bookmark `main` now.
    package func resolution() throws -> Resolution {
        try StoreObjectSource.resolve(.defaultBookmark, in: repository, defaultBookmark: "main")
    }

    /// A local object source over the repository.
    package func localSource(configuration: SourceConfiguration = .default) -> StoreObjectSource {
        StoreObjectSource.local(repository, configuration: configuration)
    }
}
